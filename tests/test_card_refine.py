"""The card finder's sub-pixel refinement: sides running off the frame, and the learned mask's guidance."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_models.pipeline import cardfinder
from edge_models.pipeline import refine as refinement
from edge_models.pipeline.cardmask import quad_mask
from edge_models.pipeline.quads import aspect_repairs, corner_error, rectified_aspect
from edge_models.pipeline.refine import MaskGuide, refine
from tests.pipeline_helpers import FRONTAL, synthetic_frame, without_slide

H, W = 720, 1280


def _draw(quads_and_levels: list[tuple[np.ndarray, float]], background: float = 60.0) -> np.ndarray:
    img = np.full((H, W), background, np.float32)
    for quad, level in quads_and_levels:
        cv2.fillPoly(img, [np.round(quad * 16).astype(np.int32)], level, cv2.LINE_AA, shift=4)
    noise = np.random.default_rng(0).normal(0.0, 2.0, img.shape).astype(np.float32)
    return np.asarray(cv2.GaussianBlur(img, (3, 3), 0.8) + noise, np.float32)


def test_a_side_off_the_frame_keeps_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    card = np.array([[700.0, 200.0], [1450.0, 200.0], [1450.0, 673.0], [700.0, 673.0]])  # right side off the frame
    grey = _draw([(card, 200.0)])
    rough = card + np.array([[4.0, -3.0], [2.0, 3.0], [-3.0, 2.0], [3.0, -4.0]])
    found = refine(grey, rough, cardfinder.SEARCH_RADII)
    assert found is not None
    quad, support = found
    assert np.abs(quad[[0, 3]] - card[[0, 3]]).max() < 1.0  # the corners in the frame are refined
    assert support > 0.9  # the support counts the samples in the frame only
    # negative control: without the rule the side outside the frame finds no edge and the card is lost
    monkeypatch.setattr(refinement, "_OFF_FRAME_SIDE", 0.0)
    assert refine(grey, rough, cardfinder.SEARCH_RADII) is None


def test_the_mask_keeps_the_refinement_on_the_card_not_the_paper_around_it() -> None:
    card = np.array([[400.0, 200.0], [876.0, 200.0], [876.0, 500.0], [400.0, 500.0]])
    sheet = card + np.array([[-8.0, -8.0], [8.0, -8.0], [8.0, 8.0], [-8.0, 8.0]])  # a print's paper margin
    grey = _draw([(sheet, 235.0), (card, 130.0)], background=40.0)
    prob = quad_mask(card, (W, H), (W // 2, H // 2))
    guided = refine(grey, card, cardfinder.SEARCH_RADII, MaskGuide(prob, 0.5))
    plain = refine(grey, card, cardfinder.SEARCH_RADII)
    assert guided is not None
    assert plain is not None
    assert corner_error(guided[0], card) < 0.002
    # negative control: without the mask the outermost clear step is the paper's edge
    assert corner_error(plain[0], card) > 0.015


def _count_full_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = cardfinder.edge_segments

    def counting(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return real(small)

    monkeypatch.setattr(cardfinder, "edge_segments", counting)
    return calls


def test_tracking_falls_back_to_the_full_search_when_the_aspect_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_full_searches(monkeypatch)
    frame = synthetic_frame(FRONTAL)
    tracked = cardfinder.find_card(frame, previous=FRONTAL)
    assert tracked is not None
    assert corner_error(tracked.quad, FRONTAL) < 0.005
    assert calls == []  # an ID-1 card tracked from its last quad: no full search
    # a card-like rectangle 6 % too long (a side on a wrong edge looks like this): tracking is not trusted
    long = FRONTAL.copy()
    long[[1, 2], 0] += 0.06 * 600
    cardfinder.find_card(synthetic_frame(long), previous=long)
    assert calls == [1]
    # negative control: without the aspect check the same quad is kept by tracking
    monkeypatch.setattr(cardfinder, "TRACK_ASPECT_TOLERANCE", 1.0)
    cardfinder.find_card(synthetic_frame(long), previous=long)
    assert calls == [1]


def test_aspect_repairs_move_a_side_on_an_inner_band_back_to_the_card_outline() -> None:
    inner = FRONTAL.copy()
    inner[[0, 1], 1] += 0.12 * (FRONTAL[3, 1] - FRONTAL[0, 1])  # the top side on a header band 12 % inside
    assert cardfinder._aspect_off(rectified_aspect(inner, W, H)) > cardfinder.REPAIR_ASPECT_TOLERANCE
    assert corner_error(inner, FRONTAL) > 0.015
    best = min(aspect_repairs(inner, W, H), key=lambda q: corner_error(q, FRONTAL))
    assert corner_error(best, FRONTAL) < 0.002


def test_a_card_running_off_the_top_of_the_frame_is_repaired(monkeypatch: pytest.MonkeyPatch) -> None:
    card = FRONTAL + np.array([0.0, -190.0])  # the top edge 30 px above the frame: the header band is found instead
    frame = synthetic_frame(card)
    found = cardfinder.find_card(frame, learned=False)
    assert found is not None
    assert corner_error(found.quad, card) < 0.005
    # negative control: without the repair (nor the slide of a side on the frame's border out to ID-1's aspect,
    # tests/test_card_off_frame.py) the top side stays on the band
    monkeypatch.setattr(cardfinder, "REPAIR_ASPECT_TOLERANCE", 9.0)
    monkeypatch.setattr(cardfinder, "_slid_off_frame", without_slide)
    unrepaired = cardfinder.find_card(frame, learned=False)
    assert unrepaired is None or corner_error(unrepaired.quad, card) > 0.015
