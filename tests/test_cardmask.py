"""The learned card mask (edge_models/pipeline/cardmask.py) and the candidates the card finder takes from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cardlive.errors import InputError
from edge_models.pipeline.cardfinder import find_card, mask_agreement, mask_candidates
from edge_models.pipeline.cardmask import (
    CardMaskNet,
    card_probability,
    load_cardmask,
    load_training_set,
    quad_mask,
    train_cardmask,
)
from edge_models.pipeline.quads import clockwise, corner_error
from edge_models.pipeline.simframes import card_frame

WORK = (640, 360)  # working resolution of a 1280x720 frame


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]


def _iou(prob: np.ndarray, quad: np.ndarray, frame_wh: tuple[int, int]) -> float:
    truth = quad_mask(quad, frame_wh, (prob.shape[1], prob.shape[0])) > 0.5
    card = prob > 0.5
    return float((truth & card).sum() / max((truth | card).sum(), 1))


def test_model_is_tiny_and_int8_friendly() -> None:
    model = CardMaskNet()
    assert sum(p.numel() for p in model.parameters()) < 100_000
    allowed = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU6)
    leaves = [m for m in model.modules() if not list(m.children())]
    assert leaves
    assert all(isinstance(m, allowed) for m in leaves), {type(m).__name__ for m in leaves}


def test_quad_mask_rasterises_the_quad() -> None:
    quad = np.array([[100.0, 100.0], [500.0, 100.0], [500.0, 352.0], [100.0, 352.0]])
    mask = quad_mask(quad, (1280, 720), WORK)
    assert abs(mask.sum() - 200 * 126) < 0.01 * 200 * 126
    assert mask[60:70, 100:200].min() == 1.0
    assert mask[:40].max() == 0.0
    # negative control: the same quad moved away covers other pixels
    moved = quad_mask(quad + np.array([600.0, 0.0]), (1280, 720), WORK)
    assert (mask * moved).sum() == 0.0


def test_mask_candidates_recover_a_quad_with_a_corner_outside_the_frame() -> None:
    inside = np.array([[150.0, 100.0], [520.0, 130.0], [500.0, 330.0], [140.0, 300.0]])
    outside = np.array([[260.0, 100.0], [660.0, 130.0], [610.0, 400.0], [250.0, 330.0]])  # 2 corners off the frame
    for quad in (inside, outside):
        prob = quad_mask(quad, WORK, WORK)
        found = mask_candidates(prob)
        errors = [min(corner_error(np.roll(clockwise(q), k, 0), quad) for k in range(4)) for q in found]
        assert found
        assert min(errors) < 0.01, errors
    # negative control: an empty mask gives no candidates
    assert mask_candidates(np.zeros((WORK[1], WORK[0]), np.float32)) == []


def test_mask_agreement_prefers_the_true_quad() -> None:
    quad = np.array([[300.0, 200.0], [900.0, 200.0], [900.0, 580.0], [300.0, 580.0]])
    prob = quad_mask(quad, (1280, 720), WORK)
    assert mask_agreement(prob, quad, 0.5) > 0.97
    assert mask_agreement(prob, quad + np.array([60.0, 0.0]), 0.5) < 0.9  # negative control: a shifted quad agrees less


@pytest.fixture(scope="module")
def tiny_sequences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate

    data = tmp_path_factory.mktemp("cardmask") / "seq"
    simulate(data, 2, SimConfig(seed=8, species=("genuine", "laser_am"), frames=3), progress=False)
    return data


def test_training_set_takes_both_ends_of_a_sequence(tiny_set: Path, tiny_sequences: Path) -> None:
    xs, ys = load_training_set([tiny_set, tiny_sequences], limit=2)
    assert xs.shape == (2 + 2 * 2, 144, 256, 3)
    assert xs.dtype == np.uint8
    assert ys.shape == (6, 72, 128)
    # the first and last frame of a tilt sequence show the card at different poses: different masks
    assert np.abs(ys[2] - ys[3]).sum() > 10.0
    assert all(y.sum() > 0.02 * y.size for y in ys)


def test_mask_input_must_be_rgb() -> None:
    with pytest.raises(InputError, match="RGB"):
        card_probability(np.zeros((72, 128), np.uint8), (64, 36))


@pytest.mark.slow
def test_training_is_seeded_and_learns(tiny_set: Path, tmp_path: Path) -> None:
    a = train_cardmask(tiny_set, tmp_path / "a.pt", epochs=3, seed=3, batch=3, limit=6, progress=False)
    b = train_cardmask(tiny_set, tmp_path / "b.pt", epochs=3, seed=3, batch=3, limit=6, progress=False)
    c = train_cardmask(tiny_set, tmp_path / "c.pt", epochs=3, seed=4, batch=3, limit=6, progress=False)
    assert a["train_loss"] == b["train_loss"]
    assert a["train_loss"] != c["train_loss"]  # negative control: another seed trains differently
    assert a["train_loss"][-1] < a["train_loss"][0]
    assert load_cardmask(tmp_path / "a.pt") is not load_cardmask(tmp_path / "c.pt")


def test_committed_mask_covers_the_card(tiny_set: Path) -> None:
    for row in _rows(tiny_set)[:3]:
        rgb = np.asarray(Image.open(tiny_set / row["path"]).convert("RGB"))
        h, w = rgb.shape[:2]
        prob = card_probability(rgb, (w // 2, h // 2))
        quad = np.asarray(row["quad"], np.float64)
        assert _iou(prob, quad, (w, h)) > 0.75
        # negative control: the card's quad moved by a third of the frame hardly overlaps the mask
        assert _iou(prob, quad + np.array([w / 3, 0.0]), (w, h)) < 0.5


@pytest.mark.parametrize("index", [8, 11, 21])
def test_learned_candidates_find_cards_the_classical_search_misses(index: int) -> None:
    # bench frames (seed 900, never trained on) where the card lies on a similar, textured desk
    frame, quad = card_frame(900, index)
    found = find_card(frame, learned=True)
    assert found is not None
    assert corner_error(found.quad, quad) <= 0.015
    # negative control: the classical candidates alone find no card there
    assert find_card(frame, learned=False) is None
