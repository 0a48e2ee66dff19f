"""`cardlive evaluate`: ISO/IEC 30107-3 metrics of a trained model (recapture or ovd) on a labelled folder.

Writes REPORT/report.json (every number), REPORT/det.png (DET curves: worst species, pooled, each species) and
REPORT/confusion.json. Protocols: `in-dist` evaluates every capture; `leave-family-out` keeps the genuine captures
and only the attack species the model was trained without (its card's `excluded_species`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cardlive.errors import InputError, OutputError
from edge_models import metrics
from edge_models.data import subset
from edge_models.det_plot import plot_det
from edge_models.models.recapture import LABELS
from edge_models.ovd_baseline import ovd_baseline
from edge_models.ovd_data import SequenceSample, freeze_ovd
from edge_models.tasks import TASKS, attack_scores_of, class_probabilities
from edge_models.weights import load_weights

PROTOCOLS = ("in-dist", "leave-family-out")


def frozen_ovd_probe(model: nn.Module, samples: list[SequenceSample], threshold: float) -> dict[str, Any]:
    """Does the ovd model read the hologram? Share of genuine sequences (with an OVD mask) accepted at `threshold`
    as captured, with the OVD region frozen at the first frame, and with every frame replaced by the first."""
    genuine = [s for s in samples if s.label == 1.0 and s.ovd is not None and s.ovd.any()]
    if not genuine:
        return {"n": 0}
    variants = {
        "as_captured": [s.frames for s in genuine],
        "ovd_frozen": [freeze_ovd(s.frames, s.ovd, 0) for s in genuine if s.ovd is not None],
        "all_frames_frozen": [np.repeat(s.frames[:1], len(s.frames), axis=0) for s in genuine],
    }
    accepted: dict[str, Any] = {"n": len(genuine)}
    for name, sequences in variants.items():
        scores = attack_scores_of(TASKS["ovd"], model, TensorDataset(torch.from_numpy(np.stack(sequences))), 16)
        accepted[f"accepted_{name}"] = float(np.mean(scores < threshold))
    return accepted


def evaluate(weights: Path, data: Path, protocol: str, report_dir: Path, progress: bool = True) -> dict[str, Any]:
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; expected one of {list(PROTOCOLS)}")
    loaded = load_weights(weights)
    task = TASKS[loaded.name]
    dataset = task.load(data, progress, 1, 0, 0.0)
    if protocol == "leave-family-out":
        held_out = set(loaded.card["config"].get("excluded_species", []))
        if not held_out:
            raise InputError(
                f"{weights} was trained on every species; leave-family-out needs a model trained with --exclude-species"
            )
        keep = [i for i, s in enumerate(dataset.species) if s == "genuine" or s in held_out]
        dataset = subset(dataset, keep)
    species = dataset.species
    if "genuine" not in species or all(s == "genuine" for s in species):
        raise InputError(f"{data} needs both genuine and attack captures for this protocol")
    extra: dict[str, Any] = {}
    if loaded.name == "recapture":
        probs = class_probabilities(loaded.model, dataset)
        scores = 1.0 - probs[:, LABELS.index("genuine")]
        truth = [LABELS[s.label] for s in dataset.samples]
        predicted = [LABELS[int(i)] for i in probs.argmax(axis=1)]
        extra["confusion"] = metrics.confusion_matrix(truth, predicted, LABELS).tolist()
        extra["labels"] = list(LABELS)
        extra["accuracy"] = float(np.mean(np.array(truth) == np.array(predicted)))
    else:
        scores = attack_scores_of(task, loaded.model, dataset)
    report = metrics.pad_report(scores, species, loaded.threshold)
    baseline_scores = None
    if loaded.name == "ovd":  # the learned model is always reported beside the classical baseline
        baseline_scores = np.array([1.0 - ovd_baseline(sample.frames).probability for sample in dataset.samples])
        extra["baseline_pad"] = json.loads(metrics.pad_report(baseline_scores, species, 0.5).to_json())
        extra["frozen_ovd_probe"] = frozen_ovd_probe(loaded.model, dataset.samples, loaded.threshold)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {report_dir}: {exc.strerror or exc}") from None
    curves = {
        "worst species": metrics.det_curve(scores, species, "worst"),
        "pooled": metrics.det_curve(scores, species, "pooled"),
    }
    if baseline_scores is not None:
        curves["classical baseline (worst)"] = metrics.det_curve(baseline_scores, species, "worst")
    for name in sorted(set(species) - {"genuine"}):
        mask = np.array([s in ("genuine", name) for s in species])
        curves[name] = metrics.det_curve(scores[mask], [s for s, m in zip(species, mask, strict=True) if m])
    plot_det(curves, report_dir / "det.png", title=f"{loaded.name}, {protocol}, {len(species)} captures")
    result = {
        "model": loaded.name,
        "protocol": protocol,
        "weights": str(weights),
        "data": str(data),
        "n": len(species),
        "pad": json.loads(report.to_json()),
        **extra,
    }
    (report_dir / "report.json").write_text(json.dumps(result, indent=2))
    return result
