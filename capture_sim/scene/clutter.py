"""Clutter on the desk: pens, coins, phones, sticky notes, keys and receipts, drawn anti-aliased at a random
orientation, each casting a soft contact shadow and an ambient-occlusion halo.

Colours are linear albedo (0..1); lengths are frame pixels, `mm_px` the desk's pixels per millimetre. Used by
capture_sim.scene.background.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.scene import textures
from capture_sim.scene.textures import affine, f32

F32 = NDArray[np.float32]

_INKS = [(0.02, 0.03, 0.12), (0.02, 0.02, 0.02), (0.25, 0.02, 0.02)]
_PLASTICS = [(0.03, 0.05, 0.25), (0.02, 0.02, 0.02), (0.35, 0.02, 0.02), (0.7, 0.7, 0.68), (0.02, 0.18, 0.05)]
_METALS = [(0.45, 0.22, 0.10), (0.42, 0.42, 0.40), (0.48, 0.36, 0.14)]
_NOTES = [(0.78, 0.68, 0.10), (0.80, 0.25, 0.40), (0.40, 0.72, 0.28), (0.25, 0.52, 0.78), (0.85, 0.45, 0.08)]


class _Sketch:
    """An object drawn straight into a frame-clipped canvas around its centre; shapes are given in pixels
    relative to the object's centre. OpenCV anti-aliases only 8-bit drawing, so albedo is held square-root
    encoded in three uint8 planes (they start as the first shape's colour, so edge blends never mix with
    black) and coverage in a uint8 mask."""

    def __init__(self, centre: NDArray[np.float64], half_px: float, pad: int, width: int, height: int) -> None:
        reach = half_px + pad
        self.x0, self.y0 = max(int(centre[0] - reach), 0), max(int(centre[1] - reach), 0)
        x1, y1 = min(int(np.ceil(centre[0] + reach)), width), min(int(np.ceil(centre[1] + reach)), height)
        self.shift = np.asarray(centre, float) - [self.x0, self.y0]
        self.cover = np.zeros((max(y1 - self.y0, 0), max(x1 - self.x0, 0)), np.uint8)
        self.canvas: list[NDArray[np.uint8]] = []
        self.shade: F32 | None = None  # optional multiplicative shading (coin relief)

    def _pts(self, pts: NDArray[np.float64]) -> NDArray[np.int32]:
        return np.round((np.asarray(pts) + self.shift) * 16).astype(np.int32).reshape(-1, 1, 2)

    @staticmethod
    def _code(colour: tuple[float, float, float] | list[float]) -> list[int]:
        return [round(255 * float(np.sqrt(np.clip(c, 0.0, 1.0)))) for c in colour]

    def paint(self, colour: tuple[float, float, float] | list[float], draw: str, *args: object) -> None:
        """Draw a shape anti-aliased over what is there: ('poly', pts), ('circle', centre, radius, thickness
        or -1) or ('lines', [pts, ...], thickness) for open polylines; lengths in pixels, centred
        coordinates."""
        if self.cover.size == 0:
            return
        code = self._code(colour)
        if not self.canvas:
            self.canvas = [np.full(self.cover.shape, v, np.uint8) for v in code]
        for target, value in zip([*self.canvas, self.cover], [*code, 255], strict=True):
            if draw == "poly":
                cv2.fillPoly(target, [self._pts(args[0])], value, cv2.LINE_AA, 4)  # type: ignore[arg-type]
            elif draw == "circle":
                centre = tuple(int(v) for v in self._pts(args[0])[0, 0])  # type: ignore[arg-type]
                cv2.circle(target, centre, round(float(args[1]) * 16), value, int(args[2]), cv2.LINE_AA, 4)  # type: ignore
            else:
                lines = [self._pts(p) for p in args[0]]  # type: ignore[attr-defined]
                cv2.polylines(target, lines, False, value, max(1, round(float(args[1]))), cv2.LINE_AA, 4)  # type: ignore

    def write(self, mask: NDArray[np.uint8], corner: NDArray[np.float64], angle: float, colour: list[float]) -> None:
        """Lay an axis-aligned ink mask (uint8, 255 = ink) rotated by angle with its top-left at `corner`
        (centred px)."""
        if not self.canvas:
            return
        rot, origin = _rot(angle), np.asarray(corner) + self.shift
        warp = np.hstack([rot, origin[:, None]]).astype(np.float32)
        ink = cv2.warpAffine(mask, warp, self.cover.shape[::-1], flags=cv2.INTER_LINEAR)
        x, y, w, h = cv2.boundingRect(ink)
        if w == 0 or h == 0:
            return
        box = (slice(y, y + h), slice(x, x + w))
        weight = ink[box].astype(np.float32) * np.float32(1 / 255)
        for plane, value in zip(self.canvas, self._code(colour), strict=True):
            solid = np.full((h, w), value, np.uint8)
            plane[box] = cv2.blendLinear(solid, plane[box], weight, np.float32(1.0) - weight)

    def crop(self, reach: int) -> None:
        """Shrink the canvas to the drawn object's bounding box grown by `reach` pixels (room for its
        shadow)."""
        x, y, w, h = cv2.boundingRect(self.cover)
        ch, cw = self.cover.shape
        xa, ya, xb, yb = max(x - reach, 0), max(y - reach, 0), min(x + w + reach, cw), min(y + h + reach, ch)
        box = (slice(ya, yb), slice(xa, xb))
        self.cover = self.cover[box]
        self.canvas = [np.ascontiguousarray(p[box]) for p in self.canvas]
        self.shade = None if self.shade is None else self.shade[box]
        self.x0, self.y0 = self.x0 + xa, self.y0 + ya
        self.shift = self.shift - [xa, ya]

    def lay_down(self, planes: list[F32], illum: F32, keep: F32) -> None:
        """Composite onto the desk's colour planes, in place: desk x keep + albedo x illumination x cover."""
        h, w = self.cover.shape
        box = (slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w))
        weight = f32(cv2.multiply(self.cover, illum[box], scale=1 / 255, dtype=cv2.CV_32F))
        if self.shade is not None:
            weight *= self.shade
        for plane, code in zip(planes, self.canvas, strict=True):
            colour = f32(cv2.multiply(code, code, scale=1 / 255**2, dtype=cv2.CV_32F))  # decode: linear albedo
            colour *= weight
            region = plane[box]
            region *= keep
            region += colour


