"""Device results: what an app's test harness reports for the golden vectors, checked with the host tolerances.

Format: conformance/schemas/device_results.schema.json (one file per device; several runs per file). A run is
matched to the bundle by manifest_sha256 and to a manifest artifact by (path, runtime, precision); every golden
vector id must be present exactly once, unknown ids fail, and outputs must have the golden output sizes. Values are
then checked with the same metrics and the same (model, runtime, precision) tolerance as host runs. `null` values
(non-finite on the device) count as non-finite and fail.
`write_device_example` produces a file by running LiteRT on this machine "as if it were a device".
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError
from conformance.checks import CheckResult, from_details
from conformance.golden_io import GoldenData, load_golden, validate
from conformance.parity_metrics import parity_metrics
from conformance.tolerances import Tolerances, check_metrics


def manifest_sha256(bundle: Path) -> str:
    return hashlib.sha256((Path(bundle) / "manifest.json").read_bytes()).hexdigest()


def _outputs(run: dict[str, Any], golden: GoldenData) -> tuple[list[NDArray[np.float32]], list[str]]:
    by_id: dict[str, list[list[float | None]]] = {}
    problems = []
    for r in run["results"]:
        if r["id"] in by_id:
            problems.append(f"vector {r['id']} reported twice")
        by_id[r["id"]] = r["outputs"]
    ids = [row["id"] for row in golden.rows]
    missing, unknown = [i for i in ids if i not in by_id], sorted(set(by_id) - set(ids))
    if missing:
        problems.append(f"{len(missing)} golden vectors missing (e.g. {missing[0]})")
    if unknown:
        problems.append(f"{len(unknown)} ids not in the golden set (e.g. {unknown[0]})")
    outs = []
    for j, ref in enumerate(golden.outputs):
        size = int(np.prod(ref.shape[1:]))
        arr = np.full((len(ids), size), np.nan, dtype=np.float64)
        for i, vid in enumerate(ids):
            values = by_id.get(vid)
            if values is None or j >= len(values):
                continue
            if len(values[j]) != size:
                problems.append(f"{vid} output {j}: {len(values[j])} values, expected {size}")
                continue
            arr[i] = [np.nan if v is None else v for v in values[j]]
        outs.append(arr.reshape(ref.shape).astype(np.float32))
    return outs, problems


def check_device_results(
    path: Path, bundle: Path, manifest: dict[str, Any], goldens: dict[str, GoldenData], tolerances: Tolerances
) -> CheckResult:
    """One CheckResult per file (all its runs); fails on schema, bundle mismatch, coverage or tolerance."""
    name = f"device results {Path(path).name}"
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        return CheckResult(name, "device", "fail", f"cannot read: {exc}")
    problems = validate(data, "device_results.schema.json")
    if problems:
        return CheckResult(name, "device", "fail", f"does not match device_results.schema.json: {problems[0]}")
    device = data["device"]
    name = f"device {device['model']} ({device['os']} {device['os_version']}) {Path(path).name}"
    details: list[tuple[str, bool, str]] = []
    expected_sha = manifest_sha256(bundle) if (bundle / "manifest.json").exists() else None
    details.append(
        (
            "bundle",
            data["manifest_sha256"] == expected_sha,
            f"results for manifest {data['manifest_sha256'][:12]}, bundle {str(expected_sha)[:12]}",
        )
    )
    metrics = None
    for run in data["runs"]:
        tag = f"{run['model']}/{run['runtime']}/{run['precision']}"
        arts = manifest.get("models", {}).get(run["model"], {}).get("artifacts", [])
        match = [
            a
            for a in arts
            if a["path"] == run["artifact"]
            and a["precision"] == run["precision"]
            and (a["runtime"] == run["runtime"] or (run["runtime"] == "mediapipe" and a.get("mediapipe_metadata")))
        ]
        details.append((f"{tag} artifact", bool(match), f"{run['artifact']} listed in the manifest: {bool(match)}"))
        golden = goldens.get(run["model"])
        if golden is None:
            details.append((tag, False, f"no golden vectors for model {run['model']!r}"))
            continue
        details.append(
            (
                f"{tag} version",
                run["model_version"] == golden.index["model_version"],
                f"device ran {run['model_version']}, bundle has {golden.index['model_version']}",
            )
        )
        outs, coverage = _outputs(run, golden)
        details += [(f"{tag} coverage", False, p) for p in coverage] or [(f"{tag} coverage", True, "all vectors")]
        tol = tolerances.lookup(run["model"], run["runtime"], run["precision"])
        thresholds = {k: float(v) for k, v in golden.index["thresholds"].items() if k != "default"}
        metrics = parity_metrics(
            run["model"],
            run["runtime"],
            run["precision"],
            golden.rows,
            golden.outputs,
            outs,
            thresholds,
            tol.attack_score_abs if tol else 0.0,
        )
        if tol is None:
            details.append((f"{tag} tolerance", False, "no tolerance entry for this key"))
            continue
        details += [(f"{tag} {n}", ok, m) for n, ok, m in check_metrics(metrics, tol)]
    result = from_details(name, "device", details, metrics=metrics)
    if len(data["runs"]) == 1:
        run = data["runs"][0]
        result.model, result.runtime, result.precision = run["model"], run["runtime"], run["precision"]
    return result


def write_device_example(
    bundle: Path, out: Path, runtime: str = "litert", precision: str = "int8", threads: int = 4
) -> Path:
    """Run the bundle's `runtime`/`precision` artifacts on this machine and write them as a device results file."""
    from quantize.runtimes import opened_runner

    manifest = json.loads((Path(bundle) / "manifest.json").read_text())
    runs = []
    for model, entry in manifest["models"].items():
        arts = [
            a
            for a in entry["artifacts"]
            if a["runtime"] == runtime and a["precision"] == precision and not a.get("mediapipe_metadata")
        ]
        if not arts:
            continue
        golden = load_golden(bundle, model)
        results = []
        with opened_runner(Path(bundle) / arts[0]["path"], runtime, threads=threads) as runner:
            for i, row in enumerate(golden.rows):
                outs = runner.run([golden.float_inputs(i, i + 1)])
                values = [[round(v, 7) for v in np.asarray(o, np.float64).ravel().tolist()] for o in outs]
                results.append({"id": row["id"], "outputs": values})  # 7 decimals: far below every tolerance
        runs.append(
            {
                "model": model,
                "model_version": entry["version"],
                "artifact": arts[0]["path"],
                "runtime": runtime,
                "precision": precision,
                "delegate": "xnnpack-cpu",
                "threads": threads,
                "results": results,
            }
        )
    if not runs:
        raise InputError(f"{bundle} has no {runtime}/{precision} artifact to run")
    data = {
        "schema_version": 1,
        "bundle_version": manifest["bundle_version"],
        "manifest_sha256": manifest_sha256(bundle),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": {
            "model": f"host {platform.machine()}",
            "os": platform.system().lower(),
            "os_version": platform.release(),
            "harness": "cardlive-host-example",
            "cpu": f"{os.cpu_count()} cores",
        },
        "runs": runs,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(data) + "\n")
    return Path(out)
