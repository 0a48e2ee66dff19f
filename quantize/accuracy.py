"""Accuracy kept? Score a labelled folder with every variant in a bundle and compare with the fp32 reference.

For each model and each artifact that can run here, the attack score (recapture 1 - P(genuine), ovd 1 - P(real OVD))
is computed for every capture (recapture: single-frame captures with a quad; ovd: tilt sequences) and compared with
the bundle's fp32 PyTorch model at the manifest's default threshold:

- decision agreement (share of captures with the same attack/genuine decision) >= 99.5 %,
- |delta BPCER100| <= 0.5 percentage points (BPCER at worst-species APCER 1 %, ISO/IEC 30107-3),
- |delta worst-species APCER| at the operating threshold <= 0.5 percentage points.

A variant passes when all three hold. CoreML is reported as not run off macOS. Note that with a few hundred captures
one flipped bona fide presentation moves BPCER by more than 0.5 pp, so the metric bounds are strict on small sets.

Beside the point delta of BPCER100, a paired bootstrap 95 % interval (captures resampled with replacement within each
species, BOOTSTRAP_ROUNDS rounds, seed BOOTSTRAP_SEED; both models scored on the same resample) says how far the
delta moves with the sample alone: BPCER100 sits at the worst species' ~1 % attack tail, a few captures, so a point
delta of 1 pp may be one score crossing it. The pass rule stays on the point delta; the interval is context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardlive.errors import InputError
from edge_models.metrics import bpcer_at_apcer, pad_report
from quantize.manifest import read_manifest
from quantize.runtimes import open_runner, runtime_available

MIN_AGREEMENT = 0.995
MAX_DELTA_PP = 0.5
BOOTSTRAP_ROUNDS = 400
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class LabelledInputs:
    """Model inputs for a labelled folder, with the species of each (\"genuine\" = bona fide)."""

    inputs: np.ndarray  # uint8; converted to float32 chunk by chunk when scored
    species: list[str]


def load_labelled(model: str, data_dir: Path, progress: bool = False) -> LabelledInputs:
    """The folder's captures as `model` inputs (mosaics or aligned sequences)."""
    if model == "recapture":
        from edge_models.data import FolderMosaics

        mosaics = FolderMosaics(Path(data_dir), progress=progress)
        return LabelledInputs(np.stack([s.mosaic for s in mosaics.samples]), [s.species for s in mosaics.samples])
    from edge_models.ovd_data import FolderSequences

    sequences = FolderSequences(Path(data_dir), progress=progress)
    return LabelledInputs(np.stack([s.frames for s in sequences.samples]), [s.species for s in sequences.samples])


def attack_scores(outputs: list[np.ndarray]) -> np.ndarray:
    """1 - P(genuine) for recapture (column 0 of the probabilities), 1 - P(real OVD) for ovd (first output)."""
    return (1.0 - outputs[0][:, 0]).astype(np.float64)


CHUNK = 64  # captures per runner call: a 3,000-capture set at once would need tens of GB of activations


def scores_in_chunks(runner: Any, inputs: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Attack scores of `inputs` (uint8 or float), run `chunk` items at a time as float32."""
    parts = [
        attack_scores(runner.run([inputs[i : i + chunk].astype(np.float32)])) for i in range(0, len(inputs), chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _scores_then_close(runner: Any, inputs: np.ndarray) -> np.ndarray:
    try:
        return scores_in_chunks(runner, inputs)
    finally:
        close = getattr(runner, "close", None)
        if callable(close):
            close()


def bootstrap_delta_bpcer100(
    reference: np.ndarray, variant: np.ndarray, species: Sequence[str], rounds: int = BOOTSTRAP_ROUNDS
) -> tuple[float, float]:
    """Paired, species-stratified bootstrap 95 % interval of 100 * (BPCER100(variant) - BPCER100(reference))."""
    labels = np.asarray(species)
    groups = [np.flatnonzero(labels == name) for name in np.unique(labels)]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    deltas = np.empty(rounds)
    for r in range(rounds):
        idx = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        ref = bpcer_at_apcer(reference[idx], labels[idx], 0.01)[0]
        var = bpcer_at_apcer(variant[idx], labels[idx], 0.01)[0]
        deltas[r] = 100.0 * (var - ref)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


def compare(reference: np.ndarray, variant: np.ndarray, species: Sequence[str], threshold: float) -> dict[str, Any]:
    """Agreement and metric deltas of `variant` scores against `reference` scores."""
    ref_attack, var_attack = reference >= threshold, variant >= threshold
    result: dict[str, Any] = {
        "n": len(species),
        "agreement": float(np.mean(ref_attack == var_attack)),
        "flips": int(np.sum(ref_attack != var_attack)),
        "max_abs_score_delta": float(np.max(np.abs(reference - variant))),
    }
    labels = np.asarray(species)
    if np.any(labels == "genuine") and np.any(labels != "genuine"):
        ref_pad, var_pad = pad_report(reference, labels, threshold), pad_report(variant, labels, threshold)
        result["bpcer100"] = {"fp32": ref_pad.bpcer100, "variant": var_pad.bpcer100}
        result["worst_apcer"] = {"fp32": ref_pad.worst_apcer, "variant": var_pad.worst_apcer}
        result["delta_bpcer100_pp"] = 100.0 * (var_pad.bpcer100 - ref_pad.bpcer100)
        result["delta_worst_apcer_pp"] = 100.0 * (var_pad.worst_apcer - ref_pad.worst_apcer)
        result["delta_bpcer100_ci95_pp"] = list(bootstrap_delta_bpcer100(reference, variant, species))
        metrics_ok = (
            abs(result["delta_bpcer100_pp"]) <= MAX_DELTA_PP and abs(result["delta_worst_apcer_pp"]) <= MAX_DELTA_PP
        )
    else:
        result["metrics_note"] = "BPCER/APCER need bona fide and attack captures; only agreement was checked"
        metrics_ok = True
    result["passed"] = bool(result["agreement"] >= MIN_AGREEMENT and metrics_ok)
    return result


def check_model(
    bundle: Path, model: str, data: LabelledInputs, runner_factory: Callable[[Path, str], Any] | None = None
) -> dict[str, Any]:
    """Compare every artifact of `model` in the bundle against its fp32 PyTorch weights on `data`."""
    manifest = read_manifest(bundle)
    entry = manifest["models"].get(model)
    if entry is None:
        raise InputError(f"the bundle has no model {model!r}")
    threshold = float(entry["thresholds"][entry["thresholds"]["default"]])
    factory = runner_factory or (lambda path, runtime: open_runner(path, runtime))
    reference_path = next(a["path"] for a in entry["artifacts"] if a["runtime"] == "pytorch")
    reference = _scores_then_close(factory(bundle / reference_path, "pytorch"), data.inputs)
    variants = []
    for artifact in entry["artifacts"]:
        if artifact["runtime"] == "pytorch":
            continue
        runtime = "mediapipe" if artifact["mediapipe_metadata"] else artifact["runtime"]
        row: dict[str, Any] = {"path": artifact["path"], "runtime": runtime, "precision": artifact["precision"]}
        available, reason = runtime_available(runtime)
        if not available:
            variants.append({**row, "ran": False, "reason": reason})
            continue
        scores = _scores_then_close(factory(bundle / artifact["path"], runtime), data.inputs)
        variants.append({**row, "ran": True, **compare(reference, scores, data.species, threshold)})
    return {"model": model, "threshold": threshold, "n": len(data.species), "variants": variants}


def quant_check(bundle: Path, data_dirs: dict[str, Path], progress: bool = False) -> dict[str, Any]:
    """`check_model` for each model with its labelled folder; `passed`: every variant that ran passed."""
    models = [check_model(bundle, model, load_labelled(model, folder, progress)) for model, folder in data_dirs.items()]
    ran = [v for m in models for v in m["variants"] if v["ran"]]
    return {"models": models, "passed": bool(ran) and all(v["passed"] for v in ran)}


def format_check(report: dict[str, Any]) -> str:
    lines = [
        f"{'artifact':44} {'agree':>8} {'flips':>5} {'dBPCER100':>10} {'95% interval':>16} {'dWorstAPCER':>12} "
        f"{'max|ds|':>8}  result"
    ]
    for model in report["models"]:
        for v in model["variants"]:
            if not v["ran"]:
                lines.append(f"{v['path']:44} {v['reason']}")
                continue
            b = f"{v['delta_bpcer100_pp']:+.2f}pp" if "delta_bpcer100_pp" in v else "n/a"
            w = f"{v['delta_worst_apcer_pp']:+.2f}pp" if "delta_worst_apcer_pp" in v else "n/a"
            ci = v.get("delta_bpcer100_ci95_pp")
            c = f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "n/a"
            lines.append(
                f"{v['path']:44} {100 * v['agreement']:7.2f}% {v['flips']:5d} {b:>10} {c:>16} {w:>12} "
                f"{v['max_abs_score_delta']:8.4f}  {'pass' if v['passed'] else 'FAIL'}"
            )
    lines.append(f"overall: {'pass' if report['passed'] else 'FAIL'}")
    return "\n".join(lines)
