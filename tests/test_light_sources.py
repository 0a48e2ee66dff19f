"""Area lights and the phone's torch: where their light goes on the laminate, the print and the hologram."""

import dataclasses

import numpy as np
import pytest

from capture_sim.appearance import card_artwork, foil_box
from capture_sim.capture import SimConfig, render_capture, tilt_poses
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, Pose
from capture_sim.grating import Grating
from capture_sim.lighting import (
    AreaLight,
    LightParams,
    area_shininess,
    environment_shading,
    grating_radiance,
    ovd_diffraction,
    surface_geometry,
    torch_shading,
)
from capture_sim.rng import make_rng
from capture_sim.sampler import sample_scene
from cardlive.errors import ParameterError

ROOM = LightParams(azimuth_deg=-90.0, elevation_deg=35.0, direct=1.0, ambient=0.3, color_k=5000.0)
FRONTAL = Pose(0.0, 0.0, 0.0, 0.0, 0.0, 150.0)


def _geometry(pose: Pose, light: LightParams = ROOM, w: int = 86, h: int = 54):
    return surface_geometry(pose, light, CARD_WIDTH_MM, CARD_HEIGHT_MM, w, h)


def test_a_larger_source_gives_a_wider_dimmer_highlight() -> None:
    assert area_shininess(1000.0, 0.0) == pytest.approx(1000.0)
    assert area_shininess(1000.0, 0.4) < area_shininess(1000.0, 0.1) < 1000.0
    lamp = AreaLight(azimuth_deg=-90.0, elevation_deg=10.0, strength=0.5, radius_rad=0.03)
    window = dataclasses.replace(lamp, radius_rad=0.4)
    geo = _geometry(FRONTAL)
    _, small = environment_shading(geo, dataclasses.replace(ROOM, direct=0.0, area=(lamp,)), 1000.0, 0.04)
    _, large = environment_shading(geo, dataclasses.replace(ROOM, direct=0.0, area=(window,)), 1000.0, 0.04)
    assert large.max() < small.max()
    assert (large > 0.1 * large.max()).sum() > (small > 0.1 * small.max()).sum()


def test_area_lights_add_their_irradiance() -> None:
    area = AreaLight(azimuth_deg=-60.0, elevation_deg=30.0, strength=0.4, radius_rad=0.2)
    light = dataclasses.replace(ROOM, area=(area,))
    diffuse, _ = environment_shading(_geometry(FRONTAL, light), light, 800.0, 0.04)
    expected = light.irradiance(FRONTAL.normal)
    assert expected == pytest.approx(ROOM.irradiance(FRONTAL.normal) + 0.4 * np.cos(np.deg2rad(30.0)), rel=1e-6)
    np.testing.assert_allclose(diffuse, expected, rtol=1e-5)


def _hotspot(pose: Pose) -> np.ndarray:
    _, spec = torch_shading(_geometry(pose), 2.0, 800.0, 0.04)
    ys, xs = np.nonzero(spec > 0.5 * spec.max())
    return np.array([xs.mean(), ys.mean()])


def test_the_torch_hotspot_sits_where_the_card_faces_the_lens_and_moves_with_tilt() -> None:
    centre = _hotspot(FRONTAL)
    np.testing.assert_allclose(centre, [42.5, 26.5], atol=1.5)  # the card's centre is on the optical axis
    tilted = _hotspot(Pose(0.0, 0.0, 6.0, 0.0, 0.0, 150.0))
    assert abs(tilted[0] - centre[0]) > 10.0


def test_a_room_light_highlight_does_not_follow_the_lens() -> None:
    """Negative control: a directional light's highlight is not where the card faces the camera."""
    _, spec = environment_shading(_geometry(FRONTAL), ROOM, 800.0, 0.04)
    ys, xs = np.nonzero(spec > 0.5 * spec.max())
    assert np.hypot(xs.mean() - 42.5, ys.mean() - 26.5) > 10.0


def test_torch_irradiance_falls_with_the_square_of_the_distance() -> None:
    near, _ = torch_shading(_geometry(Pose(0.0, 0.0, 0.0, 0.0, 0.0, 100.0)), 2.0, 800.0, 0.04)
    far, _ = torch_shading(_geometry(Pose(0.0, 0.0, 0.0, 0.0, 0.0, 200.0)), 2.0, 800.0, 0.04)
    assert near.max() / far.max() == pytest.approx(4.0, rel=0.02)
    torch = dataclasses.replace(ROOM, torch=2.0)
    assert torch.irradiance(FRONTAL.normal, 150.0) == pytest.approx(ROOM.irradiance(FRONTAL.normal) + 2.0)
    assert torch.irradiance(FRONTAL.normal) == ROOM.irradiance(FRONTAL.normal)  # a far room: no torch


