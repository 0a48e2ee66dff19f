"""Security background line-work: guilloche curves (hypotrochoid / epitrochoid rosettes, interlaced sine
bands, modulated rings) and the split-fountain ("rainbow") ink gradient they are printed with.

Curves are generated in card millimetres (origin top-left, x right, y down) and rasterised as thin
anti-aliased lines (about 0.075 mm wide, i.e. 1 px at 1200 px card width) into a coverage image in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM
from capture_sim.ops import register_op
from capture_sim.validation import check_choice, check_range

FloatArray = NDArray[np.float32]
Curve = NDArray[np.float64]  # N x 2 points in millimetres
LINEWORK_STYLES = ("rosette", "waves", "mesh", "rings", "tiles", "radial")
_SHIFT = 4  # sub-pixel bits for cv2 drawing


def trochoid(big_r: int, small_r: int, d: float, kind: str, samples_per_loop: int = 720) -> Curve:
    """A closed hypotrochoid ('hypo') or epitrochoid ('epi') with integer radii, centred at the origin
    (unitless).

    hypo: x = (R-r) cos t + d cos((R-r)t/r), y = (R-r) sin t - d sin((R-r)t/r);
    epi:  x = (R+r) cos t - d cos((R+r)t/r), y = (R+r) sin t - d sin((R+r)t/r); t runs over r/gcd(R, r) turns.
    """
    check_choice("trochoid.kind", kind, ("hypo", "epi"))
    turns = small_r // math.gcd(big_r, small_r)
    t = np.linspace(0.0, 2.0 * np.pi * turns, samples_per_loop * turns + 1)
    if kind == "hypo":
        k = (big_r - small_r) / small_r
        x = (big_r - small_r) * np.cos(t) + d * np.cos(k * t)
        y = (big_r - small_r) * np.sin(t) - d * np.sin(k * t)
    else:
        k = (big_r + small_r) / small_r
        x = (big_r + small_r) * np.cos(t) - d * np.cos(k * t)
        y = (big_r + small_r) * np.sin(t) - d * np.sin(k * t)
    return np.stack([x, y], axis=1)


def rosette_family(
    center_mm: tuple[float, float],
    radius_mm: float,
    big_r: int,
    small_r: int,
    kind: str,
    n_curves: int,
    d_range: tuple[float, float],
    twist_deg: float,
) -> list[Curve]:
    """`n_curves` trochoids whose pen distance d steps through d_range (in units of r) and which turn by
    twist_deg in total; each is scaled so that its outer radius is radius_mm."""
    curves = []
    for i, frac in enumerate(np.linspace(0.0, 1.0, n_curves)):
        d = small_r * (d_range[0] + (d_range[1] - d_range[0]) * frac)
        pts = trochoid(big_r, small_r, d, kind, samples_per_loop=max(90, 8 * big_r))
        pts *= radius_mm / float(np.max(np.hypot(pts[:, 0], pts[:, 1])))
        a = np.deg2rad(twist_deg * i / max(1, n_curves - 1))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        curves.append(pts @ rot.T + np.asarray(center_mm))
    return curves


def sine_band_family(
    pitch_mm: float, amplitude_mm: float, wavelength_mm: float, phase_step: float, vertical: bool = False
) -> list[Curve]:
    """Parallel sine lines covering the card, line i shifted in phase by i * phase_step (radians) so that
    two families with opposite phase steps interlace into the woven guilloche band look."""
    length, span = (CARD_HEIGHT_MM, CARD_WIDTH_MM) if vertical else (CARD_WIDTH_MM, CARD_HEIGHT_MM)
    s = np.linspace(-1.0, length + 1.0, int((length + 2.0) * 6) + 1)
    curves = []
    n = int((span + 4.0 * amplitude_mm) / pitch_mm) + 2
    for i in range(n):
        offset = -2.0 * amplitude_mm + i * pitch_mm
        wave = offset + amplitude_mm * np.sin(2.0 * np.pi * s / wavelength_mm + i * phase_step)
        wave += 0.35 * amplitude_mm * np.sin(2.0 * np.pi * s / (2.7 * wavelength_mm) - 0.5 * i * phase_step)
        curves.append(np.stack([wave, s], axis=1) if vertical else np.stack([s, wave], axis=1))
    return curves


def ring_family(
    center_mm: tuple[float, float],
    r_min_mm: float,
    r_max_mm: float,
    pitch_mm: float,
    lobes: int,
    amplitude_mm: float,
    phase_step: float,
) -> list[Curve]:
    """Concentric rings r(theta) = r_i + A sin(lobes * theta + i * phase_step), r_i stepping by pitch_mm."""
    curves = []
    for i, r in enumerate(np.arange(r_min_mm, r_max_mm, pitch_mm)):
        n = max(64, int(2.0 * np.pi * r * 5))
        th = np.linspace(0.0, 2.0 * np.pi, n + 1)
        rr = r + amplitude_mm * np.sin(lobes * th + i * phase_step)
        curves.append(np.stack([center_mm[0] + rr * np.cos(th), center_mm[1] + rr * np.sin(th)], axis=1))
    return curves


def radial_family(
    center_mm: tuple[float, float], n_rays: int, r_max_mm: float, amplitude_rad: float, wavelength_mm: float
) -> list[Curve]:
    """Wavy rays from a centre: theta(r) = theta_i + A sin(2 pi r / wavelength) (a sunburst guilloche)."""
    r = np.linspace(0.5, r_max_mm, int(r_max_mm * 5))
    curves = []
    for i in range(n_rays):
        th = 2.0 * np.pi * i / n_rays + amplitude_rad * np.sin(2.0 * np.pi * r / wavelength_mm) * (r / r_max_mm)
        curves.append(np.stack([center_mm[0] + r * np.cos(th), center_mm[1] + r * np.sin(th)], axis=1))
    return curves


def style_layers(style: str, seed: int, center_mm: tuple[float, float]) -> tuple[list[Curve], list[Curve]]:
    """The two line-work layers of a background style: (fine all-over pattern, feature pattern centred at
    center_mm), in card mm. `seed` varies the style's parameters deterministically (integer hash, no RNG)."""
    check_choice("linework.style", style, LINEWORK_STYLES)
    v = (seed * 2654435761) % 1000 / 1000.0  # deterministic variation in [0, 1)
    w, h = CARD_WIDTH_MM, CARD_HEIGHT_MM
    if style == "waves":
        fine = sine_band_family(0.55, 1.2, 9.0 + 4 * v, 0.11) + sine_band_family(0.55, 1.2, 9.0 + 4 * v, -0.11)
        feature = rosette_family(center_mm, 17.0, 90, 40, "hypo", 16, (0.6, 1.2), 14.0 + 10 * v)
    elif style == "mesh":
        fine = sine_band_family(0.8, 0.9, 6.5, 0.18) + sine_band_family(0.8, 0.9, 7.5, -0.15, vertical=True)
        feature = sine_band_family(1.1, 3.5, 28.0 + 10 * v, 0.05)[::1]
    elif style == "rings":
        c = (w * (0.1 + 0.8 * v), h * 1.15)
        fine = ring_family(c, 2.0, 105.0, 0.5, 36, 0.22, 0.0)
        feature = ring_family(center_mm, 4.0, 19.0, 0.9, 12, 0.7, 0.35)
    elif style == "tiles":
        fine = [
            curve
            for ix in range(11)
            for iy in range(7)
            for curve in rosette_family(
                (ix * 8.5 + 1.0, iy * 8.5 + 1.5 * (ix % 2)), 4.6, 12, 5, "epi", 3, (0.4, 1.0), 18
            )
        ]
        feature = rosette_family(center_mm, 21.0, 72, 30, "hypo", 16, (0.9, 1.6), 9.0)
    elif style == "radial":
        c = center_mm
        fine = radial_family(c, 420, 100.0, 0.045, 5.0) + ring_family(c, 3.0, 100.0, 1.6, 48, 0.4, 0.0)
        feature = rosette_family(c, 16.0, 70, 30, "hypo", 14, (1.2, 2.0), 12.0)
    else:  # rosette
        fine = sine_band_family(0.6, 0.7, 4.5 + 2 * v, 0.2)
        feature = rosette_family(center_mm, 23.0, 96, 36, "hypo", 22, (0.3, 1.0), 10.0 + 8 * v)
        feature += rosette_family(center_mm, 8.0, 60, 25, "epi", 8, (0.3, 1.0), 25.0)
    return fine, feature


