"""Procedural desk-surface albedo textures (linear light, float32): wood, cloth, stone, laminate, a pile of
paper sheets and a laptop keyboard.

Every texture function returns colour planes R, G, B (each float32 (height, width)): linear albedo in about
[0, 1] (the surface's diffuse reflectance) times the illumination field it is given. Sizes are in frame
pixels; `mm_px` is the desk's pixels per millimetre. The noise and drawing primitives are in
capture_sim.scene.textures.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.scene.textures import (
    F32,
    Colour,
    Planes,
    affine,
    compose,
    f32,
    fbm_noise,
    ramp,
    random_line,
    rounded_rect,
    text_mask,
)


def _toward(base: Colour, colour: Colour, amount: float) -> list[float]:
    """The colour a fraction `amount` of the way from base to colour (a layer weight folded into its
    colour)."""
    return [float(b + amount * (c - b)) for b, c in zip(base, colour, strict=True)]


def _scaled(colour: Colour, factor: float, power: float = 1.0) -> list[float]:
    """A colour darkened by factor and made more saturated by raising it to power (as thicker pigment
    does)."""
    return [float(np.clip(factor * c**power, 0.0, 1.0)) for c in colour]


def wood(rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32) -> Planes:
    """Flat-sawn wood: growth rings as warped sinusoids (dark late wood), pore streaks, figure, optional plank
    seams.

    scale is the ring spacing across the grain in pixels; illum (H, W) multiplies the result.
    """
    h, w = illum.shape
    along_x = bool(rng.random() < 0.5)

    def aniso(across: float, along: float) -> tuple[float, float]:
        return (across, along) if along_x else (along, across)

    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    across, along = (y, x) if along_x else (x, y)
    phase = affine(fbm_noise(rng, h, w, aniso(scale * 3.0, scale * 25.0), 3), 0.3, 0.0)  # in rings
    scratch = fbm_noise(rng, h, w, aniso(scale * 10.0, scale * 80.0), 2)
    cv2.scaleAdd(scratch, 2.0, phase, dst=phase)
    phase += along * np.float32(np.tan(np.deg2rad(rng.uniform(-4.0, 4.0))) / scale)
    ring_index = across / np.float32(scale)
    seams = np.ones_like(across)
    if rng.random() < 0.5:  # planks: each its own ring phase and shade, dark anti-aliased seams between them
        plank = np.float32(scale * rng.uniform(5.0, 12.0))
        index = np.floor(across / plank).astype(np.int64)
        ring_index = ring_index + rng.uniform(0, 50, int(index.max()) + 1).astype(np.float32)[index]
        seams = np.float32(1.0) - np.float32(0.45) * np.clip(
            np.float32(1.6) - np.abs(across - plank * np.round(across / plank)), 0.0, 1.0
        )
        seams *= (1.0 + 0.08 * rng.standard_normal(int(index.max()) + 1)).astype(np.float32)[index]
    phase += ring_index
    late = np.cos(affine(phase, 2 * np.pi, 0.0), out=phase)
    affine(late, 0.5, 0.5)
    np.square(late, out=late)
    np.square(late, out=late)  # ((1 + cos) / 2)^4: a narrow dark late-wood band once per ring
    pores = ramp(fbm_noise(rng, h, w, aniso(1.6, scale * 1.5), 2, out=scratch), 1.0, 2.6)
    cv2.addWeighted(late, min(1.0, 1.6 * contrast), pores, min(1.0, 1.2 * contrast), 0.0, dst=late)
    light = affine(fbm_noise(rng, h, w, aniso(scale * 3.0, scale * 25.0), 2, out=pores), 0.25 * contrast, 1.0)
    light *= seams
    light *= illum
    return compose(base, [(late, _scaled(base, 0.55, 1.35))], light)


def fabric(rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32) -> Planes:
    """Plain-weave cloth: warp and weft threads (pitch `scale` px) crossing over and under each other, gently
    draped.

    Each thread shows as a strand bright along its axis where it lies on top, dark in the gaps between
    threads."""
    h, w = illum.shape
    pitch = max(scale, 3.0)
    angle = np.deg2rad(rng.uniform(-10.0, 10.0))
    c, s = np.float32(np.cos(angle) * np.pi / pitch), np.float32(np.sin(angle) * np.pi / pitch)
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    drape = float(np.pi * rng.uniform(0.3, 0.8))
    u = affine(fbm_noise(rng, h, w, pitch * 12.0, 2), drape, 0.0)
    u += x * c
    u += y * s
    v = affine(fbm_noise(rng, h, w, pitch * 12.0, 2), drape, 0.0)
    v += y * c
    v -= x * s
    cu, cv = np.cos(u, out=u), np.cos(v, out=v)
    warp_top = ramp(f32(cv2.multiply(cu, cv)), -1 / 6, 1 / 6)  # cu * cv > 0 where a warp thread lies on top
    strand = np.abs(cu, out=cu)
    across_weft = np.abs(cv, out=cv)
    strand -= across_weft
    strand *= warp_top
    strand += across_weft  # |cos| across whichever thread is on top
    slub = fbm_noise(rng, h, w, (pitch * 18.0, pitch * 0.8), 2, out=across_weft)
    slub_weft = fbm_noise(rng, h, w, (pitch * 0.8, pitch * 18.0), 2)
    slub -= slub_weft
    slub *= warp_top
    slub += slub_weft
    light = affine(strand, 0.5 * contrast + 0.15, 1.0 - 0.5 * contrast)
    cv2.scaleAdd(slub, 0.25 * contrast, light, dst=light)
    cv2.scaleAdd(fbm_noise(rng, h, w, pitch * 40.0, 2, out=slub), 0.06, light, dst=light)
    light *= illum
    grey = float(np.mean(base))
    weft = [float(np.clip(grey + (b - grey) * rng.uniform(0.0, 1.0), 0, 1) * rng.uniform(0.8, 1.5)) for b in base]
    return compose(base, [(affine(warp_top, -1.0, 1.0), weft)], light, [slub_weft])


def stone(rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32) -> Planes:
    """Granite (dark and light mineral grains of size `scale` px in a matrix) or marble (veins in cloudy
    stone)."""
    h, w = illum.shape
    light = affine(fbm_noise(rng, h, w, scale * 25.0, 3), 0.12 * contrast, 1.0)
    light *= illum
    if rng.random() < 0.65:
        dark = ramp(fbm_noise(rng, h, w, scale, 2), 0.7, 1.3)
        pale = ramp(fbm_noise(rng, h, w, scale * 1.4, 2), 1.0, 1.6)
        tint = rng.uniform(0.9, 1.1, 3)
        pale_col = [float(np.clip(min(0.9, 2.2 * b) * t, 0, 0.9)) for b, t in zip(base, tint, strict=True)]
        amount = min(1.0, 2.0 * contrast)
        layers = [
            (dark, _toward(base, _scaled(base, 0.18, 1.2), amount)),
            (pale, _toward(base, pale_col, amount)),
        ]
        return compose(base, layers, light)
    angle = rng.uniform(0, np.pi)
    period = scale * rng.uniform(15.0, 40.0)
    c, s = np.float32(np.cos(angle) * np.pi / period), np.float32(np.sin(angle) * np.pi / period)
    vein = affine(fbm_noise(rng, h, w, period * 2.0, 4), 1.0, 0.0)
    vein += np.arange(w, dtype=np.float32)[None, :] * c
    vein += np.arange(h, dtype=np.float32)[:, None] * s
    np.sin(vein, out=vein)
    np.square(vein, out=vein)
    vein = np.exp(affine(vein, -1.0 / 0.004, 0.0), out=vein)  # thin veins where the warped sine crosses zero
    vein_col = _scaled(base, 0.45, 1.3) if float(np.mean(base)) > 0.15 else [min(0.8, 6.0 * b) for b in base]
    return compose(base, [(vein, _toward(base, vein_col, min(1.0, 1.3 * contrast)))], light)


def plain_desk(rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32) -> Planes:
    """Laminate: smooth albedo with faint mottling and wear; sometimes the desk's edge with the floor
    beyond."""
    h, w = illum.shape
    light = affine(fbm_noise(rng, h, w, scale, 3), 0.12 * contrast, 1.0)
    cv2.scaleAdd(fbm_noise(rng, h, w, 3.0, 1), 0.03 * contrast, light, dst=light)
    light *= illum
    layers: list[tuple[F32, Colour]] = []
    if rng.random() < 0.35:  # the desk ends inside the frame: a rounded lighter edge, then the darker floor
        angle = rng.uniform(0, 2 * np.pi)
        nx, ny = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        reach = 0.5 * abs(w * nx) + 0.5 * abs(h * ny)
        dist = (np.arange(w, dtype=np.float32)[None, :] - w / 2) * nx + (
            np.arange(h, dtype=np.float32)[:, None] - h / 2
        ) * ny
        dist -= np.float32(reach * rng.uniform(0.75, 0.95))
        edge_w = max(2.0, scale * 0.04)
        edge = np.clip(affine(np.abs(dist + np.float32(edge_w)), -1.0 / edge_w, 1.0), 0.0, 1.0)
        floor = np.clip(dist, 0.0, 1.0, out=dist)
        floor_col = [float(c) for c in rng.uniform(0.02, 0.12) * rng.uniform(0.7, 1.3, 3)]
        layers = [(edge, _scaled(base, 1.25)), (floor, floor_col)]
    return compose(base, layers, light)


def paper_sheets(
    rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32, mm_px: float
) -> Planes:
    """A pile of A4 sheets on a desk, shifted and rotated, each casting a soft shadow onto the ones below;
    most are printed pages of text. Rendered at half resolution (the content is smooth) and upsampled."""
    h, w = illum.shape
    hh, hw, mm = max(h // 2, 8), max(w // 2, 8), mm_px / 2.0
    light = affine(fbm_noise(rng, hh, hw, scale * 4, 3), 0.1 * contrast, 1.0)
    light *= cv2.resize(illum, (hw, hh), interpolation=cv2.INTER_AREA)
    paper = np.zeros((hh, hw), np.float32)
    shadow = np.ones((hh, hw), np.float32)  # light reaching each point through the sheets above it, times paper white
    desks = [
        (0.30, 0.17, 0.07),
        (0.22, 0.22, 0.23),
        (0.04, 0.04, 0.045),
        (0.12, 0.06, 0.03),
        (0.45, 0.45, 0.42),
    ]
    desk = list(desks[int(rng.integers(len(desks)))])
    pile_angle = rng.uniform(0, 2 * np.pi)  # the pile's centre sits off-frame so that its edges cross the view
    centre = np.array([hw, hh]) / 2 + np.array([np.cos(pile_angle), np.sin(pile_angle)]) * rng.uniform(80, 170) * mm
    shadow_dir = rng.uniform(0.3, 1.0) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    size = np.array([210.0, 297.0]) * mm
    for _ in range(int(rng.integers(2, 6))):
        angle = rng.uniform(-0.25, 0.25) + (np.pi / 2 if rng.random() < 0.5 else 0.0)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * size / 2
        shift = rng.uniform(-1, 1, 2) * scale * rng.uniform(0.5, 3.0)
        mask = np.zeros((hh, hw), np.uint8)
        cv2.fillPoly(mask, [np.round((corners @ rot.T + centre + shift) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        cover = mask.astype(np.float32) * np.float32(1 / 255)
        offset = shadow_dir * mm * 0.6
        shade = cv2.warpAffine(cover, np.array([[1, 0, offset[0]], [0, 1, offset[1]]]), (hw, hh))
        shade = affine(f32(cv2.GaussianBlur(shade, (0, 0), mm * 0.8)), -0.3, 1.0)
        shadow *= shade  # the sheet's shadow on what lies below
        np.maximum(paper, cover, out=paper)
        shadow -= cv2.multiply(shadow, cover)
        cv2.scaleAdd(cover, float(1.0 + 0.04 * rng.standard_normal()), shadow, dst=shadow)  # this sheet's white
        if rng.random() < 0.6:  # a printed page: rows of text with margins of about 25 mm
            row_px = rng.uniform(4.2, 6.0) * mm
            n_rows = int((size[1] - 50 * mm) / row_px)
            chars = int((size[0] - 50 * mm) / (0.55 * row_px))
            rows = [random_line(rng, int(chars * rng.uniform(0.5, 1.0))) for _ in range(n_rows)]
            text = text_mask(rows, row_px, cv2.FONT_HERSHEY_SIMPLEX)
            origin = np.array([-size[0] / 2 + 25 * mm, -size[1] / 2 + 25 * mm]) @ rot.T + centre + shift
            m = np.hstack([rot, origin[:, None]]).astype(np.float32)
            ink = cv2.warpAffine(text, m, (hw, hh), flags=cv2.INTER_LINEAR)
            ink = cv2.multiply(ink, mask, scale=1 / 255)  # only where this sheet lies on top
            shadow *= affine(ink.astype(np.float32), -0.8 / 255, 1.0)
    light *= shadow
    half = compose(base, [(affine(paper, -1.0, 1.0), desk)], light)
    return [f32(cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)) for p in half]


_ROW_OFFSETS = (0.0, 0.5, 0.75, 1.25, 0.0)  # key rows' stagger, in key pitches (number row to space-bar row)
_LEGENDS = "1234567890QWERTYUIOPASDFGHJKLZXCVBNM"


def _rect(x0: float, y0: float, x1: float, y1: float, r: float) -> NDArray[np.int32]:
    """A rounded rectangle as a polygon in 1/16 px fixed point."""
    return np.round(rounded_rect(x0, y0, x1, y1, r) * 16).astype(np.int32)


def keyboard(rng: np.random.Generator, base: Colour, scale: float, contrast: float, illum: F32) -> Planes:
    """A laptop keyboard: staggered rows of rounded key caps (pitch `scale` px) with letter legends, a space
    bar, the deck around them (base colour) and a touchpad groove in the palm rest; rotated arbitrarily in the
    frame.

    Drawn axis-aligned with OpenCV's anti-aliased primitives into uint8 masks (keys, cap tops, legends, key
    well, touchpad groove), which one affine warp lays into the frame."""
    h, w = illum.shape
    pitch = float(scale)
    angle = rng.uniform(-np.pi, np.pi) if rng.random() < 0.3 else rng.uniform(-0.3, 0.3)
    c, s = float(np.cos(angle)), float(np.sin(angle))
    u0 = w / 2 * c + h / 2 * s - pitch * rng.uniform(2.0, 12.0)  # keyboard coordinates of the frame centre
    v0 = -w / 2 * s + h / 2 * c - pitch * rng.uniform(0.5, 7.0)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float)
    uv = np.stack([corners[:, 0] * c + corners[:, 1] * s - u0, -corners[:, 0] * s + corners[:, 1] * c - v0], 1)
    lo = np.maximum(np.floor(uv.min(0)) - 2, [-pitch, -pitch])
    hi = np.minimum(np.ceil(uv.max(0)) + 2, [15.5 * pitch, 10 * pitch])
    light = affine(fbm_noise(rng, h, w, (pitch * 0.3, pitch * 6), 2), 0.05 * contrast, 1.0)
    light *= illum
    dark_deck = float(np.mean(base)) < 0.15
    cap = _scaled(base, rng.uniform(1.1, 1.7)) if dark_deck else [float(rng.uniform(0.02, 0.05))] * 3
    ink = [float(rng.uniform(0.3, 0.55))] * 3
    if np.any(hi <= lo):
        return compose(base, [], light)
    cw, ch = int(hi[0] - lo[0]), int(hi[1] - lo[1])
    key_m, legend_m = np.zeros((ch, cw), np.uint8), np.zeros((ch, cw), np.uint8)
    shade_m = np.full((ch, cw), 255, np.uint8)  # light reaching the surface: wells, sloped sides, tops, groove
    off = -lo
    gap = 0.09 * pitch
    cv2.fillPoly(
        shade_m,
        [_rect(off[0], off[1], off[0] + 14.5 * pitch, off[1] + 5 * pitch, 0.3 * pitch)],
        140,
        cv2.LINE_AA,
        4,
    )
    cv2.polylines(
        shade_m,
        [
            _rect(
                off[0] + 4.5 * pitch,
                off[1] + 5.7 * pitch,
                off[0] + 10.5 * pitch,
                off[1] + 9.1 * pitch,
                0.2 * pitch,
            )
        ],
        True,
        165,
        max(1, round(0.03 * pitch)),
        cv2.LINE_AA,
        4,
    )
    font_scale = pitch / 130.0
    for r, stagger in enumerate(_ROW_OFFSETS):
        spans = [(stagger + k, stagger + k + 1) for k in range(14) if stagger + k + 1 <= 14.5]
        if r == 4:
            spans = [sp for sp in spans if not 3 <= sp[0] - stagger < 9] + [(3.0, 9.0)]
        for k, (a, b) in enumerate(spans):
            x0, x1 = off[0] + a * pitch + gap, off[0] + b * pitch - gap
            y0, y1 = off[1] + r * pitch + gap, off[1] + (r + 1) * pitch - gap
            if x1 < 0 or y1 < 0 or x0 > cw or y0 > ch:
                continue
            outline = [_rect(x0, y0, x1, y1, 0.15 * pitch)]
            cv2.fillPoly(key_m, outline, 255, cv2.LINE_AA, 4)
            cv2.fillPoly(shade_m, outline, 190, cv2.LINE_AA, 4)
            inset = 0.07 * pitch
            cv2.fillPoly(
                shade_m,
                [_rect(x0 + inset, y0 + inset, x1 - inset, y1 - inset, 0.1 * pitch)],
                255,
                cv2.LINE_AA,
                4,
            )
            if pitch >= 24 and b - a < 2:
                char = _LEGENDS[(r * 11 + k * 7) % len(_LEGENDS)]
                cv2.putText(
                    legend_m,
                    char,
                    (round(x0 + 0.15 * pitch), round(y0 + 0.35 * pitch)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale,
                    255,
                    max(1, round(pitch / 70)),
                    cv2.LINE_AA,
                )
    tx, ty = lo[0] + u0, lo[1] + v0  # canvas pixel (0, 0) in frame coordinates
    warp = np.array([[c, -s, tx * c - ty * s], [s, c, tx * s + ty * c]])
    shade, key, legend = (
        f32(
            cv2.multiply(
                cv2.warpAffine(m, warp, (w, h), flags=cv2.INTER_LINEAR, borderValue=v),
                1 / 255,
                dtype=cv2.CV_32F,
            )
        )
        for m, v in ((shade_m, 255), (key_m, 0), (legend_m, 0))
    )
    light *= shade
    return compose(base, [(key, cap), (legend, [i - cc + b for i, cc, b in zip(ink, cap, base, strict=True)])], light)