def _torch_grating(angle_rad: float) -> float:
    pose = Pose(0.0, 0.0, 20.0, 0.0, 0.0, 150.0)  # turned about y: the lens is off the normal along the card's x
    geo = _geometry(pose, w=32, h=20)
    angle = np.full((20, 32), angle_rad, np.float32)
    period = np.full((20, 32), 900.0, np.float32)
    return float(ovd_diffraction(geo.view, geo.view, geo.normal, angle, period, pose.rotation[:, 0], 1.0).mean())


def test_the_torch_lights_a_grating_whose_vector_points_along_the_tilt() -> None:
    """L = V: lambda_1 = 2 d sin(theta) ~ 615 nm for d = 900 nm at 20 degrees, in the visible band."""
    assert _torch_grating(0.0) > 0.05


def test_the_torch_does_not_light_a_grating_across_the_tilt() -> None:
    """Negative control: grooves turned by 90 degrees send the torch's orders out of the camera's plane."""
    assert _torch_grating(np.pi / 2) < 0.01 * _torch_grating(0.0)


def _foil_change(seed: int, pair: int, torch: float) -> float:
    """Share of the foil whose diffracted radiance changes by > 0.25 diffuse white over an 8-frame sweep."""
    scene = sample_scene(seed, pair)
    light = dataclasses.replace(scene.light, torch=torch)
    art = card_artwork(scene.template_id, scene.identity_seed, 600)
    y0, y1, x0, x1 = foil_box(scene.template_id, scene.identity_seed, 600)
    mask = art.ovd_mask[y0:y1, x0:x1] > 0.5
    h, w = art.ovd_mask.shape
    frames = []
    for pose in tilt_poses(scene.pose, scene.tilt, 8, make_rng(seed, pair, "tremor")):
        geo = surface_geometry(pose, light, CARD_WIDTH_MM, CARD_HEIGHT_MM, w, h)
        view = geo.view[y0:y1, x0:x1]
        grating = Grating.of(art.grating_angle[y0:y1, x0:x1], art.grating_period_nm[y0:y1, x0:x1])
        out = grating_radiance(view, light, geo.normal, grating, pose.rotation[:, 0], pose.distance_mm)
        frames.append(out.mean(axis=-1)[mask] / light.irradiance(pose.normal, pose.distance_mm))
    stack = np.stack(frames)
    return float(((stack.max(axis=0) - stack.min(axis=0)) > 0.25).mean())


def test_with_the_torch_on_more_holograms_respond_to_the_tilt() -> None:
    """The reason the tilt check turns the torch on: under room light alone many foils stay dark over the sweep."""
    pairs = range(24)
    room = np.array([_foil_change(310, p, 0.0) for p in pairs])
    lit = np.array([_foil_change(310, p, 2.5) for p in pairs])
    assert (lit > 0.05).mean() >= (room > 0.05).mean() + 0.15


def test_the_torch_is_drawn_only_in_torch_mode_and_never_reaches_the_attackers_photo() -> None:
    off = render_capture(SimConfig(seed=3, frames=1), 0)
    on = render_capture(SimConfig(seed=3, frames=1, torch=True), 0)
    assert off.scene.light.torch == 0.0
    assert 1.0 <= on.scene.light.torch <= 4.0
    assert dataclasses.replace(on.scene.light, torch=0.0) == off.scene.light
    assert on.params()["scene"]["light"]["torch"] == on.scene.light.torch
    assert len(off.scene.light.area) >= 2


def test_bad_light_sources_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"area\.radius_rad"):
        AreaLight(azimuth_deg=0.0, elevation_deg=10.0, strength=0.2, radius_rad=2.0)
    with pytest.raises(ParameterError, match=r"light\.torch"):
        dataclasses.replace(ROOM, torch=-1.0)
    with pytest.raises(TypeError, match="AreaLight"):
        dataclasses.replace(ROOM, area=((0.0, 10.0, 0.2, 0.1),))  # type: ignore[arg-type]
