"""Paper: texture in sheet millimetres, light through the ink layer and lateral scattering in the sheet.

Texture is a multiplicative modulation of the paper's diffuse reflectance, 1 + amplitude * n(x, y), n
zero-mean with unit standard deviation at fine scale. Two periodic tiles with incommensurate periods are
summed so that no repetition shows: fibres (20-40 um wide, 0.3-1.5 mm long, partly aligned with the machine
direction, drawn as anti-aliased segments on a 10.24 mm torus at 0.02 mm per texel; one shared network, each
sheet uses one of its 8 symmetries and a random shift) and formation (band-passed noise with a ~2 mm floc
scale on a 32 mm torus, drawn per sheet). The tiles live in sheet millimetres, so the texture scales with
distance and moves with the sheet. The fibre tile is prefiltered with a Gaussian matched to the sample
footprint (std 0.3 x footprint, the std of a box of that width).

Light through the ink layer: single-pass transmittance T of the inks over the paper (Yule-Nielsen mixing of
the ink fraction inside one sample), and lateral scattering: light entering the paper next to a dot can exit
under it (optical dot gain), the blur G_sigma in R = T * (G_sigma * T). `scatter_sigma_cells` calibrates
sigma so that a 50 % screen shows the requested Yule-Nielsen n (n grows from 1 to 2 as the spread covers a
cell; Arney, Rogers).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from capture_sim.presentation.halftone import FM_TILE_PX, fm_screen, tile_coord

FloatArray = NDArray[np.float32]
F64 = NDArray[np.float64]

FIBRE_TEXEL_MM = 0.02
FIBRE_TILE = 512
FORMATION_TEXEL_MM = 0.125
FORMATION_TILE = 256


def _normalise(a: F64) -> FloatArray:
    a = a - a.mean()
    return np.asarray(a / max(float(a.std()), 1e-9), dtype=np.float32)


@lru_cache(maxsize=1)
def fibre_network() -> FloatArray:
    """The fibre tile (zero mean, unit std), generated once from a fixed seed; sheets use symmetries of it."""
    rng = np.random.Generator(np.random.PCG64(0x50415045))
    n = FIBRE_TILE
    canvas = np.zeros((3 * n, 3 * n), dtype=np.float32)  # a 3 x 3 torus unfolding, folded back below
    count = 12000
    length = np.clip(rng.lognormal(np.log(0.6 / FIBRE_TEXEL_MM), 0.4, count), 10.0, 100.0)
    angle = rng.normal(0.0, 0.7, count)  # fibres partly aligned with the machine direction
    cx, cy = rng.uniform(n, 2 * n, count), rng.uniform(n, 2 * n, count)
    dx, dy = 0.5 * length * np.cos(angle), 0.5 * length * np.sin(angle)
    level = rng.integers(0, 4, count)
    shift = 4  # fixed-point fraction bits for cv2 drawing
    for k in range(4):
        sel = level == k
        ends = [
            np.stack([cx[sel] - dx[sel], cy[sel] - dy[sel]], -1),
            np.stack([cx[sel] + dx[sel], cy[sel] + dy[sel]], -1),
        ]
        pts = np.rint(np.stack(ends, axis=1) * (1 << shift)).astype(np.int32)
        layer = np.zeros_like(canvas)
        cv2.polylines(layer, list(pts), False, 1.0, thickness=1 + (k % 2), lineType=cv2.LINE_AA, shift=shift)
        canvas += layer * np.float32(0.6 + 0.15 * k)
    fibre = canvas.reshape(3, n, 3, n).sum(axis=(0, 2)).astype(np.float64)
    blurred = np.asarray(cv2.GaussianBlur(np.pad(fibre, 8, mode="wrap"), (0, 0), 0.6), dtype=np.float64)
    return _normalise(blurred[8:-8, 8:-8])


@lru_cache(maxsize=8)
def paper_tiles(seed: int) -> tuple[FloatArray, FloatArray]:
    """(fibre, formation) tiles of one sheet, zero mean and unit std, deterministic from `seed`."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x50415045])))
    sym = int(rng.integers(0, 8))
    fibre = np.rot90(fibre_network(), sym % 4)
    fibre = fibre.T if sym >= 4 else fibre
    fibre = np.ascontiguousarray(np.roll(fibre, tuple(int(s) for s in rng.integers(0, FIBRE_TILE, 2)), axis=(0, 1)))
    f = np.fft.fftfreq(FORMATION_TILE, d=FORMATION_TEXEL_MM)
    fr = np.hypot(f[:, None], f[None, :])
    shape = np.exp(-0.5 * (np.log(np.maximum(fr, 1e-6) / 0.5) / 0.8) ** 2)  # flocs around 0.5 cycles / mm
    shape[0, 0] = 0.0
    noise = rng.standard_normal((FORMATION_TILE, FORMATION_TILE))
    return fibre, _normalise(np.real(np.fft.ifft2(np.fft.fft2(noise) * shape)))


