"""The hologram response check: the statistic, its glare estimate, the frozen-OVD attack, calibration, decisions."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cardlive.errors import InputError, ParameterError
from edge_models.ovd_data import is_video_replay
from edge_models.pipeline import hologram
from edge_models.pipeline.decision import Thresholds, decide
from edge_models.pipeline.frozen_ovd import freeze_ovd_frames
from edge_models.pipeline.gates import load_gate_spec
from edge_models.pipeline.hologram import (
    HologramResponse,
    alignment,
    glare_pixels,
    hologram_response,
    load_hologram_threshold,
    rectified_cards,
    regions,
    response_statistic,
)
from edge_models.pipeline.hologram_calibrate import derive, is_static_sequence
from edge_models.pipeline.references import OVD_SIZE, load_references
from tests.test_pipeline_decision import record

TEMPLATE = "tpl00"
FRAMES = 8


def _cards(responding: bool, seed: int = 0, glare_over_ovd: bool = False) -> np.ndarray:
    """(T, 216, 344, 3) rectified cards: a printed pattern, sensor noise, and the template's OVD that changes
    colour with the tilt (or stays one colour: frozen)."""
    rng = np.random.default_rng(seed)
    w, h = OVD_SIZE
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([120 + 40 * np.sin(xx / 7.0), 140 + 30 * np.cos(yy / 5.0), 110 + 20 * np.sin((xx + yy) / 9.0)], -1)
    ovd = load_references().ovd_mask(TEMPLATE)
    assert ovd is not None
    out = []
    for t in range(FRAMES):
        card = base.copy()
        hue = (t * 22) % 180 if responding else 40
        colour = cv2.cvtColor(np.uint8([[[hue, 200, 220]]]), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)
        card[ovd] = colour
        if glare_over_ovd:  # a white laminate highlight sweeping over the card and the foil
            ys, xs = np.nonzero(ovd)
            cy, cx = ys.mean() + (t - FRAMES / 2) * 6, xs.mean() + (t - FRAMES / 2) * 10
            card[(yy - cy) ** 2 + (xx - cx) ** 2 < 30**2] = 250
        card += rng.normal(0.0, 2.0, card.shape)
        out.append(np.clip(card, 0, 255).astype(np.uint8))
    return np.stack(out)


def _ovd() -> np.ndarray:
    mask = load_references().ovd_mask(TEMPLATE)
    assert mask is not None
    return mask


def test_a_responding_ovd_is_seen_and_a_frozen_one_is_not() -> None:
    live = response_statistic(_cards(True), _ovd())
    frozen = response_statistic(_cards(False), _ovd())
    assert live is not None
    assert frozen is not None
    assert live > 20.0  # the foil's colour swings far more than the print around it
    assert abs(frozen) < 2.0  # control: the same card with the foil's colour fixed


def test_the_laminate_highlight_does_not_make_a_frozen_ovd_respond() -> None:
    cards = _cards(False, glare_over_ovd=True)
    glare = glare_pixels(cards, _ovd())
    assert glare.any(axis=(1, 2)).all()  # every frame's highlight is found
    frozen = response_statistic(cards, _ovd())
    assert frozen is not None
    assert frozen < 2.0


def test_statistic_needs_frames_and_unglared_foil() -> None:
    with pytest.raises(ValueError, match="T >= 2"):
        response_statistic(_cards(True)[:1], _ovd())
    assert response_statistic(_cards(True), np.zeros_like(_ovd())) is None  # no OVD, no verdict


def _frames_of(cards: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each card warped into a 640 x 400 frame under a slightly different quad."""
    w, h = OVD_SIZE
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5
    frames, quads = [], []
    for t, card in enumerate(cards):
        quad = np.array([[100 + t, 60], [540, 70 + t], [530, 340], [110, 330 - t]], np.float64)
        m = cv2.getPerspectiveTransform(src, quad.astype(np.float32) - 0.5)
        frames.append(cv2.warpPerspective(card, m, (640, 400), flags=cv2.INTER_LINEAR))
        quads.append(quad)
    return frames, quads


def test_hologram_response_reads_frames_through_their_quads() -> None:
    refs = load_references()
    frames, quads = _frames_of(_cards(True))
    assert rectified_cards(frames, quads).shape == (FRAMES, OVD_SIZE[1], OVD_SIZE[0], 3)
    seen = hologram_response(frames, quads, TEMPLATE, refs, threshold=6.0)
    assert seen.seen
    assert seen.statistic is not None
    frozen = freeze_ovd_frames(frames, quads, _ovd(), source=3, seed=1)
    assert not hologram_response(frozen, quads, TEMPLATE, refs, threshold=6.0).seen  # the attack
    unknown = hologram_response(frames, quads, None, refs, threshold=6.0)
    assert unknown.statistic is None
    assert not unknown.seen


