"""Subpixel apertures of display panels, box-prefiltered in closed form.

Coordinates are display pixels: u to the right, v down, origin at the top-left corner of the top-left pixel
of the active area. An emitter is a rectangle inside its pixel; the aperture of a channel is the indicator
of that channel's emitters divided by their area fraction, so that its mean over the panel is exactly 1 (a
full-white framebuffer then has a mean emission equal to the white point times the peak luminance).

A sample sees the average of the aperture over a square box of side `footprint` (display pixels) centred on
it. For a 1D periodic rect train (period P, emitter [start, start + width) in each period) the average over
[a, b] is (F(b) - F(a)) / (b - a) with the antiderivative F(x) = floor(x / P) * width + clip(x mod P -
start, 0, width). Rectangular emitters on a lattice are separable, so the 2D box average is a product of 1D
averages; the PenTile checkerboard is a sum of two separable products (even rows x even columns + odd rows x
odd columns).

Layouts (fill = emitting fraction of each subpixel slot, split as sqrt(fill) in width and in height):
- rgb_stripe: three vertical stripes per pixel, slots of 1/3 pixel, R, G, B from left to right;
- bgr_stripe: the mirror image, B, G, R from left to right;
- pentile_diamond: each pixel holds a green emitter in a 1/3-pixel slot on its right and, in a 2/3-pixel slot
  on its left, a red emitter where column + row is even and a blue one where it is odd: red and blue alternate
  in a checkerboard (2-pixel period) with twice the green area, so every channel has the same area fraction.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from cardlive.errors import ParameterError

FloatArray = NDArray[np.float32]
LAYOUTS = ("rgb_stripe", "bgr_stripe", "pentile_diamond")
_MIN_HALF_FOOTPRINT = 5e-5  # display px; below this a sample is treated as a point (box of 1e-4 px)
_CHUNK_ROWS = 32  # rows per block, keeps the temporaries in cache


def emitter_fractions(fill: float) -> tuple[float, float]:
    """Fractions (of the slot width, of the pixel height) covered by an emitter with aperture ratio `fill`."""
    side = math.sqrt(fill)
    return side, side


class _Axis:
    """Clipped box [a, b] of one axis in coordinates reduced modulo 2 pixels, with 1 / footprint."""

    def __init__(
        self,
        x: FloatArray,
        half_w: FloatArray | float,
        length: float,
        inv_w: NDArray[np.floating] | np.floating | float | None = None,
    ) -> None:
        base = np.floor(x * np.float32(0.5))
        base *= np.float32(2.0)
        xr = x - base  # in [0, 2): exact small-magnitude phase, keeps float32 precision far from the origin
        self.a = xr - half_w
        self.b = xr + half_w
        np.negative(base, out=base)
        np.maximum(self.a, base, out=self.a)  # clip the box to the active area [0, length)
        base += np.float32(length)
        np.minimum(self.b, base, out=self.b)
        np.maximum(self.b, self.a, out=self.b)  # a box entirely outside the active area averages to 0
        self.inv_w = np.float32(0.5) / half_w if inv_w is None else inv_w
        self._phase: dict[float, tuple[FloatArray, FloatArray, FloatArray]] = {}
        self._counts: dict[tuple[float, float], FloatArray] = {}

    def phase(self, period: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(a mod P, b mod P, number of period starts in (a, b]) for period P (1 or 2 pixels)."""
        if period not in self._phase:
            if period == 1.0:  # x / 1 and q * 1 are exact: skip them
                qa, qb = np.floor(self.a), np.floor(self.b)
                fa, fb = self.a - qa, self.b - qb
            else:
                p = np.float32(period)
                qa = np.floor(self.a / p)
                qb = np.floor(self.b / p)
                fa = self.a - qa * p
                fb = self.b - qb * p
            qb -= qa
            self._phase[period] = (fa, fb, qb)
        return self._phase[period]

    def average(self, period: float, start: float, width: float, gain: float = 1.0) -> FloatArray:
        """Box average of the rect train (period, emitter [start, start + width)) times gain."""
        fa, fb, n = self.phase(period)
        s, wdt = np.float32(start), np.float32(width)
        hi = fb - s
        np.clip(hi, np.float32(0.0), wdt, out=hi)
        lo = fa - s
        np.clip(lo, np.float32(0.0), wdt, out=lo)
        hi -= lo
        if (period, width) not in self._counts:  # whole periods in the box, shared by emitters of one width
            self._counts[period, width] = n * wdt
        hi += self._counts[period, width]
        hi *= self.inv_w
        if gain != 1.0:
            hi *= np.float32(gain)
        return hi


