"""Geometry of the optically variable device (OVD, hologram / kinegram foil): where the foil is and which
diffraction grating it carries at every texel.

A grating of period d with grating vector direction T (in the card plane) sends wavelength
lambda_m = d |T . (L + V)| / m towards the viewer; the renderer evaluates that per texel. This module only
defines the foil's coverage mask (anti-aliased), the angle of T (radians in [0, pi), measured from the card's
+x axis towards +y, i.e. towards the bottom edge) and the period d in nanometres (900-4000 nm). Both vary
across the foil in a design (sectors, rings, waves, switching bars), so different parts light up at
different tilts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from capture_sim.validation import check_choice, check_range

FloatArray = NDArray[np.float32]
OVD_SHAPES = ("seal", "oval", "stripe_v", "stripe_h", "shield", "star", "window")
OVD_PATTERNS = ("sectors", "rings", "waves", "bars", "emblem")
PERIOD_RANGE_NM = (900.0, 4000.0)


@dataclass(frozen=True)
class OvdSpec:
    """One foil element. Lengths in card millimetres; size is (width, height) of the element's box
    (a stripe's length is limited by the card). Periods in nanometres within [900, 4000]."""

    shape: str
    center_mm: tuple[float, float]
    size_mm: tuple[float, float]
    pattern: str
    base_angle_deg: float = 0.0
    period_nm: tuple[float, float] = (1100.0, 2400.0)

    def __post_init__(self) -> None:
        check_choice("ovd.shape", self.shape, OVD_SHAPES)
        check_choice("ovd.pattern", self.pattern, OVD_PATTERNS)
        check_range("ovd.center_x_mm", self.center_mm[0], -10.0, 96.0)
        check_range("ovd.center_y_mm", self.center_mm[1], -10.0, 64.0)
        for s in self.size_mm:
            check_range("ovd.size_mm", s, 1.0, 90.0)
        check_range("ovd.base_angle_deg", self.base_angle_deg, -180.0, 180.0)
        lo, hi = self.period_nm
        check_range("ovd.period_nm[0]", lo, *PERIOD_RANGE_NM)
        check_range("ovd.period_nm[1]", hi, lo, PERIOD_RANGE_NM[1])


def _signed_distance(spec: OvdSpec, x: FloatArray, y: FloatArray) -> FloatArray:
    """Approximate signed distance in mm (negative inside) in the element's local coordinates."""
    a, b = spec.size_mm[0] / 2.0, spec.size_mm[1] / 2.0
    if spec.shape in ("seal", "oval"):
        th = np.arctan2(y, x)
        r = np.sqrt((x / a) ** 2 + (y / b) ** 2)
        edge = 1.0 + (0.035 * np.cos(24.0 * th) if spec.shape == "seal" else 0.0)
        return ((r - edge) * min(a, b)).astype(np.float32)
    if spec.shape == "stripe_v":
        centre = 0.35 * np.sin(2.0 * np.pi * y / 7.0)
        half = a + 0.3 * np.sin(2.0 * np.pi * y / 4.3 + 1.0)
        return np.maximum(np.abs(x - centre) - half, np.abs(y) - b).astype(np.float32)
    if spec.shape == "stripe_h":
        centre = 0.3 * np.sin(2.0 * np.pi * x / 6.0)
        half = b + 0.25 * np.sin(2.0 * np.pi * x / 3.7 + 0.5)
        return np.maximum(np.abs(y - centre) - half, np.abs(x) - a).astype(np.float32)
    if spec.shape == "shield":
        t = np.clip((y + 0.2 * b) / (1.2 * b), 0.0, 1.0)  # 0 above the shoulder line, 1 at the point
        half_w = a * np.sqrt(1.0 - t**1.7)
        top = -b + 0.12 * b * (1.0 - (x / a) ** 2)
        return np.maximum.reduce([np.abs(x) - half_w, top - y, y - b]).astype(np.float32)
    if spec.shape == "star":
        th = np.arctan2(y, x)
        r = np.hypot(x / a, y / b)
        edge = 0.72 + 0.28 * np.cos(5.0 * (th + np.pi / 2.0))
        return ((r - edge) * min(a, b) * 0.8).astype(np.float32)
    # window: rounded rectangle, corner radius 1.5 mm
    rad = min(1.5, a, b)
    qx, qy = np.abs(x) - (a - rad), np.abs(y) - (b - rad)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return (outside + np.minimum(np.maximum(qx, qy), 0.0) - rad).astype(np.float32)


def _pattern(spec: OvdSpec, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Grating angle (radians, before wrapping) and period fraction in [0, 1] in local coordinates."""
    base = np.deg2rad(spec.base_angle_deg)
    r = np.hypot(x, y)
    th = np.arctan2(y, x)
    if spec.pattern == "sectors":
        n = 12
        k = np.floor((th + np.pi) / (2.0 * np.pi / n))
        angle = base + k * (np.pi / n) * 5.0  # neighbouring sectors differ by 75 degrees
        frac = (np.floor(r / 1.2) % 3) / 2.0
    elif spec.pattern == "rings":
        angle = th + base  # radial grating vector: concentric grooves, a bright bar that turns with the light
        frac = 0.5 + 0.5 * np.sin(2.0 * np.pi * r / 2.5)
    elif spec.pattern == "waves":
        angle = base + 0.7 * np.sin(2.0 * np.pi * x / 4.0) * np.cos(2.0 * np.pi * y / 5.0)
        frac = 0.5 + 0.5 * np.cos(2.0 * np.pi * (x + y) / 6.0)
    elif spec.pattern == "bars":
        long_axis = y if spec.size_mm[1] >= spec.size_mm[0] else x
        seg = np.floor(long_axis / 3.0)
        angle = base + (seg % 4) * (np.pi / 4.0)  # kinegram bars switching every 3 mm
        frac = ((seg * 7) % 5) / 4.0
    else:  # emblem: a star in the middle on a radially ruled ground
        star = np.hypot(x, y) < (0.45 + 0.18 * np.cos(5.0 * (th + np.pi / 2))) * min(spec.size_mm) / 2
        angle = np.where(star, base + np.pi / 2.0, th + base)
        frac = np.where(star, 1.0, 0.5 + 0.5 * np.cos(2.0 * np.pi * r / 1.5))
    return np.asarray(angle, np.float32), np.asarray(frac, np.float32)


@register_op("cards.ovd_foil")
def ovd_foil(
    specs: tuple[OvdSpec, ...], height: int, width: int, px_per_mm: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rasterise foil elements: (mask in [0, 1] with anti-aliased edges, grating angle in radians [0, pi),
    grating period in nm [900, 4000]), each HxW float32; angle and period are 0 where the mask is 0.
    Later elements lie on top of earlier ones."""
    check_range("height", height, 1, 20000)
    check_range("width", width, 1, 20000)
    mask = np.zeros((height, width), np.float32)
    angle = np.zeros((height, width), np.float32)
    period = np.zeros((height, width), np.float32)
    for spec in specs:
        half_w, half_h = spec.size_mm[0] / 2.0 + 1.0, spec.size_mm[1] / 2.0 + 1.0
        x0 = max(0, int((spec.center_mm[0] - half_w) * px_per_mm))
        x1 = min(width, int(np.ceil((spec.center_mm[0] + half_w) * px_per_mm)))
        y0 = max(0, int((spec.center_mm[1] - half_h) * px_per_mm))
        y1 = min(height, int(np.ceil((spec.center_mm[1] + half_h) * px_per_mm)))
        if x0 >= x1 or y0 >= y1:
            continue
        xs = ((np.arange(x0, x1, dtype=np.float32) + 0.5) / px_per_mm - spec.center_mm[0])[None, :]
        ys = ((np.arange(y0, y1, dtype=np.float32) + 0.5) / px_per_mm - spec.center_mm[1])[:, None]
        x, y = np.broadcast_arrays(xs, ys)
        cover = np.clip(0.5 - _signed_distance(spec, x, y) * px_per_mm, 0.0, 1.0)
        ang, frac = _pattern(spec, x, y)
        lo, hi = spec.period_nm
        sel = cover > 0.0
        box_mask = mask[y0:y1, x0:x1]
        angle[y0:y1, x0:x1][sel] = np.mod(ang[sel], np.pi)
        period[y0:y1, x0:x1][sel] = lo + (hi - lo) * frac[sel]
        mask[y0:y1, x0:x1] = np.maximum(box_mask, cover)
    angle = np.where(mask > 0.0, np.minimum(angle, np.float32(np.pi - 1e-6)), 0.0).astype(np.float32)
    period = np.where(mask > 0.0, period, 0.0).astype(np.float32)
    return mask, angle, period
