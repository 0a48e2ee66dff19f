"""Halftone screens and the area-prefiltered ink they lay down.

- AM (laser / offset): the cosine spot function s = -(cos 2 pi u + cos 2 pi v) in screen-cell coordinates
  (u, v) rotated by the screen angle, cell side = 25.4 / lpi mm: round dots, a checkerboard at 50 %, round
  holes above. Ink where s < S(area), S the area quantile of s, so the dot area equals the printed coverage.
  Evaluated analytically (periodic, no tile lookup).
- FM (inkjet): a blue-noise threshold array (void-and-cluster, Ulichney 1993) of 128 x 128 printer cells on a
  torus, one value per cell of side `fm_dot_um`, lightly smoothed so dots are round droplets and re-ranked so
  its values are uniform over the area; ink where rank < area. Each ink uses a different symmetry and torus
  shift of it (all inks share the printhead's cell grid, as in a real inkjet).
Edges are prefiltered with a linear ramp across the iso-line whose width equals the sample footprint (the
gradient of the screen function on the iso-line is tabulated per coverage level), clamped so the ramp never
runs past the function's extremes: a flat patch keeps its mean ink = coverage (exactly for the uniform FM
rank, to first order for AM). Where the footprint exceeds half a cell (the structure is no longer resolvable
by the sampling grid) the ink fraction is blended towards the local coverage, the limit of an ideal area
prefilter. Coverage is handled at 8 bits (1/255 steps, like a RIP); the driver's tone curve and the mechanical
dot gain are folded into the per-level tables.

Coordinates: sheet millimetres, x right, y down. A screen angle is measured counter-clockwise on the page
(y up), the usual printing convention: the dot rows of a 15 degree screen rise to the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op

FloatArray = NDArray[np.float32]
F64 = NDArray[np.float64]

FM_CELLS = 128  # blue-noise array side, in printer cells
FM_TILE_PX = 4  # texels per FM cell side
FM_DROPLET_SMOOTH = 0.45  # Gaussian smoothing of the FM threshold field, in cells (droplet roundness)
LEVELS = np.arange(256, dtype=np.float64) / 255.0  # the 8-bit coverage levels of the screens


def mechanical_dot_gain(area: F64 | FloatArray, gain: float) -> F64:
    """Printed dot area from nominal area: a + gain * sin(pi a) (0, 1 fixed, +gain at 50 %, monotonic)."""
    a = np.asarray(area, dtype=np.float64)
    return np.clip(a + gain * np.sin(np.pi * a), 0.0, 1.0)


@dataclass(frozen=True)
class ScreenLuts:
    """Per 8-bit coverage level (each (1, 256) float32, for cv2.LUT): the printed (gained) dot area, the
    threshold on the screen function and the ramp slope at the reference footprint, max(1 / (|grad| w_ref),
    margin floor); the floor keeps the ramp inside the function's range so a flat patch keeps its mean ink."""

    coverage: FloatArray
    threshold: FloatArray
    slope: FloatArray


def _lut(values: F64) -> FloatArray:
    return np.asarray(values, dtype=np.float32).reshape(1, 256)


def _contour_gradient(value_rank: F64, grad: F64) -> F64:
    """Contour-averaged |grad| per area-rank level (i / 255): sum g^2 / sum g over the level's area."""
    bins = np.clip(np.rint(value_rank * 255.0).astype(np.int64), 0, 255)
    g1 = np.bincount(bins, weights=grad, minlength=256)
    g2 = np.bincount(bins, weights=grad * grad, minlength=256)
    ok = g1 > 0
    idx = np.arange(256)
    return np.interp(idx, idx[ok], g2[ok] / g1[ok])