def test_freezing_changes_only_the_ovd_region() -> None:
    frames, quads = _frames_of(_cards(True))
    frozen = freeze_ovd_frames(frames, quads, _ovd(), source=2, seed=0)
    cards = rectified_cards(frozen, quads).astype(np.float32)
    core = cv2.erode(_ovd().astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    spread = np.ptp(cards[:, core], axis=0).mean()
    assert spread < 12.0  # the foil shows frame 2's colour in every frame, plus noise
    live_spread = np.ptp(rectified_cards(frames, quads).astype(np.float32)[:, core], axis=0).mean()
    assert live_spread > 3 * spread  # control: unfrozen it swings
    far = ~cv2.dilate(_ovd().astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    assert np.array_equal(rectified_cards(frozen, quads)[:, far], rectified_cards(frames, quads)[:, far])


def test_a_sequence_whose_hologram_did_not_respond_is_retried_never_accepted() -> None:
    spec, thr = load_gate_spec("normal"), Thresholds(recapture=0.5, ovd=0.6)
    frames = [record(i, attack=0.1) for i in range(4)]
    seen = HologramResponse(9.0, 6.0, TEMPLATE)
    still = HologramResponse(1.0, 6.0, TEMPLATE)
    assert decide(frames, frames, 0.2, 20.0, spec, thr, True, hologram=seen).outcome == "accept"
    retried = decide(frames, frames, 0.2, 20.0, spec, thr, True, hologram=still)
    assert (retried.outcome, retried.reason) == ("retry", "hologram")
    assert retried.to_json()["fused"]["hologram"]["seen"] is False
    blind = decide(frames, frames, 0.2, 20.0, spec, thr, True, hologram=HologramResponse(None, 6.0, None))
    assert blind.outcome == "retry"  # glare over the whole foil: no verdict is not a pass
    rejected = decide(frames, frames, 0.9, 20.0, spec, thr, True, hologram=still)
    assert rejected.reason == "no_live_hologram"  # the ovd model's reject comes first


def test_calibration_rules_order_the_levels_and_bound_the_negatives_passing() -> None:
    rng = np.random.default_rng(0)
    m: dict[str, list[float | None]] = {
        "genuine": [*rng.normal(12.0, 5.0, 300).tolist(), None],
        "frozen": rng.normal(-8.0, 3.0, 300).tolist(),
        "attack": rng.normal(-1.0, 3.0, 600).tolist(),
    }
    doc = derive(m)
    levels = doc["levels"]
    assert levels["strict"] > levels["normal"] > levels["relaxed"]
    for level, share in (("strict", 0.002), ("normal", 0.01), ("relaxed", 0.03)):
        passing = doc["passing"][level]
        assert (300 * passing["frozen"] + 600 * passing["attack"]) / 900 <= share + 0.0012  # of all negatives
    assert 0.0 < doc["passing"]["relaxed"]["genuine"] < 1.0  # the None genuine sequence never passes
    assert doc["no_statistic"] == {"genuine": 1, "frozen": 0, "attack": 0}
    with pytest.raises(InputError, match="static attacks"):
        derive({"genuine": [1.0], "frozen": [None], "attack": []})


def test_shipped_spec_levels_and_errors(tmp_path: Path) -> None:
    values = [load_hologram_threshold(level) for level in ("strict", "normal", "relaxed")]
    assert all(v is not None for v in values)
    assert values[0] > values[1] > values[2]  # type: ignore[operator]
    with pytest.raises(ParameterError, match="strictness"):
        load_hologram_threshold("lenient")
    broken = tmp_path / "hologram.json"
    broken.write_text(json.dumps({"levels": {}}))
    with pytest.raises(InputError, match="hologram spec"):
        load_hologram_threshold("normal", broken)


def test_a_misregistered_frame_is_left_out_instead_of_reading_as_a_response(monkeypatch: pytest.MonkeyPatch) -> None:
    cards = _cards(False)
    cards[3] = np.roll(cards[3], (6, 10), axis=(0, 1))  # one frame read through a quad ~3 mm off
    scores = alignment(cards, regions(_ovd())[1], glare_pixels(cards, _ovd()))
    assert scores[3] < 0.7 < scores[[0, 1, 2, 4, 5, 6, 7]].min()
    frozen = response_statistic(cards, _ovd())
    assert frozen is not None
    assert frozen < 2.0
    monkeypatch.setattr(hologram, "ALIGN_MIN", -1.0)  # negative control: keep every frame
    unfiltered = response_statistic(cards, _ovd())
    assert unfiltered is not None
    assert unfiltered > 6.0  # the shifted print under the foil reads as a response
    monkeypatch.setattr(hologram, "ALIGN_MIN", 0.7)
    for k, t in enumerate(range(1, 7)):  # most frames off, each its own way: no verdict
        cards[t] = np.roll(_cards(False)[t], (3 * (k + 1), 5 * (k + 1) * (-1) ** k), axis=(0, 1))
    assert response_statistic(cards, _ovd()) is None


def test_video_replays_are_left_out_of_the_hologram_data() -> None:
    video = {"presentation": {"content_source": "video"}}
    still = {"presentation": {"content_source": "scan"}}
    assert is_video_replay("screen", video)
    assert not is_video_replay("screen", still)  # a replayed still is a static attack: kept
    assert not is_video_replay("print", video)  # only screens play videos
    assert is_static_sequence({"frames": 8, "label": "screen", "params": still})
    assert not is_static_sequence({"frames": 8, "label": "screen", "params": video})
    assert not is_static_sequence({"frames": 1, "label": "genuine", "params": {}})  # a still is no sequence
