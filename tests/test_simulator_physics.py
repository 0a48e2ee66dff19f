"""Physics property checks on rendered frames, each with a negative control."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from capture_sim.capture import SimConfig, render_capture
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, Pose, apply_homography, plane_homography
from capture_sim.render import render_frame
from capture_sim.rng import make_rng
from tests.sim_helpers import alias, luminance_crop, peak_ratio, presentation, quiet_scene, render

DISTANCE = 130.0


def _sensor_pitch(scene, ppi: float, content_scale: float) -> float:  # type: ignore[no-untyped-def]
    """Display pixel pitch on the sensor (pixels) for a frontal card: p_screen * f / (Z * p_sensor)."""
    px_per_card_mm = scene.focal_px / DISTANCE
    display_px_per_card_mm = ppi / 25.4 * content_scale
    return px_per_card_mm / display_px_per_card_mm


def test_screen_capture_carries_the_predicted_moire_peak_that_the_genuine_lacks() -> None:
    scene = quiet_scene(distance_mm=DISTANCE)
    target_pitch = 1.6  # display pixels land 1.6 sensor pixels apart: the grid folds to |1/1.6 - 1| = 0.375 c/px
    ppi = 25.4 * scene.focal_px / DISTANCE / target_pitch
    screen = presentation("screen", "laptop_lcd_rgb", ppi=ppi, content_scale=1.0, pwm_hz=0.0, matte_haze=0.3)
    genuine = presentation("genuine", "genuine")
    pitch = _sensor_pitch(scene, ppi, 1.0)
    f = alias(1.0 / pitch)
    shot_screen = luminance_crop(render(scene, screen))
    shot_genuine = luminance_crop(render(scene, genuine))
    ratio_screen = peak_ratio(shot_screen, 0.0, f)
    ratio_genuine = peak_ratio(shot_genuine, 0.0, f)
    assert ratio_screen > 8.0, (pitch, f, ratio_screen)
    assert ratio_genuine < ratio_screen / 3.0, (ratio_genuine, ratio_screen)


def test_am_print_capture_carries_peaks_at_the_screen_ruling_and_angle() -> None:
    scene = quiet_scene(distance_mm=DISTANCE)
    lpi, angle = 85.0, 45.0
    printed = presentation(
        "print",
        "grey_copy",
        process="am",
        grey=True,
        lpi=lpi,
        screen_angles_deg=(15.0, 75.0, 0.0, angle),
        laminated=False,
        gloss=0.02,
    )
    genuine = presentation("genuine", "genuine")
    cell_px = 25.4 / lpi * scene.focal_px / DISTANCE
    fx = alias(np.cos(np.deg2rad(angle)) / cell_px)
    fy = alias(np.sin(np.deg2rad(angle)) / cell_px)
    shot_print = luminance_crop(render(scene, printed))
    shot_genuine = luminance_crop(render(scene, genuine))
    best_print = max(peak_ratio(shot_print, sx * fx, fy) for sx in (1, -1))
    best_genuine = max(peak_ratio(shot_genuine, sx * fx, fy) for sx in (1, -1))
    assert best_print > 8.0, (cell_px, best_print)
    assert best_genuine < best_print / 3.0


def test_paired_variants_share_the_card_quad_and_nuisance() -> None:
    config = SimConfig(seed=11, frames=1)
    captures = [render_capture(config, i) for i in range(3)]
    assert [c.label for c in captures] == ["genuine", "screen", "print"]
    for other in captures[1:]:
        np.testing.assert_allclose(other.frames[0].quad, captures[0].frames[0].quad, atol=1e-9)
        assert other.scene == captures[0].scene
    assert captures[0].frames[0].jpeg != captures[1].frames[0].jpeg


def test_next_pair_has_other_nuisance() -> None:
    """Negative control for the pairing check: captures of different pairs do not share the quad."""
    config = SimConfig(seed=11, frames=1)
    a, b = render_capture(config, 0), render_capture(config, 3)
    assert a.pair_id != b.pair_id
    assert not np.allclose(a.frames[0].quad, b.frames[0].quad)


def _ovd_chroma_range(frames: list) -> float:  # type: ignore[type-arg]
    """Mean over the OVD region of each pixel's chromaticity range across the frames (noise smoothed away)."""
    chroma = []
    for frame in frames:
        smooth = cv2.GaussianBlur(frame.rgb.astype(np.float32), (0, 0), 2.0) + 1.0
        chroma.append(smooth / smooth.sum(axis=2, keepdims=True))
    stack = np.stack(chroma)
    spread = (stack.max(axis=0) - stack.min(axis=0)).max(axis=-1)
    return float(spread[frames[0].ovd_mask > 0].mean())


