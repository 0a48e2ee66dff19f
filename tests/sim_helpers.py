"""Controlled scenes for the simulator's physics tests: frontal, sharp, low-noise, no hand."""

from __future__ import annotations

import dataclasses

import numpy as np

from capture_sim.geometry import Pose
from capture_sim.render import FrameRender, render_frame
from capture_sim.rng import make_rng
from capture_sim.sampler import Presentation, SceneParams, sample_presentation, sample_scene


def quiet_scene(seed: int = 3, distance_mm: float = 130.0, landscape: bool = True, **light: float) -> SceneParams:
    scene = sample_scene(seed, 0, (1280, 720))
    camera = dataclasses.replace(
        scene.camera,
        motion_px=0.0,
        defocus_px=0.0,
        psf_sigma_px=0.45,
        jpeg_quality=95,
        video=False,
        shot_noise=1e-4,
        read_noise=1e-7,
        sharpen_amount=0.0,
        demosaic="vng",
    )
    hand = dataclasses.replace(scene.hand, present=False)
    lit = dataclasses.replace(scene.light, **light) if light else scene.light
    return dataclasses.replace(
        scene,
        width=1280 if landscape else 720,
        height=720 if landscape else 1280,
        camera=camera,
        hand=hand,
        pose=Pose(0.0, 0.0, 0.0, 0.0, 0.0, distance_mm),
        light=lit,
        on_desk=True,
    )


def presentation(label: str, species: str, seed: int = 3, **overrides: object) -> Presentation:
    pres = sample_presentation(seed, 0, label, (species,))
    if pres.panel is not None and overrides:
        return dataclasses.replace(pres, panel=dataclasses.replace(pres.panel, **overrides))
    if pres.printing is not None and overrides:
        return dataclasses.replace(pres, printing=dataclasses.replace(pres.printing, **overrides))
    return pres


def render(scene: SceneParams, pres: Presentation, pose: Pose | None = None) -> FrameRender:
    return render_frame(scene, pres, pose or scene.pose, make_rng(0, 0, "camera"), 2)


def luminance_crop(frame: FrameRender, size: int = 256) -> np.ndarray:
    c = frame.quad.mean(axis=0).round().astype(int)
    crop = frame.rgb[c[1] - size // 2 : c[1] + size // 2, c[0] - size // 2 : c[0] + size // 2].astype(np.float64)
    return crop @ np.array([0.299, 0.587, 0.114])


def peak_ratio(image: np.ndarray, fx: float, fy: float, radius: int = 3) -> float:
    """Spectral magnitude near (fx, fy) cycles/pixel relative to the median magnitude at that radius."""
    n = image.shape[0]
    win = np.outer(np.hanning(n), np.hanning(n))
    spec = np.abs(np.fft.fftshift(np.fft.fft2((image - image.mean()) * win)))
    k = np.fft.fftshift(np.fft.fftfreq(n))
    kx, ky = np.meshgrid(k, k)
    r = np.hypot(kx, ky)
    target = np.hypot(fx, fy)
    near = np.hypot(kx - fx, ky - fy) <= radius / n
    ring = np.abs(r - target) <= 2.0 / n
    return float(spec[near].max() / np.median(spec[ring]))


def alias(f: float) -> float:
    """Frequency (cycles/pixel) that a component at f folds to when sampled once per pixel."""
    return abs(f - round(f))
