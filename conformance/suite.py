"""`run_conformance`: every check of a bundle, in order, with one pass/fail answer and the reports.

Order: bundle integrity (signature, hashes) -> per model: golden vectors readable and consistent with manifest and
model card -> end-to-end preprocessing of the stored frames -> every artifact of the manifest on its runtime
(LiteRT also with N threads; the metadata-carrying .tflite also through MediaPipe Tasks; CoreML structural only off
macOS) against the fp32 reference outputs, with the tolerances of (model, runtime, precision) -> device result
files. Exit status 0 only when no required check failed; "not-run" (CoreML off macOS) is neither pass nor failure.
A missing tolerance entry is a failure: calibrate it (`--calibrate`) and commit the file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from cardlive.errors import CardliveError, InputError
from conformance.checks import (
    CheckResult,
    consistency_check,
    e2e_check,
    from_details,
    integrity_check,
    read_manifest,
)
from conformance.golden_io import GoldenData, golden_models, load_golden
from conformance.parity_metrics import ParityMetrics, parity_metrics
from conformance.quant_checks import depthwise_granularity
from conformance.tolerances import (
    DEFAULT_TOLERANCES,
    Tolerances,
    calibrate_entry,
    check_metrics,
    load_tolerances,
    write_tolerances,
)

BATCH = 32
ALL_RUNTIMES = ("pytorch", "onnxruntime", "litert", "mediapipe", "coreml")


@dataclass
class ConformanceResult:
    bundle: Path
    checks: list[CheckResult]
    seconds: float
    report_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    parity_profile: dict[str, Any] | None = None
    bundle_version: str = "unknown"
    experiment: dict[str, Any] | None = None  # the preprocessing-parity experiment (informational)

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.checks:
            out[c.status] = out.get(c.status, 0) + 1
        return out


@dataclass(frozen=True)
class Variant:
    """One way of running a model file: (artifact, runtime, threads)."""

    model: str
    path: Path
    runtime: str
    precision: str
    threads: int

    @property
    def label(self) -> str:
        threads = f", {self.threads} thread{'s' if self.threads > 1 else ''}" if self.runtime == "litert" else ""
        return f"{self.model}/{self.runtime}/{self.precision} ({self.path.name}{threads})"


def plan_variants(bundle: Path, manifest: dict[str, Any], model: str, n_threads: int) -> list[Variant]:
    """The runs for one model's artifacts listed in the manifest (the fp32 PyTorch file is always included)."""
    entry = manifest.get("models", {}).get(model, {})
    out: list[Variant] = []
    seen_pt = False
    for art in entry.get("artifacts", []):
        path, runtime, precision = bundle / art["path"], art["runtime"], art["precision"]
        seen_pt |= runtime == "pytorch"
        out.append(Variant(model, path, runtime, precision, 1))
        if runtime == "litert" and n_threads > 1:
            out.append(Variant(model, path, runtime, precision, n_threads))
        if art.get("mediapipe_metadata"):
            out.append(Variant(model, path, "mediapipe", precision, 1))
    if not seen_pt:
        out.insert(0, Variant(model, bundle / "models" / model / f"{model}.pt", "pytorch", "fp32", 1))
    return out


def run_variant(variant: Variant, golden: GoldenData) -> list[NDArray[np.float32]]:
    """Outputs of one variant on every golden input (batches of BATCH vectors)."""
    from quantize.runtimes import opened_runner

    chunks: list[list[NDArray[np.float32]]] = []
    with opened_runner(variant.path, variant.runtime, threads=variant.threads) as runner:
        for start in range(0, len(golden.rows), BATCH):
            outs = runner.run([golden.float_inputs(start, start + BATCH)])
            chunks.append([np.asarray(o) for o in outs])
    return [np.concatenate([c[j] for c in chunks]) for j in range(len(chunks[0]))] if chunks else []


def _thresholds(golden: GoldenData) -> dict[str, float]:
    return {k: float(v) for k, v in golden.index["thresholds"].items() if k != "default"}


