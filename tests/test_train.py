"""Training: determinism, resume, refusals, and data parallelism with torchrun (2 processes, gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.train import TrainConfig, train


def _config(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = {"data": str(data), "out": str(out), "epochs": 2, "batch_size": 4, "val_fraction": 0.0}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_training_is_deterministic_and_resume_matches_an_uninterrupted_run(tiny_set: Path, tmp_path: Path) -> None:
    straight = train(_config(tiny_set, tmp_path / "a"), progress=False)
    again = train(_config(tiny_set, tmp_path / "b"), progress=False)
    train(_config(tiny_set, tmp_path / "c"), progress=False, stop_after=1)
    resumed = train(_config(tiny_set, tmp_path / "c"), resume=True, progress=False)
    a, b, c = _weights(straight), _weights(again), _weights(resumed)
    for name in a:
        assert torch.equal(a[name], b[name]), name
        assert torch.equal(a[name], c[name]), name


def test_another_seed_gives_other_weights(tiny_set: Path, tmp_path: Path) -> None:
    """Negative control for the determinism check: the comparison does see a different run."""
    a = _weights(train(_config(tiny_set, tmp_path / "a", epochs=1), progress=False))
    b = _weights(train(_config(tiny_set, tmp_path / "b", epochs=1, seed=1), progress=False))
    assert any(not torch.equal(a[n], b[n]) for n in a)


def test_resume_refuses_a_checkpoint_of_another_configuration(tiny_set: Path, tmp_path: Path) -> None:
    train(_config(tiny_set, tmp_path, epochs=1), progress=False)
    with pytest.raises(InputError, match="another configuration"):
        train(_config(tiny_set, tmp_path, epochs=1, lr=0.1), resume=True, progress=False)
    with pytest.raises(InputError, match=r"no .*checkpoint"):
        train(_config(tiny_set, tmp_path / "empty", epochs=1), resume=True, progress=False)


def test_train_writes_a_card_with_thresholds(tiny_set: Path, tmp_path: Path) -> None:
    train(_config(tiny_set, tmp_path, epochs=1, val_fraction=0.34), progress=False)
    card = json.loads((tmp_path / "recapture.json").read_text())
    assert card["labels"] == ["genuine", "screen", "print"]
    assert card["spec"]["global_size"] == [256, 160]
    assert set(card["validation"]["operating_thresholds"]) == {"apcer_0.01", "apcer_0.05"}


def test_ovd_trains_on_tilt_sequences_and_writes_glare_aware_weights(tmp_path: Path) -> None:
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate

    data = tmp_path / "seq"
    simulate(data, 4, SimConfig(seed=8, species=("genuine", "laser_am"), frames=3), progress=False)
    weights = train(_config(data, tmp_path / "ovd", model="ovd", epochs=1, batch_size=2), progress=False)
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["model"] == "ovd"
    assert card["spec"]["global_size"] == [128, 80]
    assert card["history"][0]["train_loss"] > 0
    from edge_models.ovd_data import FolderSequences

    one = FolderSequences(data, progress=False)
    two = FolderSequences(Path(f"{data},{data}"), progress=False)
    assert len(two) == 2 * len(one) == 8
    frozen = train(_config(data, tmp_path / "frozen", model="ovd", epochs=1, batch_size=2, frozen_ovd=True), False)
    assert json.loads(frozen.with_suffix(".json").read_text())["config"]["frozen_ovd"] is True
    with pytest.raises(InputError, match="ovd model only"):
        train(_config(data, tmp_path / "r", model="recapture", epochs=1, frozen_ovd=True), progress=False)


def test_training_refuses_a_folder_without_what_the_model_needs(tiny_set: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no tilt sequences"):
        train(_config(tiny_set, tmp_path, model="ovd", epochs=1), progress=False)


@pytest.mark.slow
def test_torchrun_with_two_processes_trains_and_writes_one_result(tiny_set: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["--data", str(tiny_set), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "2", "--quiet"]
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "--master_port=29517", "-m", "cardlive.cli", "train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "recapture.pt").exists()
    assert json.loads((tmp_path / "recapture.json").read_text())["history"][0]["epoch"] == 1


def test_evaluating_an_ovd_model_reports_the_classical_baseline_beside_it(tmp_path: Path) -> None:
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate

    data = tmp_path / "seq"
    simulate(data, 4, SimConfig(seed=9, species=("genuine", "inkjet_fm"), frames=3), progress=False)
    weights = train(_config(data, tmp_path / "ovd", model="ovd", epochs=1, batch_size=2), progress=False)
    assert (
        main(["evaluate", "--model", str(weights), "--data", str(data), "--report", str(tmp_path / "r"), "--quiet"])
        == 0
    )
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["model"] == "ovd"
    assert {"eer", "bpcer20"} <= set(report["baseline_pad"])


def test_on_the_fly_simulation_trains_deterministically_with_worker_processes(tmp_path: Path) -> None:
    def run(out: str, workers: int) -> dict[str, torch.Tensor]:
        config = TrainConfig(
            out=str(tmp_path / out), epochs=1, batch_size=3, val_fraction=0.0, simulate=3, sim_seed=4, workers=workers
        )
        return _weights(train(config, progress=False))

    one, two = run("one", 0), run("two", 2)
    for name in one:
        assert torch.equal(one[name], two[name]), name


def test_recapture_data_may_come_from_several_folders(tiny_set: Path) -> None:
    from edge_models.data import FolderMosaics

    one = FolderMosaics(tiny_set, progress=False)
    two = FolderMosaics(Path(f"{tiny_set},{tiny_set}"), progress=False)
    assert len(two) == 2 * len(one)
    assert two.species == one.species * 2