def _sample(tile: FloatArray, x_mm: FloatArray, y_mm: FloatArray, texel_mm: float) -> FloatArray:
    inv, n = 1.0 / texel_mm, float(tile.shape[0])
    u, v = tile_coord(x_mm, y_mm, inv, 0.0, -0.5, n), tile_coord(x_mm, y_mm, 0.0, inv, -0.5, n)
    return np.asarray(cv2.remap(tile, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP))


@register_op("printing.paper_texture")
def paper_texture(
    x_mm: FloatArray, y_mm: FloatArray, footprint_mm: FloatArray | float, amplitude: float, seed: int
) -> FloatArray:
    """Multiplicative paper texture (H, W) float32 around 1 (>= 0.3) at sheet points (x_mm, y_mm) in mm.

    amplitude: relative texture strength (0-0.12); footprint_mm: sample side in mm (median used to prefilter).
    Large grids are evaluated on every second sample and interpolated (the camera integrates >= 2 x 2 samples
    per pixel; the prefilter is widened to match).
    """
    shape = x_mm.shape
    if amplitude <= 0.0:
        return np.ones(shape, dtype=np.float32)
    fibre, formation = paper_tiles(seed)
    step = 2 if min(shape) >= 64 else 1
    xs = np.ascontiguousarray(x_mm[::step, ::step], dtype=np.float32)
    ys = np.ascontiguousarray(y_mm[::step, ::step], dtype=np.float32)
    foot = step * float(np.median(np.asarray(footprint_mm)[::7, ::7] if np.ndim(footprint_mm) else footprint_mm))
    sigma = 0.3 * foot / FIBRE_TEXEL_MM
    pad = int(np.ceil(3 * sigma)) + 1
    if pad >= FIBRE_TILE // 2:  # footprint of millimetres: the fibres average out
        fibre = np.zeros_like(fibre)
    elif sigma > 0.3:
        blurred = cv2.GaussianBlur(np.pad(fibre, pad, mode="wrap"), (0, 0), sigma)
        fibre = np.asarray(blurred, dtype=np.float32)[pad:-pad, pad:-pad]
    fib = np.ascontiguousarray(np.clip(fibre, -3.5, 3.5) * np.float32(0.75 * amplitude) + np.float32(1.0))
    out = _sample(fib, xs, ys, FIBRE_TEXEL_MM)
    form = np.ascontiguousarray(np.clip(formation, -3.5, 3.5) * np.float32(0.65 * amplitude))
    sub = 4 if min(xs.shape) >= 16 else 1  # formation is smooth at the sample scale: evaluate sparsely
    flocs = _sample(
        form,
        np.ascontiguousarray(xs[::sub, ::sub]),
        np.ascontiguousarray(ys[::sub, ::sub]),
        FORMATION_TEXEL_MM,
    )
    out += (
        np.asarray(cv2.resize(flocs, (xs.shape[1], xs.shape[0]), interpolation=cv2.INTER_LINEAR)) if sub > 1 else flocs
    )
    return np.asarray(cv2.resize(out, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)) if step > 1 else out


