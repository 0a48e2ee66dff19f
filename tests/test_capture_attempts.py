"""SimConfig.attempt: the same scenes swept again (retry experiments of the hologram check)."""

from __future__ import annotations

import dataclasses

import pytest

from capture_sim.capture import SimConfig, render_capture
from cardlive.errors import ParameterError


def test_a_new_attempt_keeps_the_scene_and_draws_a_new_sweep() -> None:
    base = SimConfig(seed=12, species=("genuine",), frames=2, torch=True)
    first = render_capture(base, 0)
    again = render_capture(dataclasses.replace(base, attempt=1), 0)
    repeat = render_capture(dataclasses.replace(base, attempt=1), 0)
    assert dataclasses.replace(again.scene, tilt=first.scene.tilt) == first.scene  # same card, light, camera, pose
    assert again.scene.tilt != first.scene.tilt
    assert again.poses != first.poses
    assert [f.jpeg for f in again.frames] == [f.jpeg for f in repeat.frames]  # seeded
    assert [f.jpeg for f in again.frames] != [f.jpeg for f in first.frames]
    other = render_capture(dataclasses.replace(base, attempt=2), 0)
    assert other.scene.tilt != again.scene.tilt


def test_attempt_is_checked() -> None:
    with pytest.raises(ParameterError, match="attempt"):
        SimConfig(attempt=-1)
