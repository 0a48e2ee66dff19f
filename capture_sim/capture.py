"""Captures: single frames or tilt sequences of one variant of a pair, replayable from (seed, index)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from capture_sim.geometry import Pose
from capture_sim.lighting import sample_torch
from capture_sim.render import FrameRender, render_frame
from capture_sim.rng import make_rng
from capture_sim.sampler import Presentation, SceneParams, TiltParams, sample_presentation, sample_scene, sample_tilt
from capture_sim.species import ALL_SPECIES, variants_for
from capture_sim.validation import check_choice, check_int_range

# 0.2.2 and 0.2.1: faster, same physics (renders equal the previous version within float rounding); 0.2.0: area
# lights, torch mode
SIMULATOR_VERSION = "0.2.2"


@dataclass(frozen=True)
class SimConfig:
    """What a dataset is generated from; with an index it determines a capture completely."""

    seed: int = 0
    species: tuple[str, ...] = ALL_SPECIES
    frames: int = 1
    size: tuple[int, int] = (1280, 720)
    supersample: int = 2
    torch: bool = False  # the phone's torch is on (a candidate tilt-check capture mode): a point light at the lens
    laminate_glare: bool = True  # False: the genuine card's laminate reflects no highlight (paired glare experiments)
    attempt: int = 0  # > 0: the same scenes swept again (a new tilt sweep, tremor and sensor noise; retry experiments)

    def __post_init__(self) -> None:
        check_int_range("seed", self.seed, 0, 2**63 - 1)
        check_int_range("frames", self.frames, 1, 64)
        check_int_range("supersample", self.supersample, 1, 4)
        check_int_range("attempt", self.attempt, 0, 1000)
        check_choice("size", tuple(self.size), [(1280, 720), (1920, 1080)])
        for species in self.species:
            check_choice("species", species, ALL_SPECIES)

    @property
    def variants(self) -> tuple[str, ...]:
        return variants_for(self.species)


@dataclass(frozen=True)
class Capture:
    index: int
    pair_id: int
    label: str
    species: str
    scene: SceneParams
    presentation: Presentation
    poses: tuple[Pose, ...]
    frames: tuple[FrameRender, ...]

    def params(self) -> dict[str, Any]:
        """Every drawn parameter, JSON-serialisable."""
        return {
            "scene": dataclasses.asdict(self.scene),
            "presentation": dataclasses.asdict(self.presentation),
            "poses": [dataclasses.asdict(p) for p in self.poses],
        }


def plan(config: SimConfig, index: int) -> tuple[int, str]:
    """(pair id, label) of the capture at `index`: consecutive indices walk the variants of one pair."""
    variants = config.variants
    return index // len(variants), variants[index % len(variants)]


def tilt_poses(base: Pose, tilt: TiltParams, frames: int, rng: np.random.Generator) -> tuple[Pose, ...]:
    """Poses of a tilt sweep from -amplitude to +amplitude about an in-plane axis, with hand tremor."""
    if frames == 1:
        return (base,)
    axis = math.radians(tilt.axis_deg)
    poses = []
    for t in range(frames):
        phase = -1.0 + 2.0 * t / (frames - 1)
        jitter = rng.normal(0.0, 1.0, size=5)
        poses.append(
            Pose(
                roll_deg=base.roll_deg + float(jitter[0]) * tilt.tremor_deg,
                tilt_x_deg=float(
                    np.clip(
                        base.tilt_x_deg + tilt.amplitude_deg * phase * math.cos(axis) + jitter[1] * tilt.tremor_deg,
                        -55.0,
                        55.0,
                    )
                ),
                tilt_y_deg=float(
                    np.clip(
                        base.tilt_y_deg + tilt.amplitude_deg * phase * math.sin(axis) + jitter[2] * tilt.tremor_deg,
                        -55.0,
                        55.0,
                    )
                ),
                center_x_mm=base.center_x_mm + float(jitter[3]) * tilt.tremor_mm,
                center_y_mm=base.center_y_mm + float(jitter[4]) * tilt.tremor_mm,
                distance_mm=base.distance_mm,
            )
        )
    return tuple(poses)


def render_capture(config: SimConfig, index: int) -> Capture:
    """Render capture `index` of a dataset: identical bytes every time for the same (config, index)."""
    check_int_range("index", index, 0, 2**62)
    pair_id, label = plan(config, index)
    scene = sample_scene(config.seed, pair_id, config.size)
    if config.torch:
        torch = sample_torch(make_rng(config.seed, pair_id, "torch"))
        scene = dataclasses.replace(scene, light=dataclasses.replace(scene.light, torch=torch))
    again = f":attempt{config.attempt}" if config.attempt else ""  # attempt 0 keeps the original streams
    if config.attempt:
        scene = dataclasses.replace(scene, tilt=sample_tilt(make_rng(config.seed, pair_id, f"tilt{again}")))
    presentation = sample_presentation(config.seed, pair_id, label, config.species)
    poses = tilt_poses(scene.pose, scene.tilt, config.frames, make_rng(config.seed, pair_id, f"tremor{again}"))
    content_poses = tilt_poses(scene.photo_pose, scene.tilt, config.frames, make_rng(config.seed, pair_id, "clip"))
    frames = []
    for t, pose in enumerate(poses):
        camera_rng = make_rng(config.seed, pair_id, f"camera:{t}{again}")
        content_pose = content_poses[t] if presentation.content_source == "video" else None
        frames.append(
            render_frame(scene, presentation, pose, camera_rng, config.supersample, content_pose, config.laminate_glare)
        )
    return Capture(index, pair_id, label, presentation.species, scene, presentation, poses, tuple(frames))
