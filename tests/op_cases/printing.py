"""Op cases for the print recapture ops (capture_sim.presentation.printing / halftone / paper)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capture_sim.presentation.halftone import am_ink_fraction, fm_ink_fraction
from capture_sim.presentation.paper import paper_texture
from capture_sim.presentation.printing import PrintParams, print_reflectance, separate_inks

_PARAMS = PrintParams("laser_am", "am", False, lpi=150.0, dot_gain=0.1, paper_texture=0.04)


def _check(a: np.ndarray, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> None:
    assert a.shape == shape
    assert a.dtype == np.float32
    assert a.min() >= low
    assert a.max() <= high


def _grid(n: int = 48, foot: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(10 + np.arange(n, dtype=np.float32) * foot, 10 + np.arange(n, dtype=np.float32) * foot)
    return x.astype(np.float32), y.astype(np.float32)


def _halftone_am() -> None:
    x, y = _grid()
    ink = am_ink_fraction(np.full(x.shape, 0.3, np.float32), x, y, 0.02, 150.0, 45.0)
    _check(ink, x.shape)
    assert abs(float(ink.mean()) - 0.3) < 0.05  # dot area = coverage
    assert float(ink.min()) == 0.0  # resolved dots on bare paper
    assert float(ink.max()) == 1.0


def _halftone_fm() -> None:
    x, y = _grid(64, 0.01)
    cov = np.full((*x.shape, 2), 0.5, np.float32)
    ink = fm_ink_fraction(cov, x, y, 0.01, 30.0, seed=1)
    _check(ink, (64, 64, 2))
    assert abs(float(ink.mean()) - 0.5) < 0.05
    assert np.abs(ink[..., 0] - ink[..., 1]).mean() > 0.2  # inks use decorrelated thresholds


def _paper_texture() -> None:
    x, y = _grid()
    tex = paper_texture(x, y, 0.02, 0.08, seed=3)
    _check(tex, x.shape, 0.3, 1.7)
    assert 0.01 < float(tex.std()) < 0.2  # a texture of the requested order
    assert np.array_equal(
        paper_texture(x + np.float32(10.24), y, 0.02, 0.0, seed=3), np.ones_like(tex)
    )  # amplitude 0: flat


def _separate_inks() -> None:
    rgb = np.array([[[255, 255, 255], [0, 255, 255], [128, 128, 128]]], dtype=np.uint8)
    inks = separate_inks(rgb, _PARAMS)
    _check(inks, (1, 3, 4))
    assert inks[0, 0].max() == 0.0  # white: no ink
    assert inks[0, 1, 0] > 0.9  # cyan: mostly C
    assert inks[0, 1, 3] < 0.05
    assert inks[0, 2, 3] > inks[0, 2, :3].max()  # neutral grey goes to K (GCR)


def _print_reflectance() -> None:
    x, y = _grid()
    content = np.zeros((27, 43, 3), dtype=np.uint8)
    content[:, 20:] = 200
    refl = print_reflectance(content, x, y, np.full(x.shape, 0.02, np.float32), _PARAMS, seed=2)
    _check(refl, (48, 48, 3))
    assert refl.max() <= max(_PARAMS.paper_white) * 1.3  # never brighter than (textured) paper


CASES: dict[str, Callable[[], None]] = {
    "printing.halftone_am": _halftone_am,
    "printing.halftone_fm": _halftone_fm,
    "printing.paper_texture": _paper_texture,
    "printing.separate_inks": _separate_inks,
    "printing.print_reflectance": _print_reflectance,
}
