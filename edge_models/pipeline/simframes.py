"""Simulated frames for measuring the pipeline: captures from capture_sim, and frames WITHOUT a card.

A no-card frame is the scene of a simulated pair (desk surface, clutter, lamp, camera and ISP) rendered exactly as
capture_sim.render.render_frame renders it, minus the presentation and the hand: background radiance, lit as a desk
with the pair's light, exposed with the pair's auto-exposure target, through `capture_sim.camera.photograph`. The
clutter (notes, pens, keys, phones, paper) keeps the card finder's job honest: rectangles that are not cards.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.camera import photograph
from capture_sim.capture import SimConfig, render_capture
from capture_sim.rng import make_rng
from capture_sim.sampler import sample_scene
from capture_sim.scene.background import render_background


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
