"""Shading of the hand model: Lambert on the surface normals of round skin, softened and reddened in the
shadows as light scattered under the skin comes back, and soft shadows of the hand's parts.

Arrays are float32 grids (the hand's coarse grid, see capture_sim.scene.hand); shading is relative (ambient
0.28 .. 1).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.scene.textures import f32

F32 = NDArray[np.float32]


class Light:
    """Lambert shading of round skin surfaces under one light: direction (x, y along the frame's axes, z
    towards the camera) plus ambient."""

    def __init__(self, rng: np.random.Generator) -> None:
        xy = rng.normal(0.0, 0.35, 2)
        self.dir = np.array([xy[0], xy[1], 1.0]) / np.sqrt(1.0 + xy.dot(xy))

    def shade(self, nz: F32, ux: F32, uy: F32) -> F32:
        """Ambient + diffuse for unit normals (sqrt(1 - nz^2) * (ux, uy), nz)."""
        side = np.sqrt(np.float32(1.0) - nz * nz)
        lit = nz * np.float32(self.dir[2]) + side * (ux * np.float32(self.dir[0]) + uy * np.float32(self.dir[1]))
        return np.clip(lit, 0.0, 1.0) * np.float32(0.72) + np.float32(0.28)


def rounded_profile(sdf: F32, radius: float) -> F32:
    """Normal z of a body whose cross-section rounds off over `radius` mm from its outline (flat deeper
    inside)."""
    rise = np.clip(np.float32(1.0) + sdf * np.float32(1 / radius), 0.0, 1.0)
    return np.sqrt(np.float32(1.0) - rise * rise)


def outward(sdf: F32) -> tuple[F32, F32]:
    """Unit in-plane direction of increasing distance (the surface normal's sideways part), grid axes."""
    gy, gx = np.gradient(sdf)
    norm = np.sqrt(gx * gx + gy * gy) + np.float32(1e-9)
    return gx / norm, gy / norm


def soft(mask: F32, sigma: float, offset: tuple[float, float]) -> F32:
    """mask shifted by offset (px) and Gaussian-blurred by sigma (px)."""
    moved = cv2.warpAffine(mask, np.array([[1, 0, offset[0]], [0, 1, offset[1]]]), mask.shape[::-1])
    return f32(cv2.GaussianBlur(moved, (0, 0), max(0.3, sigma)) if sigma > 0.3 else moved)


def skin_radiance(skin: NDArray[np.float64], shade: F32) -> list[F32]:
    """Per-channel skin radiance: albedo x shading ** (0.6, 0.85, 1.0), redder where less lit (subsurface)."""
    return [np.power(shade, np.float32(g)) * np.float32(c) for c, g in zip(skin, (0.6, 0.85, 1.0), strict=True)]
