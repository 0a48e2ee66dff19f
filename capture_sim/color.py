"""Colour science used by the simulator: sRGB transfer, spectra to linear sRGB, blackbody white points."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]

_XYZ_TO_LINEAR_SRGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ],
    dtype=np.float64,
)


def _decode(x: NDArray[np.floating]) -> NDArray[np.floating]:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _encode(x: NDArray[np.floating]) -> NDArray[np.floating]:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


_DECODE_U8 = _decode(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_ENCODE_STEPS = 65535
_ENCODE_LUT = _encode(np.arange(_ENCODE_STEPS + 1, dtype=np.float64) / _ENCODE_STEPS).astype(np.float32)


def srgb_to_linear(srgb: NDArray[np.generic]) -> FloatArray:
    """sRGB-encoded values (uint8 0..255 or float 0..1) to linear light in 0..1 (IEC 61966-2-1)."""
    if srgb.dtype == np.uint8:
        return _DECODE_U8[srgb]
    return np.asarray(_decode(srgb.astype(np.float32)), dtype=np.float32)


def linear_to_srgb(linear: NDArray[np.floating]) -> FloatArray:
    """Linear light (clipped to 0..1) to sRGB-encoded floats in 0..1 (table with 1/65535 steps)."""
    index = np.clip(linear, 0.0, 1.0) * np.float32(_ENCODE_STEPS) + np.float32(0.5)
    return _ENCODE_LUT[index.astype(np.int32)]


_ENCODE_U8 = np.round(_ENCODE_LUT * 255.0).astype(np.uint8)


def linear_to_srgb_u8(linear: NDArray[np.floating]) -> NDArray[np.uint8]:
    """round(linear_to_srgb(linear) * 255) as uint8, from one table lookup."""
    index = np.clip(linear, 0.0, 1.0)
    index *= np.float32(_ENCODE_STEPS)
    index += np.float32(0.5)
    return _ENCODE_U8[index.astype(np.uint16)]  # 16-bit indices (<= 65535.5 truncates to 65535): a faster gather


def _g(x: NDArray[np.float64], mu: float, s1: float, s2: float) -> NDArray[np.float64]:
    sigma = np.where(x < mu, s1, s2)
    return np.asarray(np.exp(-0.5 * ((x - mu) / sigma) ** 2))


def cie_xyz_cmf(wavelength_nm: NDArray[np.floating]) -> NDArray[np.float64]:
    """CIE 1931 2-degree colour matching functions, multi-lobe analytic fit (Wyman, Sloan & Shirley 2013)."""
    w = np.asarray(wavelength_nm, dtype=np.float64)
    x = 1.056 * _g(w, 599.8, 37.9, 31.0) + 0.362 * _g(w, 442.0, 16.0, 26.7) - 0.065 * _g(w, 501.1, 20.4, 26.2)
    y = 0.821 * _g(w, 568.8, 46.9, 40.5) + 0.286 * _g(w, 530.9, 16.3, 31.1)
    z = 1.217 * _g(w, 437.0, 11.8, 36.0) + 0.681 * _g(w, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], axis=-1)


def wavelength_to_linear_rgb(wavelength_nm: NDArray[np.floating]) -> FloatArray:
    """Linear sRGB of monochromatic light of unit power (outside 380-750 nm: black), gamut-clipped to >= 0.

    Scaled so that the brightest visible wavelength has a luminance of about 1.
    """
    w = np.asarray(wavelength_nm, dtype=np.float64)
    xyz = cie_xyz_cmf(w)
    rgb = xyz @ _XYZ_TO_LINEAR_SRGB.T
    visible = ((w >= 380.0) & (w <= 750.0))[..., None]
    rgb = np.where(visible, np.clip(rgb, 0.0, None), 0.0) / 1.9
    return rgb.astype(np.float32)


def blackbody_linear_rgb(kelvin: float) -> FloatArray:
    """Linear sRGB of a blackbody radiator, normalised to green = 1 (used for illuminants and white points)."""
    wl = np.arange(380.0, 751.0, 5.0)
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    lam = wl * 1e-9
    power = 1.0 / (lam**5 * (np.exp(h * c / (lam * k * kelvin)) - 1.0))
    xyz = (cie_xyz_cmf(wl) * power[:, None]).sum(axis=0)
    rgb = np.clip(_XYZ_TO_LINEAR_SRGB @ xyz, 1e-6, None)
    d65 = np.clip(_XYZ_TO_LINEAR_SRGB @ (cie_xyz_cmf(wl) * _planck_reference(lam)[:, None]).sum(axis=0), 1e-6, None)
    rgb = rgb / d65  # 6504 K maps to (1, 1, 1)
    return (rgb / rgb[1]).astype(np.float32)


def _planck_reference(lam: NDArray[np.float64]) -> NDArray[np.float64]:
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    return np.asarray(1.0 / (lam**5 * (np.exp(h * c / (lam * k * 6504.0)) - 1.0)))


def luminance(linear_rgb: NDArray[np.floating]) -> FloatArray:
    """Relative luminance Y of linear sRGB."""
    weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    return np.asarray(linear_rgb, dtype=np.float32) @ weights
