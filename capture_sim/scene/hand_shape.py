"""Shapes of the hand model: signed-distance fields in the card plane (millimetres, < 0 inside) and their
anti-aliased coverage.

Fields are float32 arrays evaluated at points (px, py) given in hand-local millimetres (see
capture_sim.scene.hand); they combine by smooth union so that flesh joins without creases.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.scene.textures import f32

F32 = NDArray[np.float32]


def capsule(
    px: F32, py: F32, a: NDArray[np.float64], b: NDArray[np.float64], ra: float, rb: float
) -> tuple[F32, F32, F32]:
    """Tapered capsule from a (radius ra) to b (radius rb): signed distance (mm, < 0 inside), the normal's z
    (towards the camera: 1 on the axis, 0 at the silhouette) and the position along the axis (0 at a, 1 at
    b)."""
    ab = b - a
    k = np.float32(1.0 / ab.dot(ab))
    dxa, dya = px - np.float32(a[0]), py - np.float32(a[1])
    t = np.clip((dxa * np.float32(ab[0]) + dya * np.float32(ab[1])) * k, 0.0, 1.0)
    dx = dxa - t * np.float32(ab[0])
    dy = dya - t * np.float32(ab[1])
    dist = np.sqrt(dx * dx + dy * dy) + np.float32(1e-6)
    radius = np.float32(ra) + t * np.float32(rb - ra)
    rel = np.minimum(dist / radius, np.float32(1.0))
    return dist - radius, np.sqrt(np.float32(1.0) - rel * rel), t


def ellipse(
    px: F32, py: F32, centre: NDArray[np.float64], axis: NDArray[np.float64], radii: NDArray[np.float64]
) -> F32:
    """Approximate signed distance (mm) to an ellipse with radii (along axis, across it)."""
    rel_x, rel_y = px - np.float32(centre[0]), py - np.float32(centre[1])
    u = (rel_x * np.float32(axis[0]) + rel_y * np.float32(axis[1])) * np.float32(1 / radii[0])
    v = (rel_x * np.float32(axis[1]) - rel_y * np.float32(axis[0])) * np.float32(1 / radii[1])
    return (np.sqrt(u * u + v * v) - np.float32(1.0)) * np.float32(min(radii))


def smooth_min(a: F32, b: F32, k: float) -> F32:
    """Polynomial smooth union of two distance fields (blend width k mm): flesh joins without creases."""
    h = np.clip(np.float32(0.5) + (b - a) * np.float32(0.5 / k), 0.0, 1.0)
    return b + (a - b) * h - np.float32(k) * h * (np.float32(1.0) - h)


def coverage(sdf_mm: F32, px_per_mm: float) -> F32:
    """Anti-aliased coverage of the inside of a signed-distance field: a one-pixel ramp across the
    boundary."""
    cover = cv2.addWeighted(sdf_mm, -px_per_mm, sdf_mm, 0.0, 0.5)
    out = f32(cover)
    return np.clip(out, 0.0, 1.0, out=out)


def edge_frame(edge: str, position: float, w_mm: float, h_mm: float) -> tuple[NDArray[np.float64], ...]:
    """Grip point (mm, card plane), unit direction along the edge and unit inward normal."""
    frames = {
        "top": ((position * w_mm, 0.0), (1.0, 0.0), (0.0, 1.0)),
        "bottom": ((position * w_mm, h_mm), (1.0, 0.0), (0.0, -1.0)),
        "left": ((0.0, position * h_mm), (0.0, 1.0), (1.0, 0.0)),
        "right": ((w_mm, position * h_mm), (0.0, 1.0), (-1.0, 0.0)),
    }
    return tuple(np.array(v, dtype=np.float64) for v in frames[edge])