@register_op("cards.guilloche")
def guilloche_coverage(curves: Sequence[Curve], height: int, width: int, px_per_mm: float) -> FloatArray:
    """Coverage (HxW float32 in [0, 1]) of thin anti-aliased ink lines along `curves` (N x 2 arrays in mm).

    The line width is 0.075 mm (at least one pixel); coverage saturates where lines overlap.
    """
    check_range("height", height, 1, 20000)
    check_range("width", width, 1, 20000)
    check_range("px_per_mm", px_per_mm, 0.5, 200.0)
    canvas = np.zeros((height, width), np.uint8)
    if curves:
        scale = px_per_mm * (1 << _SHIFT)
        pts = [np.round(np.asarray(c, dtype=np.float64) * scale - 0.5 * (1 << _SHIFT)).astype(np.int32) for c in curves]
        line_px = 0.075 * px_per_mm
        thickness = max(1, round(line_px))
        cv2.polylines(canvas, pts, False, 255, thickness=thickness, lineType=cv2.LINE_AA, shift=_SHIFT)
        strength = min(1.0, line_px / thickness) if thickness > 1 else 1.0
        return (canvas.astype(np.float32) * np.float32(strength / 255.0)).astype(np.float32)
    return canvas.astype(np.float32)


@register_op("cards.rainbow")
def rainbow_ink(
    height: int, width: int, stops_linear: Sequence[tuple[float, float, float]], axis: str, px_per_mm: float
) -> FloatArray:
    """Split-fountain ("rainbow") ink: linear-light colour (HxWx3 float32) blending smoothly through the
    colour stops along `axis` ('x', 'y', 'diag' or 'radial' from the card centre)."""
    check_choice("rainbow.axis", axis, ("x", "y", "diag", "radial"))
    if len(stops_linear) < 2:
        raise ValueError("rainbow needs at least two colour stops")
    # the gradient is smooth, so it is evaluated on a grid 4x coarser and interpolated up
    gh, gw = max(2, -(-height // 4)), max(2, -(-width // 4))
    ys = (np.arange(gh, dtype=np.float32) + 0.5) * np.float32(height / gh / px_per_mm)
    xs = (np.arange(gw, dtype=np.float32) + 0.5) * np.float32(width / gw / px_per_mm)
    if axis == "x":
        t = np.broadcast_to(xs[None, :] / CARD_WIDTH_MM, (gh, gw))
    elif axis == "y":
        t = np.broadcast_to(ys[:, None] / CARD_HEIGHT_MM, (gh, gw))
    elif axis == "diag":
        t = (xs[None, :] + ys[:, None] * 1.6) / (CARD_WIDTH_MM + 1.6 * CARD_HEIGHT_MM)
    else:
        t = np.hypot(xs[None, :] - CARD_WIDTH_MM / 2, ys[:, None] - CARD_HEIGHT_MM / 2) / 50.0
    t = np.clip(t, 0.0, 1.0) * (len(stops_linear) - 1)
    idx = np.minimum(t.astype(np.int32), len(stops_linear) - 2)
    frac = t - idx
    frac = frac * frac * (3.0 - 2.0 * frac)  # smooth ink transition between fountain ducts
    stops = np.asarray(stops_linear, dtype=np.float32)
    coarse = (stops[idx] * (1.0 - frac[..., None]) + stops[idx + 1] * frac[..., None]).astype(np.float32)
    return np.ascontiguousarray(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR), np.float32)
