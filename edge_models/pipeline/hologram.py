"""Does the card's hologram respond to the tilt? The capture pipeline's classical check beside the ovd model.

The ovd model separates genuine tilt sequences from prints and screen replays, but mostly by how they look: with the
OVD region of genuine sequences frozen at one frame it still accepts nearly all of them (README, "Numbers"). This
check reads the hologram itself, where the ovd model's 128 x 80 crops cannot: each frame's card is rectified at
OVD_PX_PER_MM, the template's OVD region comes from the shipped references (the card finder names the template),
and the statistic is how much more the OVD's colour changes over the tilt than the rest of the card's:

  per frame: blur by BLUR_MM, CIELAB, a* and b* minus their median over the unglared rest of the card (white
  balance and the light's colour drift move both regions alike); per pixel: R = hypot(range of a*, range of b*)
  over the frames where the pixel is unglared (at least half of them); statistic = the PERCENTILE of R over the
  OVD's core (the template's mask eroded by EDGE_MM) minus the same over the rest of the card (EDGE_MM x 2 from
  the OVD and BORDER_MM from the card's edge). A foil's diffraction colours and white flashes come and go; printed
  ink stays the colour it is, up to noise and small quad errors, which move both regions alike.

Glare is the pipeline's own estimate, not the simulator's: every connected blob of bright (V >= GLARE_VALUE),
colourless (S <= GLARE_SAT) pixels that reaches off the OVD, grown by EDGE_MM x 2. A laminate highlight is a blob
that spills over the foil's edge wherever it lies; a foil's own white flash stays on the foil and is the response we
look for. The design was chosen on the held-out torch sequences of seeds 400 and 410 against 17 other statistics,
glare estimates and resolutions (8 px/mm scores the same as 4): 72 % of the genuine sequences respond where 2 % of
the static attacks and frozen copies do (ignoring the highlight altogether instead: 62 %).

Frames that do not line up with the others (their print detail correlates with the frames' median below ALIGN_MIN:
the card finder's quad was a few millimetres off) are left out: the statistic compares pixels across frames, and a
misregistered frame moves printed colour under the foil.

A genuine foil whose diffraction never reaches the camera over the user's tilt looks frozen too, so "not seen" is
not proof of an attack: the decision asks the user to tilt again ("hologram" retry) and never accepts a sequence
whose hologram did not respond. The thresholds per strictness level are calibrated (hologram_calibrate.py).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError, ParameterError
from edge_models.pipeline.quads import rectify
from edge_models.pipeline.references import OVD_SIZE, CardReferences

SPEC_PATH = Path(__file__).with_name("hologram.json")
STRICTNESS = ("strict", "normal", "relaxed")
OVD_PX_PER_MM = 4.0  # OVD_SIZE is the ID-1 card at this scale
BLUR_MM = 0.25
EDGE_MM = 0.5
BORDER_MM = 2.0
GLARE_VALUE = 235
GLARE_SAT = 60
PERCENTILE = 90.0
ALIGN_MIN = 0.7  # a frame whose print detail correlates less with the frames' median is misregistered: left out
MIN_CORE, MIN_REST = 30, 200  # pixels with enough unglared frames for a verdict


@dataclass(frozen=True)
class HologramResponse:
    """statistic: the OVD's colour change minus the rest of the card's (CIELAB units; None: no template OVD known,
    or too little of it unglared); seen: statistic >= threshold."""

    statistic: float | None
    threshold: float
    template_id: str | None

    @property
    def seen(self) -> bool:
        return self.statistic is not None and self.statistic >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "statistic": None if self.statistic is None else round(self.statistic, 4),
            "threshold": self.threshold,
            "seen": self.seen,
            "template_id": self.template_id,
        }


def rectified_cards(frames: list[NDArray[np.uint8]], quads: list[NDArray[np.float64]]) -> NDArray[np.uint8]:
    """(T, 216, 344, 3): each frame's card at OVD_PX_PER_MM, upright (quads start at the content's top-left)."""
    return np.stack([rectify(f, q, OVD_SIZE) for f, q in zip(frames, quads, strict=True)])


def _disk(mm: float) -> NDArray[np.uint8]:
    r = max(1, round(mm * OVD_PX_PER_MM))
    return np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)), np.uint8)


def regions(ovd: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The OVD's core and the rest of the card the statistic compares it with."""
    h, w = ovd.shape
    border = round(BORDER_MM * OVD_PX_PER_MM)
    card = np.zeros((h, w), bool)
    card[border : h - border, border : w - border] = True
    mask = ovd.astype(np.uint8)
    core = cv2.erode(mask, _disk(EDGE_MM)).astype(bool) & card
    rest = card & ~cv2.dilate(mask, _disk(2 * EDGE_MM)).astype(bool)
    return core, rest