def parity_check(
    variant: Variant, golden: GoldenData, tolerances: Tolerances, selected: tuple[str, ...]
) -> tuple[CheckResult, ParityMetrics | None]:
    from quantize.runtimes import NOT_ON_THIS_OS, runtime_available

    kw: dict[str, Any] = {"model": variant.model, "runtime": variant.runtime, "precision": variant.precision}
    if variant.runtime not in selected:
        return CheckResult(variant.label, "parity", "skipped", "excluded by --runtimes", required=False, **kw), None
    available, reason = runtime_available(variant.runtime)
    if not available:
        if reason == NOT_ON_THIS_OS:
            return _structural(variant, reason, kw), None
        return CheckResult(variant.label, "parity", "fail", reason, **kw), None
    start = time.perf_counter()
    try:
        edge = run_variant(variant, golden)
    except CardliveError as exc:
        return CheckResult(variant.label, "parity", "fail", f"cannot run: {exc}", **kw), None
    tol = tolerances.lookup(variant.model, variant.runtime, variant.precision)
    band = tol.attack_score_abs if tol else 0.0
    metrics = parity_metrics(
        variant.model, variant.runtime, variant.precision, golden.rows, golden.outputs, edge, _thresholds(golden), band
    )
    details = depthwise_granularity(variant.path, variant.runtime, variant.precision)
    if tol is None:
        details.insert(
            0,
            (
                "tolerance",
                False,
                f"no tolerance for {kw}; measured max |delta| {metrics.score_max_abs:.3g}; run --calibrate",
            ),
        )
    else:
        details = check_metrics(metrics, tol) + details
    result = from_details(variant.label, "parity", details, metrics=metrics, **kw)
    result.seconds = time.perf_counter() - start
    if result.status == "pass" and tol is not None:
        result.message = (
            f"max |delta score| {metrics.score_max_abs:.3g} <= {tol.attack_score_abs:.3g}, "
            f"flip rate {max(t['flip_rate'] for t in metrics.thresholds.values()):.3f}"
        )
    return result, metrics


def _structural(variant: Variant, reason: str, kw: dict[str, Any]) -> CheckResult:
    """Off macOS: the CoreML package must still open and describe its inputs/outputs (status stays not-run)."""
    from quantize.runtimes import open_runner

    try:
        open_runner(variant.path, variant.runtime).close()
    except CardliveError as exc:
        return CheckResult(variant.label, "parity", "fail", f"structural check failed: {exc}", **kw)
    return CheckResult(variant.label, "parity", "not-run", f"{reason} (structure loaded OK)", **kw)


def run_conformance(
    bundle_dir: Path,
    report_dir: Path | None = None,
    *,
    device_results: list[Path] | None = None,
    runtimes: tuple[str, ...] = ALL_RUNTIMES,
    tolerances_path: Path = DEFAULT_TOLERANCES,
    calibrate: bool = False,
    threads: int | None = None,
    progress: bool = True,
    signing_key: Path | None = None,
    experiment: bool = True,
) -> ConformanceResult:
    """Run every check on a bundle and write the reports (when report_dir is given).

    calibrate: re-measure tolerances for every variant that ran and write them to tolerances_path before checking
    (refused when integrity or consistency fails; a variant whose delta exceeds its precision's ceiling keeps its
    old entry and fails the "tolerances calibrated" check, so a broken export cannot widen its own tolerance).
    signing_key: when given, the parity profile is also written into the bundle and the bundle re-signed.
    experiment: also run the preprocessing-parity experiment on the stored frames (informational, in the reports).
    """
    bundle = Path(bundle_dir)
    if not (bundle / "manifest.json").exists():
        raise InputError(f"{bundle} is not a release bundle (no manifest.json); create one with `cardlive export`")
    start = time.perf_counter()
    _quiet_onnxruntime()
    n_threads = threads or min(4, os.cpu_count() or 1)
    checks = [integrity_check(bundle)]
    manifest = read_manifest(bundle) or {}
    models = [m for m in manifest.get("models", {}) if m in golden_models(bundle)]
    missing = sorted(set(manifest.get("models", {})) - set(models))
    if missing or not models:
        checks.append(
            CheckResult(
                "golden vectors present",
                "golden",
                "fail",
                f"no golden vectors for {missing or 'any model'} in {bundle / 'golden'}",
            )
        )
    tolerances = load_tolerances(tolerances_path) if Path(tolerances_path).exists() else Tolerances({}, {})
    measured: list[ParityMetrics] = []
    plan: list[tuple[Variant, GoldenData]] = []
    for model in models:
        try:
            golden = load_golden(bundle, model)
        except InputError as exc:
            checks.append(CheckResult(f"{model}: golden vectors", "golden", "fail", str(exc), model=model))
            continue
        checks.append(consistency_check(bundle, model, manifest, golden))
        checks.append(e2e_check(bundle, model, golden))
        plan += [(v, golden) for v in plan_variants(bundle, manifest, model, n_threads)]
    if calibrate:
        tolerances = _calibrate(plan, checks, tolerances, tolerances_path, runtimes, manifest, progress)
    for variant, golden in tqdm(plan, desc="conform", unit="run", disable=not progress):
        check, metrics = parity_check(variant, golden, tolerances, runtimes)
        checks.append(check)
        if metrics is not None and variant.threads == 1:
            measured.append(metrics)
    if device_results:
        from conformance.device import check_device_results

        goldens = {v.model: g for v, g in plan}
        checks += [check_device_results(p, bundle, manifest, goldens, tolerances) for p in device_results]
    result = ConformanceResult(
        bundle, checks, time.perf_counter() - start, bundle_version=str(manifest.get("bundle_version", "unknown"))
    )
    from conformance.profile import build_profile

    result.parity_profile = build_profile(manifest, measured, tolerances)
    if experiment and models:
        result.experiment = _experiment(bundle, models)
    if report_dir is not None:
        from conformance.report import write_reports

        result.report_dir = Path(report_dir)
        result.files = write_reports(result, measured, Path(report_dir))
    if signing_key is not None and result.passed:
        from conformance.profile import write_profile_into_bundle

        result.files["bundle_profile"] = write_profile_into_bundle(bundle, result.parity_profile, signing_key)
    return result


