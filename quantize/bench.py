"""`cardlive bench export`: size and single-input latency of every artifact in a bundle, against fp32 PyTorch.

Per model and artifact: file (or .mlpackage directory) size, median and p90 latency of one input (recapture: one
mosaic = all patches of one frame; ovd: one 8-frame sequence) on LiteRT with 1 and 2 threads, ONNX Runtime with 1
and 2 intra-op threads, and fp32 PyTorch with 1 thread measured in the same run; ratio = PyTorch 1-thread median /
artifact median (> 1 is faster than PyTorch). Inputs are uniform 0..255 from a fixed seed; each measurement warms up
first. CoreML rows report size only ("not-run: needs macOS"). Numbers depend on the load of the machine: the table
says how many CPUs were visible and the load average at the start.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from cardlive.errors import InputError
from quantize.manifest import read_manifest
from quantize.runtimes import opened_runner, runtime_available

WARMUP = 5
INPUT_SHAPES = {"recapture": (1, 288, 256, 3), "ovd": (1, 8, 80, 128, 3)}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def time_runner(runner: Any, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median and p90 milliseconds of `runner.run([x])` after a warm-up."""
    for _ in range(WARMUP):
        runner.run([x])
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner.run([x])
        samples.append(1000.0 * (time.perf_counter() - start))
    return {"median_ms": float(np.median(samples)), "p90_ms": float(np.percentile(samples, 90)), "runs": repeats}


def run_export_bench(bundle: Path, repeats: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (artifact, runtime, threads), plus the PyTorch baseline rows."""
    manifest = read_manifest(bundle)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for name, entry in sorted(manifest["models"].items()):
        if name not in INPUT_SHAPES:
            raise InputError(f"no benchmark input shape for model {name!r}")
        x = rng.integers(0, 256, INPUT_SHAPES[name]).astype(np.float32)
        baseline: float | None = None
        for artifact in entry["artifacts"]:
            path = bundle / artifact["path"]
            runtime = "mediapipe" if artifact["mediapipe_metadata"] else artifact["runtime"]
            row = {"model": name, "path": artifact["path"], "runtime": runtime, "precision": artifact["precision"]}
            row["size_bytes"] = _size(path)
            available, reason = runtime_available(runtime)
            if not available:
                rows.append({**row, "threads": None, "note": reason})
                continue
            thread_options = (1,) if runtime in ("pytorch", "mediapipe") else (1, 2)
            for threads in thread_options:
                with opened_runner(path, runtime, threads=threads) as runner:
                    timing = time_runner(runner, x, repeats)
                if runtime == "pytorch":
                    baseline = timing["median_ms"]
                rows.append({**row, "threads": threads, **timing})
        for row in rows:
            if row["model"] == name and "median_ms" in row and baseline:
                row["ratio_vs_pytorch_fp32"] = baseline / row["median_ms"]
    return rows


def environment() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def format_export_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'artifact':46} {'runtime':11} {'thr':>3} {'size KB':>8} {'median ms':>10} {'p90 ms':>8} {'x PyTorch':>9}"
    )
    lines = [header]
    for r in rows:
        size = f"{r['size_bytes'] / 1024:8.1f}"
        if "median_ms" not in r:
            lines.append(f"{r['path']:46} {r['runtime']:11} {'-':>3} {size} {r.get('note', '')}")
            continue
        ratio = f"{r['ratio_vs_pytorch_fp32']:9.2f}" if "ratio_vs_pytorch_fp32" in r else f"{'-':>9}"
        timing = f"{r['median_ms']:10.3f} {r['p90_ms']:8.3f}"
        lines.append(f"{r['path']:46} {r['runtime']:11} {r['threads']:>3} {size} {timing} {ratio}")
    return "\n".join(lines)


def write_export_report(rows: list[dict[str, Any]], env: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    return out
