"""`cardlive export`: build the signed release bundle (layout in the lead's contract; see quantize/manifest.py).

Per model: the committed fp32 weights and card are copied, BatchNorm is folded (and the folded copy checked against the
original: `reports/<model>.export.json` records the largest output difference), a calibration set is rendered by the
simulator, and each requested target is written. The int8 files are quantised from a copy whose input normalisation
subtracts 128 instead of 127.5 (quantize.fold.recentre_input: integer pixels stay exactly representable; the report
records the copy's output difference, about 5e-4 on recapture 0.2.0):
  onnx   -> <model>.fp32.onnx, <model>.int8.onnx (+ reports/<model>.onnx_int8_layers.json, per-layer SQNR)
  tflite -> <model>.int8.tflite, <model>.fp16.tflite (+ recapture: <model>.int8.metadata.tflite for MediaPipe)
  coreml -> <model>.fp16.mlpackage/, <model>.int8w.mlpackage/ (structure validated on Linux; export fails otherwise)
Every artifact is run on a few calibration inputs next to PyTorch (CoreML only off macOS: "not-run: needs macOS") and
the output differences and SQNR go into reports/<model>.export.json. Then `before_sign` hooks run (e.g. golden vectors)
and the manifest is written and signed.

Decisions: model versions are "0.1.0" (the committed v0 weights; a card may carry "version" to override); the bundle
version is cardlive's version; reference metrics are the committed in-distribution evaluation's PAD summary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardlive import __version__
from cardlive.errors import OutputError, ParameterError
from edge_models.weights import LoadedModel, load_weights
from quantize import coreml_export, litert_export, onnx_export
from quantize.calibration import Calibration, simulate_calibration
from quantize.fold import fold_batchnorm, max_output_difference, recentre_input, remaining_batchnorms
from quantize.manifest import load_signing_key, write_manifest
from quantize.runtimes import opened_runner, runtime_available

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "edge_models" / "weights"
MODELS = ("recapture", "ovd")
TARGETS = ("tflite", "coreml", "onnx")
DEFAULT_MODEL_VERSION = "0.1.0"
ATTACK_SCORE = {"recapture": "1 - P(genuine)", "ovd": "1 - P(real OVD)"}
CHECK_SAMPLES = 4
# The final classifier of each model stays float in the int8 files: chosen on the training captures of seed 110
# (recapture 0.2.0, 2,400 captures: LiteRT 8 vs 9 decision flips, ONNX equal flips and max |delta score| 0.029 vs
# 0.038), then measured on the held-out set (README); ovd follows by analogy. Recapture keeps its whole global trunk
# (the 256x160 view, 35k of its 83k parameters) in float: with only the trunk's last block float (0.4.0) recapture
# 0.5.0's release bundle missed the 0.1 conformance ceiling (max |delta| LiteRT 0.17, ONNX 0.12), with the last two
# blocks too (LiteRT 0.135, ONNX 0.15; 1,024 calibration mosaics: 0.095, 0.14); the whole trunk: 0.073 and 0.018
# at 288 KB (limit 300). ovd 0.3.0 keeps its parameter-free colour-change branch in float (all int8: max |delta|
# 0.14, the chroma deviation at 24.9 dB SQNR) and its temporal block (with it int8 the ONNX file's max |delta| was
# 0.098 against the 0.1 ceiling; float: 0.087, LiteRT 0.078; 58.5 KB).
INT8_FLOAT_MODULES = {"recapture": ("global_trunk", "head"), "ovd": ("colour_change", "temporal", "score_head")}
Hook = Callable[[Path], None]


def git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def parse_list(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in items if s not in allowed]
    if unknown or not items:
        raise ParameterError(f"unknown {what} {unknown or text!r}; expected a comma-separated subset of {allowed}")
    return items


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """10 log10(signal power / error power) in dB (inf when identical)."""
    noise = float(np.sum((reference.astype(np.float64) - test) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10.0 * float(np.log10(max(signal, 1e-30) / noise))


def _thresholds(card: dict[str, Any]) -> dict[str, Any]:
    stored = card.get("validation", {}).get("operating_thresholds", {})
    if "apcer_0.01" not in stored or "apcer_0.05" not in stored:
        raise ParameterError("the model card lacks thresholds apcer_0.01 / apcer_0.05; retrain or fix the card")
    low, high = float(stored["apcer_0.01"]), float(stored["apcer_0.05"])
    return {"apcer_0.01": low, "apcer_0.05": high, "default": "apcer_0.05"}


def _reference_metrics(name: str) -> dict[str, Any]:
    path = WEIGHTS_DIR / f"{name}_eval_in_dist.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    pad = report.get("pad", {})
    keys = ("eer", "bpcer10", "bpcer20", "bpcer100", "worst_apcer", "worst_species", "threshold")
    return {"protocol": report.get("protocol"), "n": report.get("n"), **{k: pad[k] for k in keys if k in pad}}


def _artifact(bundle: Path, path: Path, runtime: str, precision: str, metadata: bool = False) -> dict[str, Any]:
    if runtime == "onnxruntime":
        inputs, outputs = onnx_export.onnx_io(path)
    elif runtime == "litert":
        inputs, outputs = litert_export.tflite_io(path)
    elif runtime == "coreml":
        inputs, outputs = coreml_export.coreml_io(path)
    else:
        raise ParameterError(f"no I/O reader for runtime {runtime}")
    return {
        "path": path.relative_to(bundle).as_posix(),
        "runtime": runtime,
        "precision": precision,
        "inputs": inputs,
        "outputs": outputs,
        "mediapipe_metadata": metadata,
    }


def _torch_artifact(bundle: Path, path: Path, name: str, calibration: Calibration) -> dict[str, Any]:
    inputs, outputs = onnx_export.IO_NAMES[name]
    loaded = load_weights(path)
    with torch.no_grad():
        out = loaded.model(torch.from_numpy(calibration.inputs[:1]))
    outs = out if isinstance(out, tuple) else (out,)
    shape = [-1, *calibration.inputs.shape[1:]]
    return {
        "path": path.relative_to(bundle).as_posix(),
        "runtime": "pytorch",
        "precision": "fp32",
        "inputs": [{"name": inputs[0], "shape": shape, "dtype": "float32"}],
        "outputs": [
            {"name": n, "shape": [-1, *o.shape[1:]], "dtype": "float32"} for n, o in zip(outputs, outs, strict=True)
        ],
        "mediapipe_metadata": False,
    }


def _check_artifact(path: Path, runtime: str, x: np.ndarray, reference: list[np.ndarray]) -> dict[str, Any]:
    available, reason = runtime_available(runtime)
    if not available:
        return {"path": path.name, "runtime": runtime, "ran": False, "reason": reason}
    with opened_runner(path, runtime) as runner:
        got = runner.run([x])
    return {
        "path": path.name,
        "runtime": runtime,
        "ran": True,
        "max_abs": [float(np.max(np.abs(g - r))) for g, r in zip(got, reference, strict=True)],
        "sqnr_db": [sqnr_db(r, g) for g, r in zip(got, reference, strict=True)],
    }


def export_model(
    bundle: Path, name: str, targets: Sequence[str], calibration: Calibration, progress: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write one model's files; returns (manifest models entry, export report)."""
    loaded: LoadedModel = load_weights(WEIGHTS_DIR / f"{name}.pt")
    if loaded.name != name or calibration.model != name:
        raise ParameterError(f"weights/calibration mismatch for {name}: {loaded.name}, {calibration.model}")
    out = bundle / "models" / name
    out.mkdir(parents=True, exist_ok=True)
    for suffix in (".pt", ".json"):
        shutil.copyfile(WEIGHTS_DIR / f"{name}{suffix}", out / f"{name}{suffix}")
    folded, pairs = fold_batchnorm(loaded.model)
    check_x = calibration.inputs[:CHECK_SAMPLES]
    fold_diff = max_output_difference(loaded.model, folded, (torch.from_numpy(check_x),))
    int8_source, recentred = recentre_input(folded)
    float_modules = INT8_FLOAT_MODULES.get(name, ())
    recentre_diff = max_output_difference(folded, int8_source, (torch.from_numpy(check_x),))
    with opened_runner(out / f"{name}.pt", "pytorch") as torch_runner:
        reference = torch_runner.run([check_x])
    batches = calibration.batches()
    artifacts = [_torch_artifact(bundle, out / f"{name}.pt", name, calibration)]
    report: dict[str, Any] = {
        "model": name,
        "fold": {"pairs": pairs, "remaining_batchnorm": remaining_batchnorms(folded), "max_output_diff": fold_diff},
        "int8_input_recentre": {"convolutions": recentred, "max_output_diff": recentre_diff},
        "int8_float_modules": list(float_modules),
        "calibration": {**calibration.info(), "source": calibration.source},
        "checks": [],
    }

    def add(path: Path, runtime: str, precision: str, metadata: bool = False) -> None:
        artifacts.append(_artifact(bundle, path, runtime, precision, metadata))
        report["checks"].append(_check_artifact(path, "mediapipe" if metadata else runtime, check_x, reference))

    example = calibration.inputs[:1]
    seconds = report.setdefault("seconds", {})
    started = time.perf_counter()
    if "onnx" in targets:
        fp32 = onnx_export.export_onnx_fp32(folded, name, example, out / f"{name}.fp32.onnx")
        with tempfile.TemporaryDirectory() as tmp:
            source = onnx_export.export_onnx_fp32(int8_source, name, example, Path(tmp) / f"{name}.int8-source.onnx")
            int8 = onnx_export.quantize_onnx_int8(source, out / f"{name}.int8.onnx", batches, float_modules)
            layers = onnx_export.onnx_layer_report(source, int8, batches[: min(8, len(batches))])
        add(fp32, "onnxruntime", "fp32")
        add(int8, "onnxruntime", "int8")
        _write_json(bundle / "reports" / f"{name}.onnx_int8_layers.json", {"model": name, "layers": layers})
        seconds["onnx"], started = time.perf_counter() - started, time.perf_counter()
    if "tflite" in targets:
        int8 = litert_export.export_litert_int8(int8_source, batches, out / f"{name}.int8.tflite", float_modules)
        add(int8, "litert", "int8")
        add(litert_export.export_litert_fp16(folded, example, out / f"{name}.fp16.tflite"), "litert", "fp16")
        report["int8_ops"] = litert_export.tflite_op_types(int8)
        if name == "recapture":
            meta = out / f"{name}.int8.metadata.tflite"
            labels = list(loaded.card.get("labels", []))
            litert_export.add_classifier_metadata(int8, meta, labels, name, _version(loaded))
            add(meta, "litert", "int8", metadata=True)
        seconds["tflite"], started = time.perf_counter() - started, time.perf_counter()
    if "coreml" in targets:
        for precision in ("fp16", "int8w"):
            path = coreml_export.export_coreml(folded, name, example, out / f"{name}.{precision}.mlpackage", precision)
            problems = coreml_export.validate_coreml(path, name, precision, tuple(calibration.inputs.shape))
            if problems:
                raise OutputError(f"CoreML export failed its structural check: {problems[0]}")
            add(path, "coreml", precision)
            report.setdefault("coreml", {})[precision] = coreml_export.weight_summary(path)
        seconds["coreml"] = time.perf_counter() - started
    entry = {
        "version": _version(loaded),
        "labels": list(loaded.card.get("labels", [])),
        "spec": json.loads(loaded.spec.to_json()),
        "spec_digest": loaded.spec.digest(),
        "thresholds": _thresholds(loaded.card),
        "attack_score": ATTACK_SCORE[name],
        "calibration": calibration.info(),
        "reference_metrics": _reference_metrics(name),
        "artifacts": artifacts,
    }
    return entry, report


