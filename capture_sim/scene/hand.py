"""A hand holding the card, and the card's drop shadow on the desk.

The hand is modelled in the card's plane, in millimetres, around the point of the gripped edge: the thumb lies
on the card's front as a tapered capsule reaching `overlap_mm` onto it, with a nail; the other fingers curl
behind the card and show only outside its edge; palm and forearm continue beyond. Shapes are signed-distance
fields (capture_sim.scene.hand_shape), evaluated at frame pixels mapped back to the card plane through the
inverse of the quad's homography, so perspective foreshortens the hand like the card. Shading is Lambert on
the surface normal (round capsules, a body whose section rounds off at its outline), softened and reddened in
the shadows as light scattered under the skin comes back (capture_sim.scene.hand_shading).

Outputs are linear light, float32: rgb is non-premultiplied albedo x shading (0..1), alpha the hand's
anti-aliased coverage, shadow the multiplicative darkening (1 = none) the hand casts on what lies beneath it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from capture_sim.rng import make_rng
from capture_sim.scene.hand_shading import Light, outward, rounded_profile, skin_radiance, soft
from capture_sim.scene.hand_shape import capsule, coverage, edge_frame, ellipse, smooth_min
from capture_sim.scene.textures import f32
from capture_sim.validation import check_choice, check_int_range, check_range
from cardlive.errors import ParameterError

F32 = NDArray[np.float32]
HAND_EDGES = ("left", "right", "bottom", "top")
SEED_MAX = 2**63 - 1
_LIGHT_SKIN = np.array([0.56, 0.33, 0.25])  # linear albedo, lightly and very darkly pigmented skin
_DARK_SKIN = np.array([0.055, 0.032, 0.022])


@dataclass(frozen=True)
class HandParams:
    """A hand gripping one card edge. skin_albedo is linear RGB (R 0.04-0.6, G 0.02-0.5, B 0.01-0.45);
    position is the grip point along the edge (0-1, from the card's left end for top/bottom, from its top for
    left/right); finger_count 1 (thumb only) - 4; finger_width_mm (thumb width) 14-22; overlap_mm (how far the
    thumb reaches onto the card, perpendicular to the edge) 3-15; angle_deg (thumb direction from the edge's
    inward normal) -35..35."""

    present: bool
    skin_albedo: tuple[float, float, float]
    edge: str
    position: float
    finger_count: int
    finger_width_mm: float
    overlap_mm: float
    angle_deg: float
    seed: int

    def __post_init__(self) -> None:
        check_choice("hand.present", self.present, [True, False])
        if len(self.skin_albedo) != 3:
            raise ParameterError(f"hand.skin_albedo={self.skin_albedo!r} must have 3 channels (linear R, G, B)")
        for name, value, low, high in zip("rgb", self.skin_albedo, (0.04, 0.02, 0.01), (0.6, 0.5, 0.45), strict=True):
            check_range(f"hand.skin_albedo.{name}", value, low, high)
        check_choice("hand.edge", self.edge, HAND_EDGES)
        check_range("hand.position", self.position, 0.0, 1.0)
        check_int_range("hand.finger_count", self.finger_count, 1, 4)
        check_range("hand.finger_width_mm", self.finger_width_mm, 14.0, 22.0)
        check_range("hand.overlap_mm", self.overlap_mm, 3.0, 15.0)
        check_range("hand.angle_deg", self.angle_deg, -35.0, 35.0)
        check_int_range("hand.seed", self.seed, 0, SEED_MAX)


def sample_hand_params(rng: np.random.Generator, holding: bool) -> HandParams:
    """Draw a hand. holding=False gives an absent hand (the card lies on the desk); otherwise a skin tone
    spanning light to dark (melanin interpolated in log albedo, haemoglobin jitter), a grip mostly on the
    left, right or bottom edge, and a thumb of 14-22 mm reaching 4-13 mm onto the card."""
    melanin = rng.uniform(0.0, 1.0)
    skin = np.exp((1 - melanin) * np.log(_LIGHT_SKIN) + melanin * np.log(_DARK_SKIN))
    skin = skin * rng.uniform(0.9, 1.1) * np.array([rng.uniform(0.95, 1.08), 1.0, rng.uniform(0.92, 1.05)])
    skin = np.clip(skin, [0.04, 0.02, 0.01], [0.6, 0.5, 0.45])
    return HandParams(
        present=bool(holding),
        skin_albedo=(float(skin[0]), float(skin[1]), float(skin[2])),
        edge=str(rng.choice(HAND_EDGES, p=[0.32, 0.32, 0.26, 0.10])),
        position=float(rng.uniform(0.15, 0.85)),
        finger_count=int(rng.choice([1, 2, 3, 4], p=[0.2, 0.3, 0.3, 0.2])),
        finger_width_mm=float(np.clip(rng.normal(18.0, 1.8), 14.0, 22.0)),
        overlap_mm=float(rng.uniform(4.0, 13.0)),
        angle_deg=float(np.clip(rng.normal(0.0, 14.0), -35.0, 35.0)),
        seed=int(rng.integers(0, SEED_MAX)),
    )


def _check_quad(quad: NDArray[np.floating], width: int, height: int) -> NDArray[np.float64]:
    check_int_range("width", width, 16, 8192)
    check_int_range("height", height, 16, 8192)
    q = np.asarray(quad, dtype=np.float64)
    if q.shape != (4, 2) or not np.all(np.isfinite(q)):
        raise ParameterError(f"quad must be (4, 2) finite frame-pixel corners, got shape {q.shape}")
    return q


@register_op("scene.hand")
def render_hand(
    params: HandParams, quad: NDArray[np.floating], card_px_per_mm: float, width: int, height: int
) -> tuple[F32, F32, F32]:
    """The hand over a card whose corners (clockwise from top-left, frame px) are `quad`.

    Returns (rgb (H, W, 3), alpha (H, W), shadow (H, W)), float32. rgb is non-premultiplied skin radiance
    (albedo x shading, 0..1), alpha the anti-aliased coverage in [0, 1] (fingers behind the card are hidden
    where the card is), shadow the multiplicative darkening in [0, 1] cast on what lies beneath (1 = no
    shadow). An absent hand gives zero rgb and alpha and a shadow of ones. Work is confined to the hand's
    bounding box: shapes, shading and shadows on a coarse grid (~30 kpx), silhouettes at full resolution from
    the upsampled distance fields.
    """
    q = _check_quad(quad, width, height)
    check_range("card_px_per_mm", card_px_per_mm, 0.05, 500.0)
    rgb = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    shadow = np.ones((height, width), np.float32)
    if not params.present:
        return rgb, alpha, shadow
    rng = make_rng(params.seed, 0, "scene.hand")
    ppm = float(card_px_per_mm)
    w_mm = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2 / ppm
    h_mm = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2 / ppm
    plane = np.array([[0, 0], [w_mm, 0], [w_mm, h_mm], [0, h_mm]], np.float32)
    homography = cv2.getPerspectiveTransform(plane, q.astype(np.float32))
    origin, along, inward = edge_frame(params.edge, params.position, float(w_mm), float(h_mm))
    local_to_plane = np.array([[along[0], inward[0], origin[0]], [along[1], inward[1], origin[1]], [0, 0, 1]])
    to_frame = homography @ local_to_plane  # hand-local mm (a along the edge, b inward) -> frame px

    # --- layout in hand-local millimetres (a along the edge, b onto the card) ---
    thumb_w, theta = params.finger_width_mm, np.deg2rad(params.angle_deg)
    d = np.array([np.sin(theta), np.cos(theta)])  # thumb direction, pointing onto the card
    across = np.array([d[1], -d[0]])
    toward_middle = 1.0 if params.position < 0.5 else -1.0  # fingers and palm lie along the rest of the edge
    side = toward_middle if abs(params.position - 0.5) > 0.15 or rng.random() < 0.7 else -toward_middle
    r_tip, r_base = 0.46 * thumb_w, 0.62 * thumb_w
    tip = d * (params.overlap_mm - r_tip) / np.cos(theta)
    base = tip - d * rng.uniform(58.0, 66.0)
    palm = tip - d * 88.0 + across * side * 28.0
    palm_r = np.array([50.0, 42.0]) * rng.uniform(0.92, 1.08)
    fingers = []
    for i in range(params.finger_count - 1):
        fw = 0.84 * thumb_w * (1.0 - 0.06 * i)
        lean = np.deg2rad(params.angle_deg * 0.3 + side * 4.0 * i + rng.normal(0, 3))
        f_dir = np.array([np.sin(lean), np.cos(lean)])
        start = np.array([side * (0.6 * thumb_w + 0.98 * fw * (i + 0.5)), 10.0])
        fingers.append((start, start - f_dir * rng.uniform(52.0, 60.0), fw / 2))
    arm_end = palm - d * 140.0

    # --- bounding box in the frame ---
    key = [tip, base, palm, arm_end, *[p for f in fingers for p in f[:2]]]
    ring = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    pts = np.concatenate([k + ring * 55.0 for k in key])
    hom = np.c_[pts, np.ones(len(pts))] @ to_frame.T
    sign = np.sign((to_frame @ [0.0, 5.0, 1.0])[2])
    if np.all(hom[:, 2] * sign > 1e-9):
        px = hom[:, :2] / hom[:, 2:]
        x0, y0 = np.maximum(np.floor(px.min(0)) - 2, 0).astype(int)
        x1, y1 = np.minimum(np.ceil(px.max(0)) + 2, [width, height]).astype(int)
    else:  # part of the hand reaches beyond the plane's horizon: take the frame
        x0, y0, x1, y1 = 0, 0, width, height
    if x1 <= x0 or y1 <= y0:
        return rgb, alpha, shadow
    step = max(1, int(np.ceil(np.sqrt((x1 - x0) * (y1 - y0) / 30_000.0))))
    # at least 2 x 2 cells (a hand that only grazes the frame edge), so the shading's gradients exist
    gw, gh = max(2, int(np.ceil((x1 - x0) / step))), max(2, int(np.ceil((y1 - y0) / step)))

    # --- a coarse grid over the box, mapped to hand-local mm ---
    inv = np.linalg.inv(to_frame)
    gx = (x0 + (np.arange(gw, dtype=np.float32) + 0.5) * step)[None, :]
    gy = (y0 + (np.arange(gh, dtype=np.float32) + 0.5) * step)[:, None]
    hom_w = gx * np.float32(inv[2, 0]) + gy * np.float32(inv[2, 1]) + np.float32(inv[2, 2])
    valid = (hom_w * np.float32(sign * np.sign(inv[2] @ (to_frame @ [0.0, 5.0, 1.0])))) > 0
    hom_w = np.where(valid, hom_w, np.float32(1e-6))
    la = (gx * np.float32(inv[0, 0]) + gy * np.float32(inv[0, 1]) + np.float32(inv[0, 2])) / hom_w
    lb = (gx * np.float32(inv[1, 0]) + gy * np.float32(inv[1, 1]) + np.float32(inv[1, 2])) / hom_w
    la[~valid] = 1e6
    grip = to_frame @ [0.0, 0.0, 1.0]
    jac = (to_frame[:2, :2] - np.outer(grip[:2] / grip[2], to_frame[2, :2])) / grip[2]  # d(px)/d(mm), grip
    px_per_mm = float(np.sqrt(abs(np.linalg.det(jac)))) / step

    # --- shapes: the thumb on the card; fingers, palm, thumb root and forearm: one smooth body behind it ---
    t_sdf, t_nz, t_along = capsule(la, lb, tip, base, r_tip, r_base)
    palm_sdf = ellipse(la, lb, palm, d, palm_r)
    finger_sdf = [capsule(la, lb, s0, s1, r, r * 1.12)[0] for s0, s1, r in fingers]
    body = palm_sdf
    for part in [
        *finger_sdf,
        capsule(la, lb, tip - d * 32.0, base, 0.55 * thumb_w, r_base * 1.1)[0],
        capsule(la, lb, palm, arm_end, 31.0, 36.0)[0],
    ]:
        body = smooth_min(body, part, 7.0)
    t_sdf[~valid] = 1e3
    body[~valid] = 1e3
    card = np.zeros((gh, gw), np.uint8)
    cv2.fillPoly(card, [np.round((q - [x0, y0]) / step * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    fade = np.clip((np.float32(1.0) - t_along) * np.float32(5.0), 0.0, 1.0)  # the thumb melts into its root
    thumb_a = coverage(t_sdf, px_per_mm) * fade
    behind_a = coverage(body, px_per_mm) * (np.float32(1.0) - card.astype(np.float32) / np.float32(255))

    # --- shading ---
    light = Light(rng)
    skin = np.asarray(params.skin_albedo, np.float64)
    mottle = cv2.resize(
        rng.normal(1.0, 0.05, (max(2, gh // 6), max(2, gw // 6))).astype(np.float32),
        (gw, gh),
        interpolation=cv2.INTER_CUBIC,
    )
    soft_px = 0.3 * px_per_mm  # light diffusing under the skin softens the shading
    b_nz = rounded_profile(body, 8.0)
    t_shade = cv2.GaussianBlur(light.shade(t_nz, *outward(t_sdf)), (0, 0), soft_px) * mottle
    b_shade = cv2.GaussianBlur(light.shade(b_nz, *outward(body)), (0, 0), soft_px) * mottle
    off_px = -light.dir[:2] / light.dir[2] * px_per_mm  # shadow shift per mm of height, grid px
    b_shade *= np.float32(1.0) - np.float32(0.4) * soft(thumb_a, 2.0 * px_per_mm, tuple(off_px * 5.0))
    for f_i, f_j in itertools.pairwise(finger_sdf):  # the clefts between neighbouring fingers
        cleft = np.exp(-(((f_i - f_j) / np.float32(0.8)) ** 2)) * np.clip(palm_sdf * np.float32(0.25), 0.0, 1.0)
        b_shade *= np.float32(1.0) - np.float32(0.4) * cleft * (np.maximum(f_i, f_j) < 1.5)

    # thumb details, in thumb coordinates (along: mm back from the tip centre, cross: mm across the thumb)
    along = (la - np.float32(tip[0])) * np.float32(-d[0]) + (lb - np.float32(tip[1])) * np.float32(-d[1])
    cross = (la - np.float32(tip[0])) * np.float32(across[0]) + (lb - np.float32(tip[1])) * np.float32(across[1])
    for at in (1.5, 1.6):  # interphalangeal creases
        t_shade *= np.float32(1.0) - np.float32(0.15) * np.exp(-(((along - np.float32(at * thumb_w)) / 0.45) ** 2))
    half_len, half_w, corner = 0.36 * thumb_w, 0.31 * thumb_w, 0.27 * thumb_w
    qx = np.abs(along - np.float32(0.1 * thumb_w)) - np.float32(half_len - corner)
    qy = np.abs(cross) - np.float32(half_w - corner)
    nail_sdf = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0)
    nail = coverage(nail_sdf - np.float32(corner), px_per_mm) * thumb_a
    free_edge = (
        np.clip((np.float32(-0.26 * thumb_w + rng.uniform(0.3, 1.8)) - along) * np.float32(px_per_mm), 0.0, 1.0) * nail
    )
    cuticle = np.exp(-(((along - np.float32(0.46 * thumb_w)) / np.float32(0.6)) ** 2)) * nail
    gloss = np.float32(0.12) * np.exp(-(((cross / np.float32(half_w)) - np.float32(0.35)) ** 2 / np.float32(0.04)))
    nail_col = 0.6 * skin + 0.4 * np.array([0.60, 0.47, 0.44])
    tint = [np.float32(1.0) + nail * np.float32(n / s - 1.0) for n, s in zip(nail_col, skin, strict=True)]
    t_rgb = [c * k for c, k in zip(skin_radiance(skin, t_shade), tint, strict=True)]
    for c, white in enumerate((0.70, 0.68, 0.62)):
        t_rgb[c] += free_edge * (np.float32(white) * t_shade - t_rgb[c])
        t_rgb[c] *= np.float32(1.0) - np.float32(0.3) * cuticle
        t_rgb[c] += gloss * nail * t_shade
    b_rgb = skin_radiance(skin, b_shade)

    # colour, shading and shadows live on the coarse grid (smooth); edges come from the distance fields, which
    # interpolate exactly enough to give crisp anti-aliased silhouettes at full resolution.
    mix = coverage(t_sdf - np.float32(1.5 / px_per_mm), px_per_mm) * fade  # thumb colour reaching past its edge
    planes = [b + (t - b) * mix for t, b in zip(t_rgb, b_rgb, strict=True)]
    cast = np.float32(1.0) - np.float32(0.55) * soft(thumb_a, 0.12 * thumb_w * px_per_mm, tuple(off_px * 0.3 * thumb_w))
    cast *= np.float32(1.0) - np.float32(0.2) * soft(behind_a, 6.0 * px_per_mm, tuple(off_px * 25.0))
    # full resolution only where the hand or its shadow is
    bx, by, bw, bh = cv2.boundingRect(((thumb_a > 0) | (behind_a > 0) | (cast < 0.999)).astype(np.uint8))
    if bw == 0 or bh == 0:
        return rgb, alpha, shadow
    bx, by, bw, bh = max(bx - 1, 0), max(by - 1, 0), min(bw + 2, gw), min(bh + 2, gh)

    def crop(a: F32) -> F32:
        return a[by : by + bh, bx : bx + bw]

    x0, y0 = x0 + bx * step, y0 + by * step
    out_w, out_h = min(bw * step, x1 - x0), min(bh * step, y1 - y0)
    x1, y1 = x0 + out_w, y0 + out_h
    t_sdf, body, cast = crop(t_sdf), crop(body), crop(cast)
    planes = [crop(p) for p in planes]
    gw, gh = bw, bh

    def full(a: F32) -> F32:
        if step == 1:
            return a[:out_h, :out_w]
        return f32(cv2.resize(a, (gw * step, gh * step), interpolation=cv2.INTER_LINEAR))[:out_h, :out_w]

    ppm_full = px_per_mm * step
    card_full = np.zeros((out_h, out_w), np.uint8)
    cv2.fillPoly(card_full, [np.round((q - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    hand_a = coverage(full(body), ppm_full)  # the body, hidden where the card is in front of it
    hand_a *= cv2.multiply(card_full, -1 / 255, dtype=cv2.CV_32F) + np.float32(1.0)
    np.maximum(hand_a, coverage(full(t_sdf), ppm_full), out=hand_a)  # the thumb's root lies inside the body
    rgb[y0:y1, x0:x1] = full(np.clip(cv2.merge(planes), 0.0, 1.0))
    alpha[y0:y1, x0:x1] = hand_a
    shadow[y0:y1, x0:x1] = full(np.clip(cast, 0.0, 1.0))
    return rgb, alpha, shadow


@register_op("scene.card_drop_shadow")
def card_drop_shadow(
    quad: NDArray[np.floating],
    width: int,
    height: int,
    offset_px: tuple[float, float],
    blur_px: float,
    strength: float,
) -> F32:
    """Shadow of the card lifted slightly above the desk, float32 (height, width): 1 where unshadowed, down to
    1 - strength under the (shifted by offset_px, Gaussian-blurred by blur_px) card polygon; anti-aliased.

    Physically, an area light casts a penumbra whose width grows with the card's height above the desk;
    blur_px stands for it. strength 0-0.7, blur_px 0-200, offsets within +-1000 px.
    """
    q = _check_quad(quad, width, height)
    check_range("strength", strength, 0.0, 0.7)
    check_range("blur_px", blur_px, 0.0, 200.0)
    for name, value in zip(("offset_px.x", "offset_px.y"), offset_px, strict=True):
        check_range(name, value, -1000.0, 1000.0)
    out = np.ones((height, width), np.float32)
    moved = q + np.asarray(offset_px, np.float64)
    reach = 3.0 * blur_px + 2.0
    x0, y0 = np.maximum(np.floor(moved.min(0) - reach), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(moved.max(0) + reach), [width, height]).astype(int)
    if x1 <= x0 or y1 <= y0 or strength == 0.0:
        return out
    step = max(1, int(blur_px / 3.0))  # a wide penumbra is smooth: blur on a coarser grid
    # at least 2 x 2 cells (a hand that only grazes the frame edge), so the shading's gradients exist
    gw, gh = max(2, int(np.ceil((x1 - x0) / step))), max(2, int(np.ceil((y1 - y0) / step)))
    mask = np.zeros((gh, gw), np.uint8)
    cv2.fillPoly(mask, [np.round((moved - [x0, y0]) / step * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    soft = mask.astype(np.float32) * np.float32(strength / 255.0)
    if blur_px > 0.3:
        soft = f32(cv2.GaussianBlur(soft, (0, 0), blur_px / step, borderType=cv2.BORDER_CONSTANT))
    if step > 1:
        soft = f32(cv2.resize(soft, (gw * step, gh * step), interpolation=cv2.INTER_LINEAR))
    out[y0:y1, x0:x1] -= soft[: y1 - y0, : x1 - x0]
    return out
