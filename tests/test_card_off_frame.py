"""The card finder on cards running off the frame: a frame border standing in for the hidden side, the slide of
that side out to ID-1's aspect, the template match over the part inside, and the checks that keep it honest."""

from __future__ import annotations

import numpy as np
import pytest

from edge_models.pipeline import candidates, cardfinder
from edge_models.pipeline.quads import corner_error, inside_fraction
from edge_models.pipeline.references import load_references, masked_correlations, normalise_thumb
from tests.pipeline_helpers import FRAME_H, FRAME_W, FRONTAL, synthetic_frame, without_slide


def _shifted(dx: float, dy: float = 0.0) -> np.ndarray:
    return np.asarray(FRONTAL + np.array([dx, dy]))


def test_a_card_running_off_the_right_side_is_found_through_the_frame_border(monkeypatch: pytest.MonkeyPatch) -> None:
    card = _shifted(460.0)  # 120 px of its 600 px width beyond the right border
    assert 0.75 < inside_fraction(card, FRAME_W, FRAME_H) < 0.85
    frame = synthetic_frame(card)
    found = cardfinder.find_card(frame, learned=False)
    assert found is not None
    assert corner_error(found.quad, card) < 0.005
    assert found.template_id == "tpl00"
    # negative control: without the frame borders as candidate sides there is no quad to slide out
    monkeypatch.setattr(candidates, "_frame_borders", lambda h, w: [])
    lost = cardfinder.find_card(frame, learned=False)
    assert lost is None or corner_error(lost.quad, card) > 0.015


def test_the_hidden_side_is_slid_out_only_while_it_stays_outside_the_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    card = _shifted(460.0)
    frame = synthetic_frame(card)
    found = cardfinder.find_card(frame, learned=False)
    assert found is not None
    # negative control: without the slide the clipped quad has the wrong aspect and nothing replaces it
    monkeypatch.setattr(cardfinder, "_slid_off_frame", without_slide)
    lost = cardfinder.find_card(frame, learned=False)
    assert lost is None or corner_error(lost.quad, card) > 0.015


def test_the_template_match_of_a_clipped_card_counts_the_part_inside_only() -> None:
    refs = load_references()
    k = refs.template_ids.index("tpl03")
    grey = refs.thumbs[k] * 40.0 + 128.0
    valid = np.ones(grey.shape, bool)
    valid[:, -20:] = False  # the right quarter outside the frame
    clipped = np.where(valid, grey, 0.0)
    masked = masked_correlations(refs.thumbs, clipped, valid)
    assert int(np.argmax(masked)) == k
    assert masked[k] > 0.9
    # negative control: correlating the whole thumbnail, black where the frame ends, scores far lower
    plain = np.tensordot(refs.thumbs, normalise_thumb(clipped), axes=([1, 2], [0, 1]))
    assert plain[k] < masked[k] - 0.2


def test_a_card_mostly_outside_the_frame_is_not_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    card = _shifted(640.0)  # 300 of its 600 px outside
    assert inside_fraction(card, FRAME_W, FRAME_H) < cardfinder.MIN_INSIDE
    grey_f, small, scale = cardfinder._working(synthetic_frame(card))
    refs = load_references()
    assert cardfinder._verify(grey_f, small, card, scale, refs, cardfinder.SEARCH_RADII, repair=True) is None
    # negative control: without the rule even the true quad of a half-visible card passes as a card
    monkeypatch.setattr(cardfinder, "MIN_INSIDE", 0.0)
    assert cardfinder._verify(grey_f, small, card, scale, refs, cardfinder.SEARCH_RADII, repair=True) is not None


def test_a_repaired_side_must_find_an_edge_where_it_lands() -> None:
    frame = synthetic_frame(FRONTAL)
    grey_f, small, scale = cardfinder._working(frame)
    refs = load_references()
    near = FRONTAL + np.array([[0.0, -3.0], [0.0, -3.0], [0.0, 0.0], [0.0, 0.0]])  # top side 3 px off the edge
    confirmed = cardfinder._confirmed_repair(grey_f, small, near, scale, refs, None)
    assert confirmed is not None
    assert corner_error(confirmed.quad, FRONTAL) < 0.002
    # negative control: a top side slid 60 px up onto the plain desk finds no card edge there
    far = FRONTAL + np.array([[0.0, -60.0], [0.0, -60.0], [0.0, 0.0], [0.0, 0.0]])
    assert cardfinder._confirmed_repair(grey_f, small, far, scale, refs, None) is None
