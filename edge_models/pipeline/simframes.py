"""Simulated frames for measuring the pipeline: captures from capture_sim, and frames WITHOUT a card.

A no-card frame is the scene of a simulated pair (desk surface, clutter, lamp, camera and ISP) rendered exactly as
capture_sim.render.render_frame renders it, minus the presentation and the hand: background radiance, lit as a desk
with the pair's light, exposed with the pair's auto-exposure target, through `capture_sim.camera.photograph`. The
clutter (notes, pens, keys, phones, paper) keeps the card finder's job honest: rectangles that are not cards.
FrameCache keeps both kinds in a folder for `cardlive bench cardfinder --frames`.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.camera import photograph
from capture_sim.capture import SimConfig, render_capture
from capture_sim.rng import make_rng
from capture_sim.sampler import sample_scene
from capture_sim.scene.background import render_background
from cardlive.errors import InputError, OutputError
from edge_models.images import load_rgb

NO_CARD_BASE = 100_000  # no-card frames' pair ids start here, clear of the card frames' indices


def no_card_frame(
    seed: int, pair_id: int, size: tuple[int, int] = (1280, 720), supersample: int = 2
) -> NDArray[np.uint8]:
    """An RGB frame of a simulated desk scene with no card in it."""
    scene = sample_scene(seed, pair_id, size)
    cam = scene.camera_model
    level = scene.light.typical_irradiance()
    background = render_background(scene.background, cam.width, cam.height) * (level * scene.light.rgb)
    s = supersample
    radiance = np.asarray(
        cv2.resize(background, (cam.width * s, cam.height * s), interpolation=cv2.INTER_LINEAR), np.float32
    )
    lum = float(radiance[::8, ::8].mean())
    radiance *= np.float32(np.clip(scene.ae_target / max(lum, 1e-4), 0.2, 5.0))
    rgb, _ = photograph(radiance, s, scene.camera, make_rng(seed, pair_id, "camera:0"))
    return np.asarray(rgb, np.uint8)


def card_frame(
    seed: int, index: int, size: tuple[int, int] = (1280, 720)
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Frame `index` of a single-frame simulated set and its true quad."""
    frame = render_capture(SimConfig(seed=seed, size=size), index).frames[0]
    return frame.rgb, np.asarray(frame.quad, np.float64)


class FrameCache:
    """Rendered bench frames kept in a folder, so measuring the card finder again does not render them again:
    card frames as NNNN.png (RGB written as BGR, lossless) beside NNNN.json (the true quad), no-card frames as
    eNNNN.png, and seed.json naming the seed; a folder holding another seed's frames is refused."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder, self.seed = folder, seed
        stamp = folder / "seed.json"
        if stamp.exists():
            cached = json.loads(stamp.read_text())["seed"]
            if cached != seed:
                raise InputError(f"{folder} holds frames of seed {cached}, not {seed}")
        elif any(folder.glob("*.png")):
            raise InputError(f'{folder} holds frames of an unknown seed; add seed.json ({{"seed": N}}) if known')
        else:
            folder.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps({"seed": seed}))

    def card_frame(self, index: int) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        png, truth = self.folder / f"{index:04d}.png", self.folder / f"{index:04d}.json"
        if png.exists() and truth.exists():
            return load_rgb(png), np.asarray(json.loads(truth.read_text()), np.float64)
        rgb, quad = card_frame(self.seed, index)
        _write(png, rgb)
        truth.write_text(json.dumps(quad.tolist()))
        return rgb, quad

    def no_card_frame(self, pair_id: int) -> NDArray[np.uint8]:
        png = self.folder / f"e{pair_id - NO_CARD_BASE:04d}.png"
        if png.exists():
            return load_rgb(png)
        rgb = no_card_frame(self.seed, pair_id)
        _write(png, rgb)
        return rgb


def _write(path: Path, rgb: NDArray[np.uint8]) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OutputError(f"could not write the cached frame {path}")
