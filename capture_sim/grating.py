"""OVD foil gratings: per-texel grating vectors and periods, and the radiance a grating diffracts to the viewer.

Grating equation (orders m = 1, 2, 3): lambda_m = d * |T . (L + V)| / m, T the unit grating vector in the card plane,
d the period; the orders' spectra are gathered from one table indexed by the path difference d |T . (L + V)|.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from capture_sim.color import wavelength_to_linear_rgb

FloatArray = NDArray[np.float32]
ANGULAR_SPREAD = 0.18  # width of the diffracted beam across T (a compact lamp's extent, foil micro-curvature)
EFFICIENCY = 2.5


@lru_cache(maxsize=1)
def wavelength_lut() -> FloatArray:
    """Linear RGB of 0..1023 nm in 1 nm steps (float32: it is gathered per texel, order and source offset)."""
    return wavelength_to_linear_rgb(np.arange(1024, dtype=np.float64)).astype(np.float32)


_ORDERS = ((1, 1.0), (2, 0.35), (3, 0.12))  # relative efficiencies of a shallow, roughly binary relief grating
_PATH_MAX = 1023 * len(_ORDERS)  # d |T.(L+V)| in nm beyond which every order's wavelength is past the table


@lru_cache(maxsize=4)
def _orders_lut(offsets: int) -> FloatArray:
    """Weighted spectra of all orders, indexed by the path difference X = floor(d |T.(L+V)|) in nm.

    Order m reaches the viewer at floor(X / m) nm (floor(floor(x) / m) = floor(x / m)): one gather per texel and
    source offset instead of one per order."""
    path = np.arange(_PATH_MAX + 1)
    lut = wavelength_lut()
    table = np.zeros((path.size, 3), dtype=np.float32)
    for order, weight in _ORDERS:
        table += lut[np.minimum(path // order, 1023)] * np.float32(weight / offsets)
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class Grating:
    """A foil's grating per texel (any shape): the direction of its vector T in the card plane and its period."""

    cos_t: FloatArray
    sin_t: FloatArray
    period_nm: FloatArray

    @classmethod
    def of(cls, angle: FloatArray, period_nm: FloatArray) -> Grating:
        """From the angle of T (radians from the card's +x towards +y) and the period in nm."""
        return cls(np.cos(angle), np.sin(angle), period_nm.astype(np.float32))


def diffracted(
    view: FloatArray,
    light: NDArray[np.floating],
    axes: tuple[FloatArray, FloatArray],
    grating: Grating,
    direct: float,
    angular_spread: float = ANGULAR_SPREAD,
    efficiency: float = EFFICIENCY,
    source_radius: float = 0.0,
) -> FloatArray:
    """Radiance (..., 3) a grating sends towards the viewer from one source (see lighting.ovd_diffraction).

    axes: the card plane's unit x axis and N x x, float32."""
    s = view + light.astype(np.float32)  # L + V
    sx = s @ axes[0]
    sy = s @ axes[1]
    along = np.abs(sx * grating.cos_t + sy * grating.sin_t)
    across = -sx * grating.sin_t + sy * grating.cos_t
    width = float(np.hypot(angular_spread, source_radius))
    spread = np.exp(np.float32(-0.5) * (across / np.float32(width)) ** 2)
    offsets = (0.0,) if source_radius == 0.0 else (-0.5 * source_radius, 0.0, 0.5 * source_radius)
    table = _orders_lut(len(offsets))
    spectra: FloatArray | None = None
    for offset in offsets:
        shifted = along if offset == 0.0 else np.abs(along + np.float32(offset))
        path = np.minimum(grating.period_nm * shifted, np.float32(_PATH_MAX)).astype(np.int32)
        part = table[path]
        spectra = part if spectra is None else np.add(spectra, part, out=spectra)
    assert spectra is not None
    spread *= np.float32(direct * efficiency * angular_spread / width)
    spectra *= spread[..., None]
    return spectra


def plane_axes(normal: NDArray[np.float64], in_plane_x: NDArray[np.float64]) -> tuple[FloatArray, FloatArray]:
    n = normal.astype(np.float32)
    ex = in_plane_x.astype(np.float32)
    return ex, np.cross(n, ex).astype(np.float32)
