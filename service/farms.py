"""Simulated fraud farms and genuine users for the batch-fraud benchmark and the traffic simulator.

A farm is one attack instrument (one screen or one printer: a fixed capture_sim Presentation drawn once) used for
many sessions under different accounts; each session is a fresh scene (pose, light, camera, background) and, when
the farm replays one stolen card, that card's template and identity (so the same portrait). Genuine users
each present their own card. Everything is drawn from explicit seeds: (seed, farm, session) re-renders identically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from capture_sim.render import render_frame
from capture_sim.rng import make_rng
from capture_sim.sampler import Presentation, sample_presentation, sample_scene
from capture_sim.species import PRINT_FAMILIES, SCREEN_FAMILIES

FARM_FAMILIES = (*SCREEN_FAMILIES, *PRINT_FAMILIES)


@dataclass(frozen=True)
class SimCapture:
    """One simulated single-frame capture with its ground truth."""

    jpeg: bytes
    rgb: np.ndarray
    quad: list[list[float]]
    label: str  # genuine / screen / print
    species: str
    farm: int | None  # farm number, None for a genuine user


def farm_presentation(seed: int, farm: int) -> Presentation:
    """The one instrument of farm `farm`: families cycle through screens and printers."""
    species = FARM_FAMILIES[(farm * 5 + seed) % len(FARM_FAMILIES)]
    label = "screen" if species in SCREEN_FAMILIES else "print"
    return sample_presentation(seed + 7919, 1_000_000 + farm, label, (species,))


def render_session(
    seed: int, stream: int, index: int, presentation: Presentation, card: tuple[str, int] | None, supersample: int
) -> tuple[bytes, np.ndarray, list[list[float]]]:
    """Render one frame of a fresh scene (stream separates genuine users from each farm); `card` = (template id,
    identity seed) replaces the scene's own card (a farm replaying one stolen card)."""
    pair_id = stream * 100_000 + index
    scene = sample_scene(seed, pair_id)
    if card is not None:
        scene = dataclasses.replace(scene, template_id=card[0], identity_seed=card[1])
    content_pose = scene.photo_pose if presentation.content_source == "video" else None
    frame = render_frame(
        scene, presentation, scene.pose, make_rng(seed, pair_id, "camera:0"), supersample, content_pose
    )
    return frame.jpeg, frame.rgb, [[float(x), float(y)] for x, y in frame.quad]


def genuine_capture(seed: int, user: int, supersample: int = 1) -> SimCapture:
    """A genuine user's capture of their own card."""
    jpeg, rgb, quad = render_session(seed, 0, user, Presentation(label="genuine", species="genuine"), None, supersample)
    return SimCapture(jpeg, rgb, quad, "genuine", "genuine", None)


def farm_capture(seed: int, farm: int, session: int, supersample: int = 1, same_face: bool = True) -> SimCapture:
    """Session `session` of farm `farm`: its one instrument, a fresh scene, and (same_face) the one stolen card
    the farm replays (same template and identity, so the same portrait)."""
    presentation = farm_presentation(seed, farm)
    card = None
    if same_face:
        stolen = sample_scene(seed + 7919, 1_000_000 + farm)
        card = (stolen.template_id, stolen.identity_seed)
    jpeg, rgb, quad = render_session(seed, farm + 1, session, presentation, card, supersample)
    return SimCapture(jpeg, rgb, quad, presentation.label, presentation.species, farm)
