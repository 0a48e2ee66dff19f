"""Training on a CUDA GPU: device selection everywhere, the GPU runs only where CUDA is present (docs/gpu_check.md).

CI has no GPU, so the CUDA tests skip there; they ran on a lent H200 (the log is in docs/gpu_check.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cardlive.errors import InputError
from edge_models.train import TrainConfig, select_device, train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _config(data: Path, out: Path) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), epochs=2, batch_size=4, val_fraction=0.0)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def _torchrun(nproc: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    torchrun = Path(sys.executable).parent / "torchrun"
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return subprocess.run(
        [*launcher, f"--nproc_per_node={nproc}", "--master_port=29531", "-m", "cardlive.cli", "train", *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_device_selection_refuses_what_it_cannot_run() -> None:
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="expected one of"):
        select_device("tpu")
    if not torch.cuda.is_available():
        assert select_device("auto") == torch.device("cpu")
        with pytest.raises(InputError, match="sees no CUDA GPU"):
            select_device("cuda")


@pytest.mark.slow
def test_torchrun_with_one_process_uses_a_gloo_group_on_the_cpu(tiny_set: Path, tmp_path: Path) -> None:
    args = ["--data", str(tiny_set), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "2", "--quiet"]
    proc = _torchrun(1, [*args, "--device", "cpu"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = json.loads((tmp_path / "recapture.json").read_text())
    assert (card["backend"], card["world_size"], card["device"]) == ("gloo", 1, "cpu")


@needs_cuda
def test_cuda_training_is_deterministic_on_its_gpu(tiny_set: Path, tmp_path: Path) -> None:
    one = _weights(train(_config(tiny_set, tmp_path / "a"), progress=False, device="cuda"))
    two = _weights(train(_config(tiny_set, tmp_path / "b"), progress=False, device="cuda"))
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert all(v.device.type == "cpu" for v in one.values())


@needs_cuda
def test_cuda_training_follows_the_cpu_run(tiny_set: Path, tmp_path: Path) -> None:
    gpu = train(_config(tiny_set, tmp_path / "gpu"), progress=False, device="cuda")
    cpu = train(_config(tiny_set, tmp_path / "cpu"), progress=False, device="cpu")
    gpu_card, cpu_card = (json.loads(p.with_suffix(".json").read_text()) for p in (gpu, cpu))
    assert gpu_card["device"] != "cpu"
    for g, c in zip(gpu_card["history"], cpu_card["history"], strict=True):
        assert g["train_loss"] == pytest.approx(c["train_loss"], rel=1e-3)
    gw, cw = _weights(gpu), _weights(cpu)
    worst = max(float((gw[k].float() - cw[k].float()).abs().max()) for k in gw)
    assert worst < 1e-2, worst


@needs_cuda
def test_torchrun_trains_with_nccl_one_process_per_gpu(tiny_set: Path, tmp_path: Path) -> None:
    nproc = torch.cuda.device_count()
    args = ["--data", str(tiny_set), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "2", "--quiet"]
    proc = _torchrun(nproc, [*args, "--device", "cuda"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = json.loads((tmp_path / "recapture.json").read_text())
    assert (card["backend"], card["world_size"]) == ("nccl", nproc)


@needs_cuda
def test_auto_trains_on_the_cpu_when_the_gpus_are_fewer_than_the_processes(tiny_set: Path, tmp_path: Path) -> None:
    nproc = torch.cuda.device_count() + 1
    args = ["--data", str(tiny_set), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "2", "--quiet"]
    proc = _torchrun(nproc, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = json.loads((tmp_path / "recapture.json").read_text())
    assert (card["backend"], card["world_size"], card["device"]) == ("gloo", nproc, "cpu")


@needs_cuda
def test_more_processes_than_gpus_is_refused_with_a_clear_message(tiny_set: Path, tmp_path: Path) -> None:
    nproc = torch.cuda.device_count() + 1
    args = ["--data", str(tiny_set), "--out", str(tmp_path), "--epochs", "1", "--quiet", "--device", "cuda"]
    proc = _torchrun(nproc, args)
    assert proc.returncode != 0
    assert "has no GPU of its own" in proc.stderr


def test_the_cli_parser_loads_without_the_service_and_export_stacks() -> None:
    """A training machine (e.g. a GPU box with its own PyTorch) needs no SQLAlchemy, FastAPI or export runtimes."""
    heavy = "sqlalchemy fastapi uvicorn starlette pydantic onnx onnxruntime ai_edge_litert litert_torch coremltools"
    code = f"""
import importlib.abc, sys
HEAVY = set({heavy.split()!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
try:
    import sqlalchemy
except ImportError:
    pass
else:
    raise SystemExit("the blocker does not block")
from cardlive.cli import main
sys.exit(main(sys.argv[1:]))
"""
    proc = subprocess.run([sys.executable, "-c", code, "train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--device" in proc.stdout
