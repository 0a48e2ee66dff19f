"""The recapture model learns from the simulator's labels, and not from shuffled ones (a negative control).

Both runs use the real `train` and `evaluate` code on the same captures with the same seeds; only the labels of the
shuffled copy are permuted across captures. Held-out captures come from another simulator seed.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from capture_sim.capture import SimConfig
from capture_sim.dataset import simulate
from edge_models.evaluate import evaluate
from edge_models.train import TrainConfig, train

SPECIES = ("genuine", "laptop_lcd_rgb", "laser_am")


def _shuffled_copy(data: Path, out: Path, seed: int) -> Path:
    """The same captures with labels (and species) permuted across them."""
    rows = [json.loads(line) for line in (data / "index.jsonl").read_text().splitlines()]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    out.mkdir()
    os.symlink(data / "captures", out / "captures")
    with (out / "index.jsonl").open("w") as fh:
        for row, source in zip(rows, (rows[i] for i in order), strict=True):
            fh.write(json.dumps({**row, "label": source["label"], "species": source["species"]}) + "\n")
    return out


def _fit_and_score(data: Path, test: Path, out: Path) -> dict:
    config = TrainConfig(data=str(data), out=str(out / "model"), epochs=40, batch_size=8, lr=3e-3, val_fraction=0.2)
    return evaluate(train(config, progress=False), test, "in-dist", out / "report", progress=False)


@pytest.mark.slow
def test_real_labels_beat_chance_and_shuffled_labels_do_not(tmp_path: Path) -> None:
    train_set, test_set = tmp_path / "train", tmp_path / "test"
    simulate(train_set, 48, SimConfig(seed=41, species=SPECIES), progress=False)
    simulate(test_set, 24, SimConfig(seed=42, species=SPECIES), progress=False)
    labels = [json.loads(line)["label"] for line in (test_set / "index.jsonl").read_text().splitlines()]
    chance = max(Counter(labels).values()) / len(labels)  # always answering the most frequent class

    real = _fit_and_score(train_set, test_set, tmp_path / "real")
    shuffled = _fit_and_score(_shuffled_copy(train_set, tmp_path / "shuffled", seed=0), test_set, tmp_path / "shuf")

    # "beats chance", one criterion for both runs: a quarter more of the held-out captures right (6 of 24) than always
    # answering the most frequent class, and an EER of at most 30 % (24 held-out captures make both coarse). The
    # learning rate is the committed recipe's: 24 training captures at 1e-2 were too few and too fast for the
    # 83k-parameter recapture 0.4.0 (real labels: accuracy 0.67 but EER 0.5); 48 at 3e-3: accuracy 0.67, EER 0.25
    # (shuffled: 0.21, 0.375).
    def beats_chance(result: dict) -> bool:
        return result["accuracy"] >= chance + 0.25 and result["pad"]["eer"] <= 0.3

    assert beats_chance(real), (real["accuracy"], real["pad"]["eer"], chance)
    assert not beats_chance(shuffled), (shuffled["accuracy"], shuffled["pad"]["eer"], chance)
