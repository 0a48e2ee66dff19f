"""A genuine tilt sequence with its hologram frozen, in frame pixels: the attack the hologram check exists for.

What a counterfeit card (or a print or replay good enough to pass the texture checks) shows: everything of the
genuine sequence, except that the OVD region stays as it was in one frame, as printed ink would. Each frame's OVD
region is the source frame's card, re-projected through that frame's quad, scaled by how the rest of the card's
brightness changed from the source to that frame (lit like the card it sits on), plus fresh noise at the level of
that frame's own card (edge_models.ovd_data.freeze_ovd does the same on the ovd model's rectified crops).
`cardlive evaluate-pipeline --frozen-ovd` runs every genuine sequence frozen as well; the pipeline should accept none.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.ovd_data import noise_level
from edge_models.pipeline.quads import rectify
from edge_models.pipeline.references import OVD_SIZE

GROW_PX = 2  # card-grid pixels (0.5 mm) around the template's OVD, so no live foil edge is left


def _card_to_frame(quad: NDArray[np.float64]) -> NDArray[np.float64]:
    w, h = OVD_SIZE
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5
    return np.asarray(cv2.getPerspectiveTransform(src, np.asarray(quad, np.float32) - 0.5), np.float64)


def freeze_ovd_frames(
    frames: list[NDArray[np.uint8]],
    quads: list[NDArray[np.float64]],
    ovd: NDArray[np.bool_],
    source: int,
    seed: int = 0,
) -> list[NDArray[np.uint8]]:
    """The frames with the OVD region (card grid OVD_SIZE, true quads) showing frame `source`'s state in all."""
    size = 2 * GROW_PX + 1
    grown = cv2.dilate(ovd.astype(np.uint8), np.ones((size, size), np.uint8)).astype(np.float32)
    rest = ~grown.astype(bool)
    cards = [rectify(f, q, OVD_SIZE).astype(np.float32) for f, q in zip(frames, quads, strict=True)]
    source_level = cards[source][rest].mean(axis=0)
    rng = np.random.default_rng([seed, source])
    out = []
    for frame, quad, card in zip(frames, quads, cards, strict=True):
        h, w = frame.shape[:2]
        to_frame = _card_to_frame(quad)
        gain = card[rest].mean(axis=0) / np.maximum(source_level, 1.0)
        shown = cv2.warpPerspective(cards[source] * gain, to_frame, (w, h), flags=cv2.INTER_LINEAR)
        region = cv2.warpPerspective(grown, to_frame, (w, h), flags=cv2.INTER_LINEAR) > 0.5
        on_card = cv2.warpPerspective(np.ones(grown.shape, np.float32), to_frame, (w, h)) > 0.5
        pixels = frame.astype(np.float32)
        noise = rng.normal(0.0, noise_level(pixels, on_card & ~region), (int(region.sum()), 3))
        pixels[region] = shown[region] + noise
        out.append(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    return out


def frozen_copy(
    frames: list[NDArray[np.uint8]], quads: list[NDArray[np.float64]], ovd: NDArray[np.bool_], index: int
) -> list[NDArray[np.uint8]]:
    """The frozen copy of sequence `index` of an evaluation or calibration set: source frame and noise seeded by
    the index, so both commands freeze a sequence alike."""
    source = int(np.random.default_rng([index, 7]).integers(len(frames)))
    return freeze_ovd_frames(frames, quads, ovd, source, seed=index)