def _calibrate(
    plan: list[tuple[Variant, GoldenData]],
    checks: list[CheckResult],
    current: Tolerances,
    path: Path,
    runtimes: tuple[str, ...],
    manifest: dict[str, Any],
    progress: bool,
) -> Tolerances:
    from conformance.tolerances import DEFAULT_MARGIN

    blocking = [c for c in checks if c.failed]
    if blocking:
        raise CardliveError(f"refusing to calibrate: {blocking[0].name} failed ({blocking[0].message})")
    margin = current.margin or DEFAULT_MARGIN
    entries = dict(current.entries)
    from quantize.runtimes import runtime_available

    refused: list[tuple[str, bool, str]] = []
    for variant, golden in tqdm(plan, desc="calibrate", unit="run", disable=not progress):
        if variant.threads != 1 or variant.runtime not in runtimes or not runtime_available(variant.runtime)[0]:
            continue
        try:
            edge = run_variant(variant, golden)
        except CardliveError as exc:
            refused.append((variant.label, False, f"cannot run: {exc}"))
            continue
        metrics = parity_metrics(
            variant.model,
            variant.runtime,
            variant.precision,
            golden.rows,
            golden.outputs,
            edge,
            _thresholds(golden),
            0.0,
        )
        try:
            tol = calibrate_entry(metrics, margin, str(manifest.get("bundle_version", "unknown")))
        except CardliveError as exc:  # above the ceiling: keep the old entry (or none); the check below fails
            refused.append((variant.label, False, str(exc)))
            continue
        entries[tol.key] = tol
    result = Tolerances(margin, entries)
    write_tolerances(result, path)
    checks.append(from_details("tolerances calibrated", "bundle", [("write", True, f"wrote {path}"), *refused]))
    return result


def _experiment(bundle: Path, models: list[str]) -> dict[str, Any] | None:
    from conformance.preprocess_parity import run_experiment
    from edge_models.weights import load_weights

    try:
        loaded = {m: load_weights(bundle / "models" / m / f"{m}.pt") for m in models}
    except InputError as exc:
        return {"error": str(exc)}
    return run_experiment(bundle, loaded)


def _quiet_onnxruntime() -> None:
    """ONNX Runtime logs one warning per unused initializer of every QDQ graph; keep errors only (process-wide)."""
    try:
        import onnxruntime
    except ImportError:
        return
    onnxruntime.set_default_logger_severity(3)