def _version(loaded: LoadedModel) -> str:
    return str(loaded.card.get("version", DEFAULT_MODEL_VERSION))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def export_bundle(
    out: Path,
    models: Sequence[str] = MODELS,
    targets: Sequence[str] = TARGETS,
    key_path: Path | None = None,
    calibrations: dict[str, Calibration] | None = None,
    calibration_seed: int | None = None,
    calibration_counts: dict[str, int] | None = None,
    cache_dir: Path | None = None,
    before_sign: Sequence[Hook] = (),
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the bundle into `out` and sign it; returns a summary (paths, key, reports)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"{out} is not empty; choose a new folder or pass --overwrite")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    key, development, dev_path = load_signing_key(key_path, out)
    calibrations = dict(calibrations or {})
    reports = {}
    manifest_models = {}
    for name in models:
        if name not in calibrations:
            kwargs: dict[str, Any] = {"cache_dir": cache_dir, "progress": progress}
            if calibration_seed is not None:
                kwargs["seed"] = calibration_seed
            if calibration_counts and name in calibration_counts:
                kwargs["count"] = calibration_counts[name]
            calibrations[name] = simulate_calibration(name, **kwargs)
        manifest_models[name], reports[name] = export_model(out, name, targets, calibrations[name], progress)
        _write_json(out / "reports" / f"{name}.export.json", reports[name])
    for hook in before_sign:
        hook(out)
    manifest = {
        "schema_version": 1,
        "bundle_version": __version__,
        "created_utc": _utc(),
        "git_commit": git_commit(),
        "models": manifest_models,
    }
    path = write_manifest(out, manifest, key, development_key=development)
    return {"manifest": path, "development_key": development, "dev_key_path": dev_path, "reports": reports}


def _utc() -> str:
    from quantize.manifest import utc_now

    return utc_now()