def _sort_with_ranks(values: F64) -> tuple[F64, NDArray[np.int64]]:
    """(sorted values, np.searchsorted(sorted, values)): each value's rank is where its run of equal values
    starts in the sorted order (one argsort instead of a binary search per value)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_run = np.r_[True, ordered[1:] != ordered[:-1]]
    run_start = np.flatnonzero(new_run)[np.cumsum(new_run) - 1]
    ranks = np.empty(values.size, dtype=np.int64)
    ranks[order] = run_start
    return ordered, ranks


@lru_cache(maxsize=1)
def _am_spot() -> tuple[F64, F64, F64, F64]:
    """The cosine spot over a fine cell: its sorted values, the contour gradient per level (per cell length),
    and on a grid of s its area CDF A(s) integrated over s (for the mean of a ramp)."""
    n = 1024
    ph = 2 * np.pi * (np.arange(n) + 0.5) / n
    spot = (-(np.cos(ph)[:, None] + np.cos(ph)[None, :])).ravel()
    ordered, spot_ranks = _sort_with_ranks(spot)
    grad = 2 * np.pi * np.hypot(np.sin(ph)[:, None], np.sin(ph)[None, :]).ravel()
    s_grid = np.linspace(-4.5, 4.5, 9001)
    cdf = np.searchsorted(ordered, s_grid) / ordered.size
    cdf_integral = np.concatenate([[0.0], np.cumsum(0.5 * (cdf[1:] + cdf[:-1]) * np.diff(s_grid))])
    return ordered, _contour_gradient(spot_ranks / spot.size, grad), s_grid, cdf_integral


def am_luts(area: F64, inv_ref: float) -> ScreenLuts:
    """AM tables for printed dot areas `area` (256,) per level and reference cell / footprint `inv_ref`.

    The ramp of half-width h around the threshold S inks on average the CDF of s averaged over [S - h, S + h];
    S is solved (bisection) so that this equals the area, which keeps flat patches at their coverage.
    """
    ordered, grad, s_grid, cdf_int = _am_spot()
    thr = ordered[np.clip(np.rint(area * ordered.size).astype(np.int64), 0, ordered.size - 1)]
    half = np.maximum(np.minimum(thr + 2.0, 2.0 - thr), 1e-4)
    slope = np.maximum(inv_ref / np.maximum(np.interp(area, LEVELS, grad), 1e-2), np.maximum(0.5 / half, 0.25))
    h = 0.5 / slope
    lo, hi = np.full(256, -2.0) - h, np.full(256, 2.0) + h
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        mean = (np.interp(mid + h, s_grid, cdf_int) - np.interp(mid - h, s_grid, cdf_int)) / (2.0 * h)
        lo, hi = np.where(mean < area, mid, lo), np.where(mean < area, hi, mid)
    thr = np.where(area <= 0.0, -1e3, np.where(area >= 1.0, 1e3, 0.5 * (lo + hi)))  # exactly no / full ink
    return ScreenLuts(_lut(area), _lut(thr), _lut(slope))


@lru_cache(maxsize=1)
def blue_noise_ranks(size: int = FM_CELLS, sigma: float = 1.5) -> F64:
    """Void-and-cluster threshold array (size x size torus), ranks (k + 0.5) / size**2, from a fixed seed."""
    rng = np.random.Generator(np.random.PCG64(20240611))
    n = size * size
    rad = int(np.ceil(3.5 * sigma))
    off = np.arange(-rad, rad + 1)
    ker = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / (2.0 * sigma**2))
    d = np.minimum(np.arange(size), size - np.arange(size))
    full = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2.0 * sigma**2))

    def update(e: F64, idx: int, sign: float) -> None:
        i, j = divmod(idx, size)
        e[np.ix_((i + off) % size, (j + off) % size)] += sign * ker

    ones = np.zeros((size, size), dtype=bool)
    ones.flat[rng.choice(n, n // 10, replace=False)] = True
    energy = np.real(np.fft.ifft2(np.fft.fft2(ones) * np.fft.fft2(full)))
    for _ in range(n):  # relax the initial pattern: move the tightest cluster into the largest void
        cluster = int(np.argmax(np.where(ones, energy, -np.inf)))
        ones.flat[cluster] = False
        update(energy, cluster, -1.0)
        void = int(np.argmin(np.where(ones, np.inf, energy)))
        ones.flat[void] = True
        update(energy, void, 1.0)
        if void == cluster:
            break
    ranks = np.zeros(n, dtype=np.int64)
    b1, e1 = ones.copy(), energy.copy()
    for k in range(int(ones.sum()) - 1, -1, -1):  # phase 1: remove tightest clusters
        idx = int(np.argmax(np.where(b1, e1, -np.inf)))
        ranks[idx] = k
        b1.flat[idx] = False
        update(e1, idx, -1.0)
    b2, e2 = ones.copy(), energy.copy()
    for k in range(int(ones.sum()), n):  # phases 2 and 3: fill the largest voids (= tightest zero clusters)
        idx = int(np.argmin(np.where(b2, np.inf, e2)))
        ranks[idx] = k
        b2.flat[idx] = True
        update(e2, idx, 1.0)
    return ((ranks + 0.5) / n).reshape(size, size)


@lru_cache(maxsize=1)
def fm_screen() -> tuple[FloatArray, F64]:
    """The FM rank tile (N, N) float32 in (0, 1), uniform over its area, and its contour gradient per level
    (per cell length): blue-noise thresholds per cell, smoothed into round droplets, then ranked by area."""
    field = np.kron(blue_noise_ranks(), np.ones((FM_TILE_PX, FM_TILE_PX)))
    f = np.fft.fftfreq(field.shape[0])
    s = FM_DROPLET_SMOOTH * FM_TILE_PX
    field = np.real(np.fft.ifft2(np.fft.fft2(field) * np.exp(-2 * np.pi**2 * s**2 * (f[:, None] ** 2 + f**2))))
    rank = ((_sort_with_ranks(np.asarray(field, dtype=np.float64).ravel())[1] + 0.5) / field.size).reshape(field.shape)
    gy = (np.roll(rank, -1, 0) - np.roll(rank, 1, 0)) * (FM_TILE_PX / 2.0)
    gx = (np.roll(rank, -1, 1) - np.roll(rank, 1, 1)) * (FM_TILE_PX / 2.0)
    return rank.astype(np.float32), _contour_gradient(rank.ravel(), np.hypot(gx, gy).ravel())


def fm_luts(area: F64, inv_ref: float) -> ScreenLuts:
    """FM tables (threshold = printed area) for areas `area` (256,) per level, cell / footprint `inv_ref`."""
    half = np.maximum(np.minimum(area, 1.0 - area), 1e-5)
    slope = np.maximum(inv_ref / np.maximum(np.interp(area, LEVELS, fm_screen()[1]), 1e-3), 0.5 / half)
    thr = np.where(area <= 0.0, -1e3, np.where(area >= 1.0, 1e3, area))  # ranks lie in (0, 1)
    return ScreenLuts(_lut(area), _lut(thr), _lut(slope))


def unresolved_blend(cells_per_footprint: FloatArray) -> FloatArray:
    """Blend weight towards the mean coverage: 0 below 0.5 cell per footprint, 1 above 2 (smoothstep)."""
    t = np.clip((cells_per_footprint - np.float32(0.5)) / np.float32(1.5), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


@dataclass(frozen=True)
class Footprint:
    """The sample footprint measured in screen cells, shared by all inks of one screen.

    inv_ref: cell / median footprint; rel: per-sample factor on the ramp slope (median / footprint; None for
    a uniform footprint); beta: blend weight towards the mean coverage where the structure is not resolvable
    (None when every sample resolves it); solid: every sample is fully unresolved (beta = 1).
    """

    inv_ref: float
    rel: FloatArray | None
    beta: FloatArray | float | None
    solid: bool

    @staticmethod
    def of(footprint_mm: FloatArray | float, cell_mm: float) -> Footprint:
        if np.ndim(footprint_mm) == 0:
            w = float(footprint_mm) / cell_mm
            b = float(unresolved_blend(np.full(1, w, dtype=np.float32))[0])
            return Footprint(inv_ref=1.0 / w, rel=None, beta=b if b > 0 else None, solid=b >= 1.0)
        foot = np.asarray(footprint_mm, dtype=np.float32)
        step = max(1, min(foot.shape) // 64)
        sub = np.ascontiguousarray(foot[::step, ::step])  # the footprint is smooth (a homography): subsample
        med, lo, hi = float(np.median(sub)), float(sub.min()), float(sub.max())
        if hi <= 1.1 * lo:  # practically uniform: one slope for all samples
            return Footprint.of(med, cell_mm)
        rel = np.float32(med) / foot
        beta: FloatArray | None = None
        if hi / cell_mm > 0.5:
            size = (foot.shape[1], foot.shape[0])
            blend = unresolved_blend(sub / np.float32(cell_mm))
            beta = np.asarray(cv2.resize(blend, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        return Footprint(inv_ref=cell_mm / med, rel=rel, beta=beta, solid=lo / cell_mm >= 2.0)

    def rows(self, sl: slice) -> Footprint:
        """The footprint of a strip of rows."""
        beta = self.beta[sl] if isinstance(self.beta, np.ndarray) else self.beta
        return Footprint(self.inv_ref, None if self.rel is None else self.rel[sl], beta, self.solid)


def _ramp(dist: FloatArray, c8: NDArray[np.uint8], luts: ScreenLuts, fp: Footprint) -> FloatArray:
    """ink = clip(dist * slope(c) * rel + 1/2), then the blend towards the mean where unresolved."""
    dist *= np.asarray(cv2.LUT(c8, luts.slope))
    if fp.rel is not None:
        dist *= fp.rel
    dist += np.float32(0.5)
    np.clip(dist, 0.0, 1.0, out=dist)
    if fp.beta is not None:  # unresolvable structure: converge to the box-filtered mean
        dist += (np.asarray(cv2.LUT(c8, luts.coverage)) - dist) * fp.beta
    return dist


def tile_coord(x_mm: FloatArray, y_mm: FloatArray, a: float, b: float, offset: float, period: float) -> FloatArray:
    """a * x + b * y + offset reduced modulo `period` into [0, period): cv2.remap wraps slowly (and converts
    to int16) outside the tile, so remap is only ever given in-range texel coordinates."""
    u = np.asarray(cv2.addWeighted(x_mm, a / period, y_mm, b / period, offset / period), dtype=np.float32)
    u -= np.floor(u)
    u *= np.float32(period)
    return u


def _to_levels(coverage: FloatArray) -> NDArray[np.uint8]:
    return np.asarray(cv2.convertScaleAbs(np.asarray(coverage, dtype=np.float32), alpha=255.0), dtype=np.uint8)


@register_op("printing.halftone_am")
def am_ink_fraction(
    coverage: FloatArray,
    x_mm: FloatArray,
    y_mm: FloatArray,
    footprint_mm: FloatArray | float,
    lpi: float,
    angle_deg: float,
    phase: tuple[float, float] = (0.0, 0.0),
    dot_gain: float = 0.0,
) -> FloatArray:
    """Area-prefiltered AM ink fraction (H, W) float32 in [0, 1] of one ink at the sheet points (x_mm, y_mm).

    coverage: (H, W) nominal dot area in [0, 1]; footprint_mm: sample side in mm (scalar or (H, W));
    lpi: ruling (lines per inch); angle_deg: screen angle (page convention); phase: screen origin in cells;
    dot_gain: mechanical gain at 50 %.
    """
    fp = Footprint.of(footprint_mm, 25.4 / lpi)
    luts = am_luts(mechanical_dot_gain(LEVELS, dot_gain), fp.inv_ref)
    return am_ink(_to_levels(coverage), x_mm, y_mm, fp, lpi, angle_deg, phase, luts)


def am_ink(
    c8: NDArray[np.uint8],
    x_mm: FloatArray,
    y_mm: FloatArray,
    fp: Footprint,
    lpi: float,
    angle_deg: float,
    phase: tuple[float, float],
    luts: ScreenLuts,
) -> FloatArray:
    """am_ink_fraction from 8-bit coverage levels, with the footprint already measured in cells."""
    if fp.solid:
        return np.asarray(cv2.LUT(c8, luts.coverage))
    th = np.deg2rad(angle_deg)
    f = 2.0 * np.pi * lpi / 25.4
    cos_t, sin_t = float(np.cos(th)) * f, float(np.sin(th)) * f
    u = np.asarray(cv2.addWeighted(x_mm, cos_t, y_mm, -sin_t, 2.0 * np.pi * phase[0]), dtype=np.float32)
    v = np.asarray(cv2.addWeighted(x_mm, sin_t, y_mm, cos_t, 2.0 * np.pi * phase[1]), dtype=np.float32)
    np.cos(u, out=u)
    u += np.cos(v, out=v)  # u = -s
    u += np.asarray(cv2.LUT(c8, luts.threshold))  # S - s
    return _ramp(u, c8, luts, fp)


@lru_cache(maxsize=4)
def fm_tiles(seed: int, channels: int) -> FloatArray:
    """Per-ink FM rank tiles stacked (N, N, channels): distinct dihedral symmetries and torus shifts of the
    blue-noise tile (interleaved, so one remap gathers all inks)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x464D])))
    base = fm_screen()[0]
    sym = rng.permutation(8)[:channels]
    shifts = rng.integers(0, FM_CELLS, size=(channels, 2)) * FM_TILE_PX
    out = []
    for s, (dy, dx) in zip(sym, shifts, strict=True):
        t = np.rot90(base, int(s) % 4)
        t = t.T if s >= 4 else t
        out.append(np.roll(t, (int(dy), int(dx)), axis=(0, 1)))
    return np.ascontiguousarray(np.stack(out, axis=-1), dtype=np.float32)


