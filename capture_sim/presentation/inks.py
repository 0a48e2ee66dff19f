"""The print driver's colour separation and the ink model of a printed copy.

- Separation (a calibrated driver): linear reflectance relative to paper -> channel densities -> solid-ink
  amounts by the masking equations, full grey-component replacement into K, 280 % total area limit; amounts
  become dot areas through the Yule-Nielsen inverse. Grey copy: luminance -> K only. Contone: dye amounts.
- Inks are imperfect filters: a solid ink has a linear-RGB double-pass transmittance t (rows C, M, Y, K);
  `ink_density` scales absorbance, t -> t ** density.
- Printed dot area per amount level: the Yule-Nielsen inverse, then mechanical dot gain (not compensated by
  the driver).

Used by capture_sim.presentation.printing, which renders the printed sheet's reflectance.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.color import srgb_to_linear
from capture_sim.ops import register_op
from capture_sim.presentation.halftone import LEVELS, mechanical_dot_gain

if TYPE_CHECKING:
    from capture_sim.presentation.printing import PrintParams

FloatArray = NDArray[np.float32]
F64 = NDArray[np.float64]

STRIP_ROWS = 32  # rows per strip of the per-sample stages (keeps the working set in cache)
_TOTAL_AREA_LIMIT = 2.8  # total ink coverage limit (sum of dot areas) of the driver
_MAIN_CHANNEL = (0, 1, 2, 1)  # the channel each ink (C, M, Y, K) controls: R, G, B; K by green

# Solid-ink double-pass transmittance (solid patch / paper reflectance), linear RGB; rows C, M, Y, K.
PIGMENT_INKS = np.array([[0.10, 0.42, 0.80], [0.68, 0.10, 0.38], [0.92, 0.80, 0.07], [0.035, 0.035, 0.04]])
DYE_INKS = np.array([[0.07, 0.36, 0.85], [0.70, 0.07, 0.34], [0.94, 0.85, 0.06], [1.0, 1.0, 1.0]])
COPIER_TONER = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.06, 0.06, 0.065]])


def ink_transmittance(params: PrintParams) -> F64:
    """(4, 3) solid-ink double-pass transmittance (rows C, M, Y, K; linear RGB) after the density scale."""
    base = COPIER_TONER if params.grey else (DYE_INKS if params.process == "contone" else PIGMENT_INKS)
    return np.asarray(base**params.ink_density, dtype=np.float64)


@register_op("printing.separate_inks")
def separate_inks(content_srgb: NDArray[np.uint8], params: PrintParams) -> FloatArray:
    """sRGB uint8 (H, W, 3) -> nominal ink amounts (H, W, 4) float32 in [0, 1] for C, M, Y, K.

    AM / FM: dot areas (before mechanical dot gain, which the driver does not compensate); contone: dye
    amounts. Grey copy: K only.
    """
    amounts = separate_amounts(content_srgb, params)
    if params.process != "contone":
        t, n = ink_transmittance(params), params.yule_nielsen_n
        amounts = [
            _halftone_area(a, float(t[i, _MAIN_CHANNEL[i]]), n).astype(np.float32) for i, a in enumerate(amounts)
        ]
    return np.asarray(cv2.merge(amounts))


def separate_amounts(content_srgb: NDArray[np.uint8], params: PrintParams) -> list[FloatArray]:
    """Solid-ink (or dye) amounts per plane C, M, Y, K at content resolution (in row strips)."""
    out = [np.empty(content_srgb.shape[:2], dtype=np.float32) for _ in range(4)]
    for r0 in range(0, content_srgb.shape[0], STRIP_ROWS):
        for dst, src in zip(out, _separate_block(content_srgb[r0 : r0 + STRIP_ROWS], params), strict=True):
            dst[r0 : r0 + STRIP_ROWS] = src
    return out


def _separate_block(content_srgb: NDArray[np.uint8], params: PrintParams) -> list[FloatArray]:
    dens = [np.asarray(cv2.LUT(p, _density_lut())) for p in cv2.split(content_srgb)]
    d_ink = -np.log(ink_transmittance(params))  # (4 inks, 3 channels) solid densities
    zero = np.zeros(dens[0].shape, dtype=np.float32)
    if params.grey:  # luminance density, K only
        lum = np.exp(-dens[0]) * np.float32(0.2126) + np.exp(-dens[1]) * np.float32(0.7152)
        lum += np.exp(-dens[2]) * np.float32(0.0722)
        return [zero, zero, zero, np.clip(np.log(lum) * np.float32(-1.0 / d_ink[3, 1]), 0.0, 1.0)]
    inv = np.linalg.inv(d_ink[:3])  # masking equations: channel densities D = sum_i amount_i * d_i
    amt = [dens[0] * np.float32(inv[0, i]) + dens[1] * np.float32(inv[1, i]) for i in range(3)]
    for i in range(3):
        amt[i] += dens[2] * np.float32(inv[2, i])
    if params.process == "contone":
        return [np.clip(a, 0.0, 1.0, out=a) for a in amt] + [zero]
    grey = np.maximum(np.minimum(np.minimum(amt[0], amt[1]), amt[2]), np.float32(0.0))
    k = np.clip(grey * np.float32(d_ink[:3].sum(axis=0).mean() / d_ink[3].mean()), 0.0, 1.0)  # full GCR
    v = d_ink[3] @ inv  # what one unit of K does to the CMY amounts
    cmy = [np.clip(a - k * np.float32(v[i]), 0.0, 1.0) for i, a in enumerate(amt)]
    total = np.maximum(cmy[0] + cmy[1] + cmy[2], np.float32(1e-6))
    scale = np.minimum(np.float32(1.0), (np.float32(_TOTAL_AREA_LIMIT) - k) / total)
    return [c * scale for c in cmy] + [k]


@lru_cache(maxsize=1)
def _density_lut() -> FloatArray:
    lin = srgb_to_linear(np.arange(256, dtype=np.uint8)).astype(np.float64)
    return float_lut(-np.log(np.maximum(lin, 1e-4)))


def float_lut(values: F64) -> FloatArray:
    """256 values as a float32 (1, 256) lookup table for cv2.LUT."""
    return np.asarray(values, dtype=np.float32).reshape(1, 256)


def _halftone_area(amount: NDArray[np.floating], t_main: float, n: float) -> F64:
    """Dot area whose Yule-Nielsen reflectance equals the solid fraction t**amount (driver linearisation)."""
    if t_main >= 1.0:  # an ink that is not used (a grey copy's C, M, Y)
        return np.zeros(np.shape(amount))
    tau = t_main ** (1.0 / n)
    return np.clip((1.0 - np.exp(amount * (np.log(t_main) / n))) / (1.0 - tau), 0.0, 1.0)


def area_levels(params: PrintParams, ink: int) -> F64:
    """Printed dot area per 8-bit amount level of one ink: Yule-Nielsen inverse, then mechanical dot gain."""
    t = float(ink_transmittance(params)[ink, _MAIN_CHANNEL[ink]])
    return mechanical_dot_gain(_halftone_area(LEVELS, t, params.yule_nielsen_n), params.dot_gain)