def paper_scatter(trans: FloatArray, sigma_px: float) -> FloatArray:
    """G_sigma * T on the sample grid (reflected borders), sigma in samples; large sigmas blur a decimated
    copy.
    Returns `trans` itself when sigma < 0.35 sample (no measurable spread)."""
    if sigma_px < 0.35:
        return trans
    h, w = trans.shape[:2]
    f = int(max(1, sigma_px // 2.5))
    if f == 1:
        return np.asarray(cv2.GaussianBlur(trans, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT))
    small = cv2.resize(trans, (max(1, -(-w // f)), max(1, -(-h // f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / f, borderType=cv2.BORDER_REFLECT)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def yule_nielsen_coefficients(t: F64, n: float) -> tuple[F64, F64]:
    """Fit f(a) ~ 1 + k1 a + k2 a (1 - a) of (1 - a + a t^(1/n))^(n/2), exact at a = 0 and a = 1."""
    a = np.linspace(0.0, 1.0, 65)[:, None, None]
    f = (1.0 - a + a * t[None] ** (1.0 / n)) ** (n / 2.0)
    k1 = np.sqrt(t) - 1.0
    q = a * (1.0 - a)
    return k1, np.sum((f - 1.0 - k1[None] * a) * q, axis=0) / np.sum(q * q)


def ink_layer_transmittance(
    trans: list[FloatArray], k1: list[F64], k2: list[F64], fracs: list[FloatArray], root_w: F64
) -> None:
    """Single-pass transmittance T of the ink layer into `trans` (paper whiteness folded in as its square
    root): each ink with sample fraction a multiplies T by 1 + k1 a + k2 a (1 - a), the fit of the
    Yule-Nielsen mixing (1 - a + a t^(1/n))^(n/2) (exact for a = 0 and 1)."""
    f = np.empty(trans[0].shape, dtype=np.float32)
    q = np.empty(trans[0].shape, dtype=np.float32)
    for n, a in enumerate(fracs):
        np.multiply(a, a, out=q)
        np.subtract(a, q, out=q)
        for c in range(3):
            scale = float(root_w[c]) if n == 0 else 1.0
            cv2.addWeighted(
                a, float(k1[n][c]) * scale, q, float(k2[n][c]) * scale, scale, dst=trans[c] if n == 0 else f
            )
            if n > 0:
                trans[c] *= f


def scatter_sigma_cells(yule_nielsen_n: float, process: str) -> float:
    """Lateral scattering length, in screen cells, at which a 50 % screen of `process` ("am" / "fm") shows the
    Yule-Nielsen n: mean of T * (G_sigma * T) = (1/2 + t^(1/n) / 2)^n with a reference ink t = 0.1, from the
    power spectrum of the binary 50 % pattern. n at or below ~1 gives 0; n beyond ~2 saturates (4 cells)."""
    sig, n_eff = _yn_table(process)
    if yule_nielsen_n <= n_eff[0]:
        return 0.0
    return float(np.interp(yule_nielsen_n, n_eff, sig))


def effective_n(sigma_cells: float, process: str = "am") -> float:
    """The Yule-Nielsen n that lateral scattering of `sigma_cells` (in cells of the structure) produces."""
    sig, n_eff = _yn_table(process)
    return float(np.interp(sigma_cells, sig, n_eff, left=1.0))


@lru_cache(maxsize=4)
def _yn_table(process: str) -> tuple[F64, F64]:
    if process == "am":
        ph = 2 * np.pi * (np.arange(128) + 0.5) / 128
        binary, px = ((np.cos(ph)[:, None] + np.cos(ph)[None, :]) > 0.0).astype(np.float64), 128.0  # s < 0
    else:
        binary, px = (fm_screen()[0] < 0.5).astype(np.float64), float(FM_TILE_PX)
    t_ref = 0.1
    trans = 1.0 - binary * (1.0 - np.sqrt(t_ref))
    power = np.abs(np.fft.fft2(trans)) ** 2 / trans.size**2
    fy, fx = np.fft.fftfreq(trans.shape[0]), np.fft.fftfreq(trans.shape[1])
    f2 = fy[:, None] ** 2 + fx[None, :] ** 2
    sig = np.geomspace(0.005, 4.0, 48)
    refl = np.array([np.sum(power * np.exp(-2.0 * np.pi**2 * (s * px) ** 2 * f2)) for s in sig])
    n_grid = np.linspace(1.0, 4.0, 3001)
    yn = (0.5 + 0.5 * t_ref ** (1.0 / n_grid)) ** n_grid  # decreasing in n
    return sig, np.maximum.accumulate(np.interp(-refl, -yn, n_grid))