@register_op("printing.halftone_fm")
def fm_ink_fraction(
    coverage: FloatArray,
    x_mm: FloatArray,
    y_mm: FloatArray,
    footprint_mm: FloatArray | float,
    dot_um: float,
    seed: int,
    dot_gain: float = 0.0,
) -> FloatArray:
    """Area-prefiltered FM (blue-noise) ink fractions (H, W, C) float32 in [0, 1] for C = 1..4 inks.

    coverage: (H, W, C) nominal coverage; dot_um: printer cell / droplet size in micrometres; seed picks the
    per-ink symmetry and shift of the threshold array; dot_gain: mechanical gain at 50 %.
    """
    levels = [_to_levels(coverage[..., c]) for c in range(coverage.shape[2])]
    fp = Footprint.of(footprint_mm, dot_um / 1000.0)
    luts = fm_luts(mechanical_dot_gain(LEVELS, dot_gain), fp.inv_ref)
    return np.stack(fm_ink(levels, x_mm, y_mm, fp, dot_um, seed, [luts] * len(levels)), axis=-1)


def fm_ink(
    c8: list[NDArray[np.uint8]],
    x_mm: FloatArray,
    y_mm: FloatArray,
    fp: Footprint,
    dot_um: float,
    seed: int,
    luts: list[ScreenLuts],
) -> list[FloatArray]:
    """fm_ink_fraction on a list of 8-bit coverage planes (one table set each), footprint in cells."""
    if fp.solid:
        return [np.asarray(cv2.LUT(c, lt.coverage)) for c, lt in zip(c8, luts, strict=True)]
    period = float(FM_CELLS * FM_TILE_PX)
    scale = FM_TILE_PX * 1000.0 / dot_um
    u = tile_coord(x_mm, y_mm, scale, 0.0, -0.5, period)
    v = tile_coord(x_mm, y_mm, 0.0, scale, -0.5, period)
    ranks = cv2.split(cv2.remap(fm_tiles(seed, len(c8)), u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP))
    out = []
    for r, c, lt in zip(ranks, c8, luts, strict=True):
        rank = np.asarray(r, dtype=np.float32)
        np.subtract(np.asarray(cv2.LUT(c, lt.threshold)), rank, out=rank)
        out.append(_ramp(rank, c, lt, fp))
    return out