def glare_pixels(cards: NDArray[np.uint8], ovd: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(T, H, W): the laminate highlight in each frame (see the module docstring), sparing the foil's own flashes."""
    foil = cv2.dilate(ovd.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    grow = _disk(2 * EDGE_MM)
    out = np.empty(cards.shape[:3], bool)
    for t, card in enumerate(cards):
        hsv = cv2.cvtColor(card, cv2.COLOR_RGB2HSV)
        bright = ((hsv[..., 2] >= GLARE_VALUE) & (hsv[..., 1] <= GLARE_SAT)).astype(np.uint8)
        _, blobs = cv2.connectedComponents(bright, connectivity=8)
        spilling = np.unique(blobs[(bright > 0) & ~foil])
        highlight = np.isin(blobs, spilling[spilling > 0]).astype(np.uint8)
        out[t] = cv2.dilate(highlight, grow).astype(bool)
    return out


def alignment(cards: NDArray[np.uint8], rest: NDArray[np.bool_], glare: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(T,): how well each frame's print detail (grey, band-passed) correlates with the frames' median over the
    unglared rest of the card; genuine frames rectified with true quads score >= 0.84, frames read through a quad
    a few millimetres off 0.3-0.4."""
    detail = []
    for card in cards:
        grey = cv2.GaussianBlur(cv2.cvtColor(card, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
        detail.append(grey - cv2.GaussianBlur(grey, (0, 0), 4.0))
    stack = np.stack(detail)
    reference = np.median(stack, axis=0)
    scores = np.zeros(len(cards))
    for t, frame in enumerate(stack):
        where = rest & ~glare[t]
        a, b = frame[where], reference[where]
        a, b = a - a.mean(), b - b.mean()
        scores[t] = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-6)
    return scores


def response_statistic(cards: NDArray[np.uint8], ovd: NDArray[np.bool_]) -> float | None:
    """The module docstring's statistic of (T, H, W, 3) rectified cards, over the frames that line up with the others
    (alignment >= ALIGN_MIN: a misregistered frame moves the print under the foil and reads as change); None: fewer
    than half the frames line up, or too few unglared pixels."""
    if cards.ndim != 4 or len(cards) < 2:
        raise ValueError(f"expected (T >= 2, H, W, 3) cards, got shape {cards.shape}")
    core, rest = regions(ovd)
    glare = glare_pixels(cards, ovd)
    keep = alignment(cards, rest, glare) >= ALIGN_MIN
    if keep.sum() < max(2, len(cards) // 2):
        return None
    cards, glare = cards[keep], glare[keep]
    chroma = np.empty((2, *cards.shape[:3]), np.float32)
    for t, card in enumerate(cards):
        blurred = cv2.GaussianBlur(card, (0, 0), BLUR_MM * OVD_PX_PER_MM).astype(np.float32) / np.float32(255.0)
        lab = cv2.cvtColor(blurred, cv2.COLOR_RGB2Lab)
        reference = rest & ~glare[t]
        if reference.sum() < MIN_REST:
            reference = rest
        for k in range(2):
            chroma[k, t] = lab[..., k + 1] - np.median(lab[..., k + 1][reference])
    clear = ~glare
    far = np.float32(1e6)
    spread = [np.where(clear, c, -far).max(axis=0) - np.where(clear, c, far).min(axis=0) for c in chroma]
    enough = clear.sum(axis=0) >= max(2, len(cards) // 2)
    inside, outside = core & enough, rest & enough
    if inside.sum() < MIN_CORE or outside.sum() < MIN_REST:
        return None
    change = np.hypot(spread[0], spread[1])
    return float(np.percentile(change[inside], PERCENTILE) - np.percentile(change[outside], PERCENTILE))


def hologram_response(
    frames: list[NDArray[np.uint8]],
    quads: list[NDArray[np.float64]],
    template_id: str | None,
    refs: CardReferences,
    threshold: float,
) -> HologramResponse:
    """The check on the frames with a card (quads from the card finder, the template it named)."""
    ovd = refs.ovd_mask(template_id)
    if ovd is None or len(frames) < 2:
        return HologramResponse(None, threshold, template_id)
    return HologramResponse(response_statistic(rectified_cards(frames, quads), ovd), threshold, template_id)


@functools.lru_cache(maxsize=8)
def load_hologram_threshold(strictness: str = "normal", path: Path = SPEC_PATH) -> float | None:
    """The response threshold of a strictness level from the shipped spec (hologram_calibrate.py writes it); None:
    the level does not run the check."""
    if strictness not in STRICTNESS:
        raise ParameterError(f"strictness={strictness!r} is not allowed; expected one of {', '.join(STRICTNESS)}")
    try:
        value = json.loads(Path(path).read_text())["levels"][strictness]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"cannot read the hologram spec {path}: {exc}") from None
    return None if value is None else float(value)
