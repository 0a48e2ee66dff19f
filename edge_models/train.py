"""Training the recapture model: deterministic, checkpointed every epoch, resumable, data-parallel with torchrun.

Run alone (`cardlive train ...`) or distributed (`torchrun --nproc_per_node=N -m cardlive.cli train ...`): the
process group uses gloo on CPU and NCCL on GPUs (one GPU per process, LOCAL_RANK's); rank 0 alone writes
checkpoints and results. Every random draw derives from the seed and the epoch, so an interrupted run resumed from
its last checkpoint ends with the same weights as an uninterrupted one on the same kind of device (a CUDA run is
deterministic on its GPU, but its float sums differ from the CPU's in the last bits: `docs/gpu_check.md`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from capture_sim.capture import SimConfig
from capture_sim.species import ALL_SPECIES
from cardlive.errors import InputError, OutputError
from edge_models import metrics
from edge_models.augment import EpochSequenceVariants, EpochVariants
from edge_models.data import SimulatedMosaics, subset
from edge_models.datasets import split_by_group
from edge_models.models import create_model
from edge_models.models.recapture import LABELS
from edge_models.ovd_data import with_frozen_ovd
from edge_models.tasks import TASKS, attack_scores_of

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    model: str = "recapture"
    data: str = ""
    out: str = "build/train"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_fraction: float = 0.15
    workers: int = 0
    excluded_species: tuple[str, ...] = ()  # attack families left out of training (leave-family-out protocol)
    simulate: int = 0  # > 0: render this many fresh captures per epoch on the fly instead of reading --data
    sim_seed: int = 1  # epoch e renders SimConfig(seed=sim_seed + e); validation uses sim_seed + 100000
    variants: int = 1  # > 1: inputs per capture cut around jittered quads, one picked per epoch (edge_models.augment)
    frozen_ovd: bool = False  # ovd: add frozen-OVD copies of genuine sequences as attacks (ovd_data.with_frozen_ovd)
    side_shift: float = 0.0  # recapture variants: also move one side by up to this share of the diagonal
    init: str = ""  # weights (a MODEL.pt) to start from instead of a fresh initialisation (fine-tuning)


DEVICES = ("auto", "cpu", "cuda")


def select_device(requested: str = "auto") -> torch.device:
    """The device a training process runs on.

    `auto` takes this process's GPU (LOCAL_RANK) when every process on the node can have one of its own, else the
    CPU for all of them (so all ranks agree on NCCL or gloo); `cuda` insists on a GPU per process.
    """
    if requested not in DEVICES:
        raise InputError(f"--device {requested!r}: expected one of {', '.join(DEVICES)}")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    gpu_each = torch.cuda.is_available() and local_world <= torch.cuda.device_count()
    if requested == "cpu" or (requested == "auto" and not gpu_each):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError("--device cuda: this PyTorch build sees no CUDA GPU (use --device cpu or auto)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_rank >= torch.cuda.device_count():
        raise InputError(
            f"process LOCAL_RANK {local_rank} has no GPU of its own ({torch.cuda.device_count()} visible); "
            "NCCL needs one GPU per process: lower --nproc_per_node or use --device cpu (gloo)"
        )
    # Deterministic cuBLAS (torch.use_deterministic_algorithms) needs a fixed workspace, set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); under torchrun a process group even for one process, so NCCL / gloo are exercised."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launched = "RANK" in os.environ and "MASTER_ADDR" in os.environ
    if (world > 1 or launched) and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if dist.is_initialized() else (0, 1)


@dataclass(frozen=True)
class _Indexed:
    index: int
    group: str


def _simulated(config: TrainConfig, epoch: int) -> tuple[SimulatedMosaics, SimulatedMosaics | None]:
    """Fresh captures for an epoch (rendered in the DataLoader's workers) and a fixed validation set."""
    if config.model != "recapture":
        raise InputError(
            "--simulate trains the recapture model; simulate tilt sequences with `cardlive simulate "
            "--frames 8` and pass them with --data for ovd"
        )
    species = tuple(s for s in ALL_SPECIES if s not in config.excluded_species)
    train_set = SimulatedMosaics(SimConfig(seed=config.sim_seed + epoch, species=species), config.simulate)
    n_val = round(config.simulate * config.val_fraction)
    val = SimulatedMosaics(SimConfig(seed=config.sim_seed + 100_000, species=species), n_val) if n_val else None
    return train_set, val


def _split(dataset: Any, config: TrainConfig) -> tuple[Any, Any]:
    if config.val_fraction <= 0:
        return dataset, None
    indexed = [_Indexed(i, s.group) for i, s in enumerate(dataset.samples)]
    fractions = (1.0 - config.val_fraction, config.val_fraction, 0.0)
    train_part, val_part, _ = split_by_group(indexed, fractions, config.seed)
    train = [r.index for r in train_part]
    val = [r.index for r in val_part]
    return subset(dataset, train), (subset(dataset, val) if val else None)


def _save(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train(
    config: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    device: str = "auto",
) -> Path:
    """Train, checkpoint every epoch, and write weights + a JSON card of the run; returns the weights' path.

    `stop_after` ends the run after that many epochs (counted from the start of training), as an interruption would;
    `resume` then continues it from the checkpoint. `device` (auto / cpu / cuda) is where the model trains; it is
    not part of the configuration, so a run may be resumed on another device. Weights are always saved on the CPU.
    """
    if config.model not in TASKS:
        raise InputError(f"no training task for model {config.model!r}; expected one of {sorted(TASKS)}")
    task = TASKS[config.model]
    where = select_device(device)
    rank, world = _distributed(where)
    out = Path(config.out)
    if rank == 0:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    train_set: Any
    val_set: Any
    if config.side_shift > 0 and (config.model != "recapture" or config.variants < 2 or config.simulate > 0):
        raise InputError("--side-shift applies to the recapture model's quad variants (--data with --variants >= 2)")
    if config.simulate > 0:
        train_set, val_set = _simulated(config, epoch=0)
    else:
        if not config.data:
            raise InputError("give --data (a folder with index.jsonl, e.g. from `cardlive simulate`) or --simulate N")
        if config.frozen_ovd and config.model != "ovd":
            raise InputError("--frozen-ovd applies to the ovd model only")
        full = task.load(Path(config.data), progress and rank == 0, config.variants, config.seed, config.side_shift)
        if config.excluded_species:
            full = subset(full, [i for i, s in enumerate(full.species) if s not in config.excluded_species])
        train_set, val_set = _split(full, config)
        if config.frozen_ovd:  # a training signal only: the operating thresholds come from the real attack families
            train_set = with_frozen_ovd(train_set, config.seed)
        if config.variants > 1:
            wrapper = EpochSequenceVariants if config.model == "ovd" else EpochVariants
            train_set = wrapper(train_set, config.seed)
    model = create_model(config.model)
    if config.init:
        try:
            model.load_state_dict(torch.load(config.init, map_location="cpu", weights_only=True))
        except (OSError, RuntimeError) as exc:
            raise InputError(f"--init {config.init}: cannot load {config.model} weights from it ({exc})") from None
    model.to(where)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, -(-len(train_set) // (config.batch_size * world)))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.epochs * steps_per_epoch)
    start = 0
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.exists():
            raise InputError(f"--resume: no {checkpoint} to resume from")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if state["config"] != asdict(config):
            raise InputError(f"--resume: {checkpoint} was written with another configuration: {state['config']}")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        start = state["epoch"] + 1
    net: nn.Module = model
    if dist.is_initialized():
        ids = [where.index] if where.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    history: list[dict[str, float]] = []
    last = config.epochs if stop_after is None else min(config.epochs, stop_after)
    for epoch in range(start, last):
        if config.simulate > 0:
            train_set, _ = _simulated(config, epoch)
        elif isinstance(train_set, EpochVariants):
            train_set.set_epoch(epoch)
        if world > 1:
            sampler: Any = DistributedSampler(train_set, world, rank, shuffle=True, seed=config.seed)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(train_set, generator=torch.Generator().manual_seed(config.seed * 1000 + epoch))
        loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            sampler=sampler,
            num_workers=config.workers,
            pin_memory=where.type == "cuda",
        )
        net.train()
        total, seen = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", disable=not progress or rank)
        for batch in bar:
            optimiser.zero_grad()
            loss = task.loss(net, [t.to(where, non_blocking=True) for t in batch])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch[0])
            seen += len(batch[0])
            bar.set_postfix(loss=f"{total / seen:.4f}")
        record = {"epoch": epoch + 1, "train_loss": total / max(seen, 1)}
        if rank == 0:
            _save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "schedule": schedule.state_dict(),
                    "epoch": epoch,
                    "config": asdict(config),
                },
                checkpoint,
            )
            history.append(record)
    if dist.is_initialized():
        dist.barrier()
    model.cpu()
    weights = out / f"{config.model}.pt"
    if rank == 0:
        torch.save(model.state_dict(), weights)
        card: dict[str, Any] = {
            "model": config.model,
            "config": asdict(config),
            "history": history,
            "spec": json.loads(task.spec.to_json()),
            "labels": list(LABELS) if config.model == "recapture" else ["frozen_ovd", "real_ovd"],
            "command": " ".join(sys.argv),
            "device": torch.cuda.get_device_name(where) if where.type == "cuda" else "cpu",
            "world_size": world,
            "backend": dist.get_backend() if dist.is_initialized() else "none",
        }
        val_species = val_set.species if val_set is not None and len(val_set) else []
        if val_set is not None and "genuine" in val_species and any(sp != "genuine" for sp in val_species):
            scores = attack_scores_of(task, model, val_set)
            card["validation"] = {
                "n": len(val_set),
                "operating_thresholds": metrics.operating_thresholds(scores, val_species),
            }
        else:
            card["validation"] = {"n": len(val_species), "note": "no thresholds: needs genuine and attack captures"}
        (out / f"{config.model}.json").write_text(json.dumps(card, indent=2))
    if dist.is_initialized():
        dist.destroy_process_group()
    return weights
