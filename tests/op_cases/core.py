"""Op cases for the renderer's own ops: lighting and plane sampling."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, Pose
from capture_sim.lighting import LightParams, blinn_phong, ovd_diffraction, surface_geometry, torch_shading
from capture_sim.planes import PlaneSamples, Roi, rect_coverage, rounded_rect_coverage, sample_grid

_POSE = Pose(0.0, 5.0, 0.0, 0.0, 0.0, 120.0)
_LIGHT = LightParams(azimuth_deg=-90.0, elevation_deg=6.0, direct=1.0, ambient=0.3, color_k=6500.0)


def _blinn_phong() -> None:
    geo = surface_geometry(_POSE, _LIGHT, CARD_WIDTH_MM, CARD_HEIGHT_MM, 40, 25)
    diffuse, spec = blinn_phong(geo, 1.0, 0.3, 500.0, 0.04)
    assert diffuse.shape == spec.shape == (25, 40)
    assert spec.dtype == np.float32
    assert spec.min() >= 0.0
    assert spec.max() > 1.0
    _, dull = blinn_phong(geo, 1.0, 0.3, 5.0, 0.04)
    assert dull.max() < spec.max()


def _torch() -> None:
    geo = surface_geometry(_POSE, _LIGHT, CARD_WIDTH_MM, CARD_HEIGHT_MM, 40, 25)
    diffuse, spec = torch_shading(geo, 2.0, 500.0, 0.04)
    assert diffuse.shape == spec.shape == (25, 40)
    assert diffuse.dtype == spec.dtype == np.float32
    assert diffuse.min() > 0.0
    assert spec.min() >= 0.0
    assert spec.max() > diffuse.max()  # the lens's own light in a glossy laminate: brighter than diffuse white
    dark, _ = torch_shading(geo, 0.0, 500.0, 0.04)
    assert dark.max() == 0.0


def _ovd() -> None:
    geo = surface_geometry(_POSE, _LIGHT, CARD_WIDTH_MM, CARD_HEIGHT_MM, 16, 10)
    angle = np.zeros((10, 16), np.float32)
    rgb = ovd_diffraction(
        geo.view,
        geo.light,
        geo.normal,
        angle,
        np.full((10, 16), 1500.0, np.float32),
        _POSE.rotation[:, 0],
        1.0,
        0.5,
    )
    assert rgb.shape == (10, 16, 3)
    assert rgb.dtype == np.float32
    assert rgb.min() >= 0.0
    none = ovd_diffraction(
        geo.view, geo.light, geo.normal, angle, np.zeros((10, 16), np.float32), _POSE.rotation[:, 0], 1.0, 0.5
    )
    assert none.max() == 0.0  # no grating (d = 0) diffracts nothing visible


def _samples() -> PlaneSamples:
    x, y = np.meshgrid(np.linspace(-2, 12, 57, dtype=np.float32), np.linspace(-2, 8, 41, dtype=np.float32))
    return PlaneSamples(x, y, np.full(x.shape, 0.25, np.float32))


def _coverage() -> None:
    to_frame = np.diag([4.0, 4.0, 1.0])  # 4 frame pixels per millimetre
    cover = rounded_rect_coverage(to_frame, Roi(0, 0, 57, 41), 2.0, 2.0, 12.0, 8.0, 2.0)
    assert cover.shape == (41, 57)
    assert cover.dtype == np.float32
    assert cover.min() >= 0.0
    assert cover.max() <= 1.0
    assert cover[20, 28] == 1.0
    assert cover[0, 0] == 0.0
    assert cover[9, 9] < 0.5 < cover[9, 28]  # the rounded corner is cut off, the straight edge is not
    assert 0.0 < cover.mean() < 1.0
    assert np.any((cover > 0) & (cover < 1))


def _grid() -> None:
    grid = np.tile(np.arange(10, dtype=np.float32), (6, 1))
    out = sample_grid(grid, _samples(), 0.0, 0.0, 10.0, 6.0)
    assert out.shape == (41, 57)
    assert np.all(np.diff(out[20]) >= 0)


def _rect() -> None:
    cover = rect_coverage(_samples(), 0.0, 0.0, 10.0, 6.0)
    assert cover.shape == (41, 57)
    assert cover.dtype == np.float32
    assert cover[20, 28] == 1.0
    assert cover[0, 0] == 0.0
    assert np.any((cover > 0) & (cover < 1))  # anti-aliased edge


CASES: dict[str, Callable[[], None]] = {
    "planes.rect_coverage": _rect,
    "lighting.blinn_phong": _blinn_phong,
    "lighting.ovd_diffraction": _ovd,
    "lighting.torch_shading": _torch,
    "planes.rounded_rect_coverage": _coverage,
    "planes.sample_grid": _grid,
}