def _rot(angle: float) -> NDArray[np.float64]:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _rounded_rect(w: float, h: float, r: float, angle: float) -> NDArray[np.float64]:
    return textures.rounded_rect(-w / 2, -h / 2, w / 2, h / 2, r) @ _rot(angle).T


def _object(
    rng: np.random.Generator, mm: float, centre: NDArray[np.float64], pad: int, width: int, height: int
) -> tuple[_Sketch, float]:
    """One clutter object centred at `centre` (frame px), drawn at a random orientation; returns it and its
    height above the desk in mm."""

    def sketch(half: float) -> _Sketch:
        return _Sketch(centre, half, pad, width, height)

    kind = str(rng.choice(["pen", "coin", "phone", "note", "keys", "receipt"]))
    ang = rng.uniform(0, 2 * np.pi)
    axis = np.array([np.cos(ang), np.sin(ang)])
    if kind == "pen":
        length, r = rng.uniform(120, 150) * mm, rng.uniform(3.5, 5) * mm
        sk = sketch(length / 2 + r)
        body = _PLASTICS[int(rng.integers(len(_PLASTICS)))]
        perp, front = np.array([-axis[1], axis[0]]) * r, axis * 0.8 * length / 2
        sk.paint([0.3, 0.3, 0.3], "poly", np.array([front + perp, front - perp, axis * length / 2]))
        cap = _PLASTICS[int(rng.integers(len(_PLASTICS)))]
        for colour, ends, scale in ((body, (-1.0, 0.8), 1.0), (cap, (-1.0, -0.45), 1.08)):
            # a glossy cylinder: nested strokes lighter towards the axis (Lambert on its round section),
            # then a specular streak off-axis
            line = np.array([axis * ends[0], axis * ends[1]]) * length / 2
            for frac, shade in ((1.0, 0.5), (0.8, 0.72), (0.55, 0.9), (0.3, 1.0)):
                sk.paint([c * shade for c in colour], "lines", [line], 2 * r * scale * frac)
            sk.paint([min(1.0, 0.5 + c) for c in colour], "lines", [line * 0.97 - perp * 0.4], 0.25 * r)
        return sk, 2 * r / mm
    if kind == "coin":
        r = rng.uniform(8, 13) * mm
        sk = sketch(r)
        metal = _METALS[int(rng.integers(len(_METALS)))]
        sk.paint(metal, "circle", np.zeros(2), r, -1)
        if sk.cover.size:
            relief = textures.fbm_noise(rng, *sk.cover.shape, max(2.0, r / 6), 2)
            sk.shade = np.float32(1.0) + np.float32(0.08) * relief
        sk.paint([m * 1.3 for m in metal], "circle", np.zeros(2), r * 0.92, max(1, round(0.06 * r)))
        return sk, 2.0
    if kind == "phone":
        w, h = rng.uniform(68, 78) * mm, rng.uniform(140, 162) * mm
        sk = sketch(np.hypot(w, h) / 2)
        sk.paint([0.25, 0.25, 0.26], "poly", _rounded_rect(w, h, 9 * mm, ang))
        if rng.random() < 0.5:  # face up: black glass inside a thin frame
            sk.paint([0.015, 0.015, 0.02], "poly", _rounded_rect(w - 2 * mm, h - 2 * mm, 8 * mm, ang))
        else:  # face down: coloured back with a camera bump and lenses
            back = [0.02, 0.02, 0.02] if rng.random() < 0.5 else list(rng.uniform(0.05, 0.6, 3))
            sk.paint(back, "poly", _rounded_rect(w - 1.5 * mm, h - 1.5 * mm, 8 * mm, ang))
            corner = _rot(ang) @ [-w / 2 + 18 * mm, -h / 2 + 18 * mm]
            sk.paint([b * 0.8 for b in back], "poly", _rounded_rect(28 * mm, 28 * mm, 7 * mm, ang) + corner)
            for dy in (-6.5, 6.5):
                lens = corner + _rot(ang) @ [-5 * mm, dy * mm]
                sk.paint([0.12, 0.12, 0.12], "circle", lens, 5.2 * mm, -1)
                sk.paint([0.01, 0.01, 0.015], "circle", lens, 3.5 * mm, -1)
        return sk, 8.0
    if kind == "note":
        size = rng.uniform(50, 76) * mm
        sk = sketch(size * 0.72)
        colour = _NOTES[int(rng.integers(len(_NOTES)))]
        sk.paint(colour, "poly", _rounded_rect(size, size, 0.5 * mm, ang))
        rows = [textures.random_line(rng, int(rng.integers(4, 10))) for _ in range(int(rng.integers(0, 4)))]
        if rows:  # a handwritten reminder
            row_px = size / rng.uniform(5.0, 7.0)
            text = textures.text_mask(rows, row_px, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.05)
            text = text[:, : int(size * 0.85)]
            sk.write(text, _rot(ang) @ [-size * 0.42, -size * 0.4], ang, list(_INKS[int(rng.integers(len(_INKS)))]))
        return sk, float(rng.uniform(0.5, 6.0))
    if kind == "keys":
        ring = rng.uniform(10, 15) * mm
        sk = sketch(ring + 62 * mm)
        metal = _METALS[int(rng.integers(1, len(_METALS)))]
        sk.paint([m * 0.9 for m in metal], "circle", np.zeros(2), ring, max(1, round(1.5 * mm)))
        for k in range(int(rng.integers(1, 4))):
            a = ang + k * rng.uniform(0.4, 0.9)
            d = np.array([np.cos(a), np.sin(a)])
            head = d * (ring + 11 * mm)
            sk.paint(metal, "circle", head, 11 * mm, -1)
            sk.paint([0.0, 0.0, 0.0], "circle", head - d * 6 * mm, 2.2 * mm, -1)
            teeth = [[0, -4], [30, -4], [34, 0], [30, 4]] + [[26 - 4 * i, 4 + (i % 2) * 2.5] for i in range(6)]
            blade = np.array(teeth, float) * mm @ _rot(a).T + head + d * 9 * mm
            sk.paint(metal, "poly", blade)
        return sk, 3.0
    w, h = rng.uniform(57, 80) * mm, rng.uniform(110, 200) * mm  # a receipt with rows of thermal print
    sk = sketch(np.hypot(w, h) / 2)
    sk.paint([0.80, 0.79, 0.74], "poly", _rounded_rect(w, h, 0.3 * mm, ang))
    row_px = rng.uniform(3.2, 4.2) * mm
    n_rows = int((h - 16 * mm) / row_px)
    chars = int((w - 10 * mm) / (0.5 * row_px))
    rows, prices = [], []
    for i in range(n_rows):
        blank = rng.random() < 0.15
        rows.append("" if blank else textures.random_line(rng, int(rng.integers(3, chars // 2 + 4)), upper=True))
        prices.append("" if blank or i < 3 or rng.random() < 0.3 else f"{rng.uniform(0.3, 60):.2f}")
    text = textures.text_mask(rows, row_px, cv2.FONT_HERSHEY_PLAIN, 0.08, prices)[:, : int(w - 10 * mm)]
    sk.write(text, _rot(ang) @ [-w / 2 + 5 * mm, -h / 2 + 8 * mm], ang, [float(rng.uniform(0.04, 0.15))] * 3)
    return sk, 1.0


def _light_kept(cover: NDArray[np.uint8], contact_sigma: float, halo_sigma: float, offset: NDArray[np.float64]) -> F32:
    """Fraction of the lamp's light still reaching the desk around an object of coverage `cover` (uint8): a
    contact shadow (the cover shifted by offset px away from the lamp, blurred by contact_sigma px) and an
    ambient-occlusion halo (blurred by halo_sigma). Both are smooth, so they are computed on a coarse grid."""
    h, w = cover.shape
    f = max(1, int(contact_sigma / 2.5))
    small = cv2.resize(cover, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32) * np.float32(1 / 255)
    sx, sy = small.shape[1] / w, small.shape[0] / h
    moved = cv2.warpAffine(small, np.array([[1, 0, offset[0] * sx], [0, 1, offset[1] * sy]]), small.shape[::-1])
    kept = affine(f32(cv2.GaussianBlur(moved, (0, 0), max(0.3, contact_sigma * sx))), -0.5, 1.0)
    cv2.scaleAdd(f32(cv2.GaussianBlur(small, (0, 0), max(0.3, halo_sigma * sx))), -0.2, kept, dst=kept)
    return f32(kept if f == 1 else cv2.resize(kept, (w, h), interpolation=cv2.INTER_LINEAR))


def add_clutter(planes: list[F32], illum: F32, rng: np.random.Generator, count: int, mm_px: float) -> None:
    """Lay `count` objects, lit by `illum`, on the desk (in place), mostly around the frame's periphery where
    the card is not, each casting a contact shadow (tight, offset away from the lamp) and an ambient-occlusion
    halo (wide, weak)."""
    height, width = illum.shape
    light_dir = _rot(rng.uniform(0, 2 * np.pi)) @ [1.0, 0.0]
    pad = int(np.ceil(mm_px * 8.0 * 1.2)) + 3  # reach of the tallest object's shadow
    for _ in range(count):
        for _try in range(6):  # prefer the periphery: the card usually covers the centre
            centre = rng.uniform(-0.1, 1.1, 2) * [width, height]
            if np.hypot(*((centre / [width, height] - 0.5) / 0.5)) > 0.75:
                break
        sk, obj_h = _object(rng, mm_px, centre, pad, width, height)
        if not sk.canvas:
            continue
        offset = light_dir * obj_h * 0.35 * mm_px
        contact_sigma, halo_sigma = (0.4 + obj_h * 0.12) * mm_px, max(0.5, obj_h * 0.45 * mm_px)
        sk.crop(int(np.ceil(2.5 * halo_sigma + np.abs(offset).max() + 2)))
        h, w = sk.cover.shape
        if h == 0 or w == 0:
            continue
        keep = _light_kept(sk.cover, contact_sigma, halo_sigma, offset)
        keep *= f32(cv2.multiply(sk.cover, -1 / 255, dtype=cv2.CV_32F)) + np.float32(1.0)  # desk still seen
        sk.lay_down(planes, illum, keep)