def _aperture_block(
    u: FloatArray,
    v: FloatArray,
    half_w: FloatArray | float,
    layout: str,
    fill: float,
    size_px: tuple[int, int],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-channel prefiltered apertures (R, G, B planes) for one block of samples."""
    fx, fy = emitter_fractions(fill)
    gain = 3.0 / fill  # every channel's emitters cover fill / 3 of the panel area
    ax = _Axis(u, half_w, float(size_px[0]))
    ay = _Axis(v, half_w, float(size_px[1]), ax.inv_w)
    y1 = ay.average(1.0, (1.0 - fy) / 2.0, fy, gain)
    if layout in ("rgb_stripe", "bgr_stripe"):
        slots = (0, 1, 2) if layout == "rgb_stripe" else (2, 1, 0)
        planes = []
        for k in slots:
            plane = ax.average(1.0, (k + (1.0 - fx) / 2.0) / 3.0, fx / 3.0)
            plane *= y1
            planes.append(plane)
        return planes[0], planes[1], planes[2]
    # pentile_diamond
    rb_start, rb_width = (1.0 - fx) / 3.0, 2.0 * fx / 3.0
    green = ax.average(1.0, 2.0 / 3.0 + (1.0 - fx) / 6.0, fx / 3.0)
    green *= y1
    x_even = ax.average(2.0, rb_start, rb_width)
    x_odd = ax.average(1.0, rb_start, rb_width)
    x_odd -= x_even
    y_even = ay.average(2.0, (1.0 - fy) / 2.0, fy, gain)
    y_odd = y1 - y_even
    red = x_even * y_even
    red += x_odd * y_odd
    x_even *= y_odd
    x_odd *= y_even
    x_odd += x_even
    return red, green, x_odd


def aperture_into(
    out: FloatArray,
    u: FloatArray,
    v: FloatArray,
    half_w: FloatArray | float,
    layout: str,
    fill: float,
    size_px: tuple[int, int],
) -> None:
    """Write the prefiltered apertures of one block into out (h, w, 3), multiplying what out holds."""
    planes = _aperture_block(u, v, half_w, layout, fill, size_px)
    out *= cv2.merge(planes)


def check_footprint_shape(footprint_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """A per-sample footprint array must have the samples' shape."""
    if footprint_shape != shape:
        raise ParameterError(f"footprint_px has shape {footprint_shape}; expected a scalar or the sample shape {shape}")


def half_footprint(footprint_px: NDArray[np.floating] | float, shape: tuple[int, ...]) -> FloatArray | float:
    """Half the sample footprint, clamped to a tiny positive value (footprint 0 = point sampling)."""
    if np.ndim(footprint_px) == 0:
        return max(float(footprint_px) / 2.0, _MIN_HALF_FOOTPRINT)
    fp = np.asarray(footprint_px, dtype=np.float32)
    check_footprint_shape(fp.shape, shape)
    return np.maximum(fp * np.float32(0.5), np.float32(_MIN_HALF_FOOTPRINT))


@register_op("screen.subpixel_aperture")
def subpixel_aperture(
    u: NDArray[np.floating],
    v: NDArray[np.floating],
    footprint_px: NDArray[np.floating] | float,
    layout: str,
    fill: float,
    size_px: tuple[int, int],
) -> FloatArray:
    """Box-prefiltered subpixel aperture of each channel at samples (u, v), float32 (H, W, 3), values >= 0.

    u, v: sample positions in display pixels (H, W); footprint_px: side of the square each sample averages
    over (display pixels, scalar or (H, W)); layout: one of LAYOUTS; fill: aperture ratio in (0, 1];
    size_px: active area (width, height) in display pixels, outside of which nothing emits. Each channel's
    mean over the panel is 1 (point samples inside an emitter read 3 / fill, between emitters 0).
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"layout={layout!r} is not one of {LAYOUTS}")
    if not 0.0 < fill <= 1.0:
        raise ParameterError(f"fill={fill!r} must be in (0, 1]")
    u32 = np.asarray(u, dtype=np.float32)
    v32 = np.asarray(v, dtype=np.float32)
    half_w = half_footprint(footprint_px, u32.shape)
    out = np.ones((*u32.shape, 3), dtype=np.float32)
    for r0 in range(0, u32.shape[0], _CHUNK_ROWS):
        rows = slice(r0, r0 + _CHUNK_ROWS)
        hw = half_w if isinstance(half_w, float) else half_w[rows]
        aperture_into(out[rows], u32[rows], v32[rows], hw, layout, fill, size_px)
    return out
