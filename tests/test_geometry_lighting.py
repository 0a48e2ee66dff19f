"""Geometry and light transport: projections, glare that follows the pose, OVD colour from the grating equation."""

import numpy as np
import pytest

from capture_sim.color import blackbody_linear_rgb, linear_to_srgb, srgb_to_linear, wavelength_to_linear_rgb
from capture_sim.geometry import (
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    Camera,
    Pose,
    apply_homography,
    card_quad,
    plane_corners_mm,
    plane_homography,
)
from capture_sim.lighting import LightParams, blinn_phong, ovd_diffraction, surface_geometry
from cardlive.errors import ParameterError

CAM = Camera(1280, 720, 1000.0)
LIGHT = LightParams(azimuth_deg=-90.0, elevation_deg=20.0, direct=1.0, ambient=0.3, color_k=5000.0)


def test_homography_maps_corners_to_the_projected_quad() -> None:
    pose = Pose(7.0, 12.0, -9.0, 5.0, -3.0, 130.0)
    h = plane_homography(pose, CAM, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    corners = plane_corners_mm(CARD_WIDTH_MM, CARD_HEIGHT_MM)
    x, y = apply_homography(h, corners[:, 0], corners[:, 1])
    np.testing.assert_allclose(np.stack([x, y], 1), card_quad(pose, CAM), atol=1e-9)


def test_quad_is_clockwise_from_top_left() -> None:
    q = card_quad(Pose(0.0, 0.0, 0.0, 0.0, 0.0, 120.0), CAM)
    assert q[0, 0] < q[1, 0]
    assert q[1, 1] < q[2, 1]
    assert q[3, 0] < q[2, 0]
    area = 0.5 * np.sum(q[:, 0] * np.roll(q[:, 1], -1) - np.roll(q[:, 0], -1) * q[:, 1])
    assert area > 0  # positive with y down = clockwise on screen


def test_frontal_card_has_the_expected_size() -> None:
    q = card_quad(Pose(0.0, 0.0, 0.0, 0.0, 0.0, 100.0), CAM)
    assert q[1, 0] - q[0, 0] == pytest.approx(1000.0 * CARD_WIDTH_MM / 100.0)


def _highlight_map(pose: Pose) -> np.ndarray:
    geo = surface_geometry(pose, LIGHT, CARD_WIDTH_MM, CARD_HEIGHT_MM, 171, 108)
    _, spec = blinn_phong(geo, 1.0, 0.3, 800.0, 0.04)
    assert spec.max() > 1.0, "the highlight should be brighter than diffuse white"
    return spec


def _centre(spec: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(spec > 0.5 * spec.max())
    return np.array([xs.mean(), ys.mean()])


POSE_A = Pose(0.0, -8.0, 0.0, 0.0, 0.0, 120.0)
POSE_B = Pose(0.0, -14.0, 0.0, 0.0, 0.0, 120.0)


def test_glare_highlight_moves_on_the_card_when_the_pose_changes() -> None:
    moved = np.linalg.norm(_centre(_highlight_map(POSE_A)) - _centre(_highlight_map(POSE_B)))
    assert moved > 5.0  # texels of a 171-texel-wide card grid


def test_a_painted_highlight_fails_the_glare_check() -> None:
    """Negative control: glare baked into the card texture keeps its card position whatever the pose."""
    painted = _highlight_map(POSE_A)  # what a texture-space glare would show at pose B too
    moved = np.linalg.norm(_centre(_highlight_map(POSE_A)) - _centre(painted))
    assert not moved > 5.0


def _ovd_hue(pose: Pose) -> np.ndarray:
    geo = surface_geometry(pose, LIGHT, CARD_WIDTH_MM, CARD_HEIGHT_MM, 32, 20)
    angle = np.zeros((20, 32), np.float32)
    period = np.full((20, 32), 1400.0, np.float32)
    rgb = ovd_diffraction(geo.view, geo.light, geo.normal, angle, period, pose.rotation[:, 0], 1.0, 0.5)
    return rgb.mean(axis=(0, 1)) / max(rgb.mean(), 1e-9)


def test_ovd_colour_follows_the_grating_equation_with_tilt() -> None:
    colours = [_ovd_hue(Pose(0.0, 0.0, tilt, 0.0, 0.0, 120.0)) for tilt in (-20.0, 0.0, 20.0)]
    assert max(np.abs(colours[0] - colours[2]).max(), np.abs(colours[0] - colours[1]).max()) > 0.2


def test_wavelength_colours_are_spectral() -> None:
    rgb = wavelength_to_linear_rgb(np.array([450.0, 530.0, 620.0, 900.0]))
    assert rgb[0].argmax() == 2
    assert rgb[1].argmax() == 1
    assert rgb[2].argmax() == 0
    assert rgb[3].sum() == 0.0


def test_srgb_round_trip_and_white_points() -> None:
    x = np.linspace(0, 1, 11, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=2e-4)  # 16-bit encode table
    warm, cool = blackbody_linear_rgb(3000.0), blackbody_linear_rgb(9000.0)
    assert warm[0] > warm[2]
    assert cool[2] > cool[0]
    np.testing.assert_allclose(blackbody_linear_rgb(6504.0), 1.0, atol=0.02)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"tilt_x_deg": 80.0}, "pose.tilt_x_deg"), ({"distance_mm": 1.0}, "pose.distance_mm")],
)
def test_bad_pose_names_the_allowed_range(kwargs: dict, needle: str) -> None:
    base = {
        "roll_deg": 0.0,
        "tilt_x_deg": 0.0,
        "tilt_y_deg": 0.0,
        "center_x_mm": 0.0,
        "center_y_mm": 0.0,
        "distance_mm": 100.0,
    }
    with pytest.raises(ParameterError, match=needle):
        Pose(**{**base, **kwargs})


def _plane_point_seen_at(pose: Pose, sag: float, frame_xy: np.ndarray) -> np.ndarray:
    from capture_sim.planes import Roi, sample_bent_plane

    x, y = int(frame_xy[0]), int(frame_xy[1])
    roi = Roi(x - 8, y - 8, x + 8, y + 8)
    samples = sample_bent_plane(pose, CAM, CARD_WIDTH_MM, CARD_HEIGHT_MM, sag, roi, step=1)
    return np.array([samples.x_mm[8, 8], samples.y_mm[8, 8]])


def test_a_bent_sheet_keeps_the_card_corners_and_moves_its_middle() -> None:
    pose = Pose(3.0, 10.0, -6.0, 0.0, 0.0, 140.0)
    h = plane_homography(pose, CAM, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    corner = np.array(apply_homography(h, np.array([0.0]), np.array([0.0]))).ravel()
    middle = np.array(apply_homography(h, np.array([CARD_WIDTH_MM / 2]), np.array([0.0]))).ravel()
    seen_corner = _plane_point_seen_at(pose, 4.0, corner)
    np.testing.assert_allclose(seen_corner, [0.0, 0.0], atol=0.05)
    bent_middle = _plane_point_seen_at(pose, 4.0, middle)
    flat_middle = _plane_point_seen_at(pose, 0.0, middle)  # negative control: no bend, no shift
    assert np.linalg.norm(bent_middle - [CARD_WIDTH_MM / 2, 0.0]) > 0.2
    np.testing.assert_allclose(flat_middle, [CARD_WIDTH_MM / 2, 0.0], atol=0.05)