def _sequence(label: str, species: str) -> list:  # type: ignore[type-arg]
    scene = quiet_scene(distance_mm=DISTANCE, elevation_deg=35.0, azimuth_deg=-90.0, direct=1.2)
    pres = presentation(label, species)
    if pres.printing is not None:
        pres = dataclasses.replace(
            pres,
            content_source="scan",
            printing=dataclasses.replace(pres.printing, laminated=False, gloss=0.05),
        )
    poses = [Pose(0.0, tilt, 0.0, 0.0, 0.0, DISTANCE) for tilt in (-20.0, -10.0, 0.0, 10.0, 20.0)]
    return [render(scene, pres, pose) for pose in poses]


def test_ovd_hue_changes_across_a_genuine_tilt_and_stays_frozen_in_a_print() -> None:
    genuine = _ovd_chroma_range(_sequence("genuine", "genuine"))
    printed = _ovd_chroma_range(_sequence("print", "laser_am"))
    assert genuine > 0.015, genuine
    assert printed < genuine / 2.5, (printed, genuine)


def _glare_centre_on_card(frame, pose: Pose, scene) -> np.ndarray:  # type: ignore[no-untyped-def]
    ys, xs = np.nonzero(frame.glare_mask)
    assert xs.size > 20, "expected a visible glare highlight"
    to_card = np.linalg.inv(plane_homography(pose, scene.camera_model, CARD_WIDTH_MM, CARD_HEIGHT_MM))
    x, y = apply_homography(to_card, xs + 0.5, ys + 0.5)
    return np.array([x.mean(), y.mean()])


def test_glare_moves_on_the_card_when_the_pose_changes() -> None:
    scene = quiet_scene(distance_mm=DISTANCE, elevation_deg=8.0, azimuth_deg=-90.0, direct=1.5)
    scene = dataclasses.replace(scene, laminate_shininess=600.0)
    genuine = presentation("genuine", "genuine")
    a, b = Pose(0.0, -4.0, 0.0, 0.0, 0.0, DISTANCE), Pose(0.0, 4.0, 3.0, 0.0, 0.0, DISTANCE)
    moved = np.linalg.norm(
        _glare_centre_on_card(render(scene, genuine, a), a, scene)
        - _glare_centre_on_card(render(scene, genuine, b), b, scene)
    )
    assert moved > 3.0  # millimetres on the card


@pytest.mark.parametrize("label", ["genuine", "screen", "print"])
def test_sequences_have_per_frame_quads_and_masks(label: str) -> None:
    species = {"genuine": "genuine", "screen": "tablet_lcd", "print": "inkjet_fm"}[label]
    capture = render_capture(SimConfig(seed=5, species=(species,), frames=3), 0)
    assert len(capture.frames) == 3
    assert len(capture.poses) == 3
    quads = [f.quad for f in capture.frames]
    assert not np.allclose(quads[0], quads[2])
    for f in capture.frames:
        assert f.ovd_mask.shape == f.glare_mask.shape == f.rgb.shape[:2]


def test_laminate_glare_switch_removes_only_the_highlight() -> None:
    scene = quiet_scene(distance_mm=DISTANCE, elevation_deg=8.0, azimuth_deg=-90.0, direct=1.5)
    scene = dataclasses.replace(scene, laminate_shininess=600.0)
    pose = Pose(0.0, -4.0, 0.0, 0.0, 0.0, DISTANCE)
    genuine = presentation("genuine", "genuine")
    shiny = render(scene, genuine, pose)
    matte = render_frame(scene, genuine, pose, make_rng(0, 0, "camera"), 2, laminate_glare=False)
    assert (shiny.glare_mask > 0).sum() > 20
    assert not matte.glare_mask.any()
    np.testing.assert_array_equal(shiny.quad, matte.quad)
    glare = shiny.glare_mask > 0
    lum = np.array([0.299, 0.587, 0.114])
    assert (shiny.rgb[glare] @ lum).mean() > (matte.rgb[glare] @ lum).mean() + 40  # the highlight itself is gone
    printed = presentation("print", "laser_am")  # attacks have no laminate of the genuine card: untouched
    np.testing.assert_array_equal(
        render(scene, printed, pose).rgb,
        render_frame(scene, printed, pose, make_rng(0, 0, "camera"), 2, laminate_glare=False).rgb,
    )
