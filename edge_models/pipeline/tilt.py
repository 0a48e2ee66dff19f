"""How far a tilt sequence turned the card: the spread of the card's normal over the frames.

Each frame's normal comes from its quad (homography with an assumed phone focal length, see quads.py); the
coverage is the largest angle between any two frames' normals. The ovd model needs the hologram seen from
different angles: below the spec's minimum the user is asked to tilt the card.
"""

from __future__ import annotations

import math

import numpy as np

from edge_models.pipeline.quads import Quad, card_normal


def tilt_coverage_deg(quads: list[Quad], width: int, height: int) -> float:
    """Largest angle in degrees between the card normals of any two frames (0 for fewer than 2 frames)."""
    if len(quads) < 2:
        return 0.0
    normals = np.stack([card_normal(q, width, height) for q in quads])
    cos = np.clip(normals @ normals.T, -1.0, 1.0)
    return float(math.degrees(math.acos(float(cos.min()))))
