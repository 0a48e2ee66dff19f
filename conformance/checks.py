"""Check results and the individual bundle-level checks of the conformance suite (integrity, consistency, e2e).

Status values: "pass"; "fail" (a required check that did not pass; the run exits non-zero); "not-run" (the runtime
cannot run on this OS: CoreML off macOS; reported, never a pass, not a failure); "skipped" (excluded by --runtimes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardlive.errors import CardliveError
from conformance.golden_io import GoldenData, read_frame_rows
from conformance.parity_metrics import ParityMetrics
from conformance.preprocess_golden import compare_tensor
from edge_models.images import load_rgb
from edge_models.mosaic import assemble, layout_for
from edge_models.preprocess import InputSpec, global_view, preprocess


@dataclass
class CheckResult:
    name: str
    group: str  # bundle | golden | parity | e2e | device
    status: str  # pass | fail | not-run | skipped
    message: str
    model: str | None = None
    runtime: str | None = None
    precision: str | None = None
    required: bool = True
    details: list[dict[str, Any]] = field(default_factory=list)
    metrics: ParityMetrics | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.required and self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "metrics"}
        out["metrics"] = self.metrics.to_dict() if self.metrics else None
        return out


def from_details(name: str, group: str, details: list[tuple[str, bool, str]], **kw: Any) -> CheckResult:
    """A check made of sub-checks: passes when all pass; the message names the first failures."""
    failed = [f"{n}: {m}" for n, ok, m in details if not ok]
    status = "fail" if failed else "pass"
    message = "; ".join(failed[:3]) if failed else f"{len(details)} sub-checks passed"
    rows = [{"check": n, "passed": ok, "message": m} for n, ok, m in details]
    return CheckResult(name, group, status, message, details=rows, **kw)


def integrity_check(bundle: Path) -> CheckResult:
    """Schema, signature, every file hash, missing and extra files (quantize.manifest.verify_bundle)."""
    from quantize.manifest import verify_bundle

    try:
        problems = verify_bundle(bundle)
    except CardliveError as exc:
        problems = [str(exc)]
    details = [("verify_bundle", not problems, p) for p in problems] or [("verify_bundle", True, "manifest OK")]
    return from_details("bundle integrity (schema, signature, hashes)", "bundle", details)


def read_manifest(bundle: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((bundle / "manifest.json").read_text())
        return data
    except (OSError, ValueError):
        return None


def consistency_check(bundle: Path, model: str, manifest: dict[str, Any], golden: GoldenData) -> CheckResult:
    """Manifest, model card and golden vectors agree on version, spec and operating thresholds."""
    entry = manifest.get("models", {}).get(model, {})
    idx = golden.index
    details: list[tuple[str, bool, str]] = []
    details.append(
        (
            "model version",
            entry.get("version") == idx["model_version"],
            f"manifest {entry.get('version')!r}, golden vectors {idx['model_version']!r}",
        )
    )
    details.append(
        (
            "spec digest",
            entry.get("spec_digest") == idx["spec_digest"],
            f"manifest {str(entry.get('spec_digest'))[:12]}, golden {idx['spec_digest'][:12]}",
        )
    )
    card_path = bundle / "models" / model / f"{model}.json"
    try:
        card = json.loads(card_path.read_text())
        card_thr = card.get("validation", {}).get("operating_thresholds", {})
    except (OSError, ValueError):
        card_thr = {}
    thresholds = entry.get("thresholds", {})
    for key in ("apcer_0.01", "apcer_0.05"):
        m, g, c = thresholds.get(key), idx["thresholds"][key], card_thr.get(key)
        same = m is not None and c is not None and float(m) == float(g) == float(c)
        details.append((f"threshold {key}", same, f"manifest {m}, golden {g}, model card {c}"))
    details.append(
        (
            "default threshold",
            thresholds.get("default") == idx["thresholds"]["default"],
            f"manifest {thresholds.get('default')!r}, golden {idx['thresholds']['default']!r}",
        )
    )
    return from_details(f"{model}: manifest, card and golden agree", "golden", details, model=model)


def _spec(idx: dict[str, Any]) -> InputSpec:
    return InputSpec.from_json(json.dumps(idx["spec"]))


def e2e_check(bundle: Path, model: str, golden: GoldenData) -> CheckResult:
    """Decode each stored frame (EXIF applied) and preprocess it here: the model inputs must equal the stored ones
    (patches bit-exact, resampled global view within 1 level)."""
    spec = _spec(golden.index)
    frames = {r["path"]: r for r in read_frame_rows(bundle)}
    details: list[tuple[str, bool, str]] = []
    for i, row in enumerate(golden.rows):
        files = row["frame_files"]
        if not files:
            continue
        decoded = []
        for f in files:
            if f not in frames:
                details.append((row["id"], False, f"{f} is not listed in golden/frames/quads.jsonl"))
                break
            decoded.append((load_rgb(bundle / "golden" / f), np.asarray(frames[f]["quad"], dtype=np.float64)))
        else:
            stored = golden.inputs[i]
            if model == "recapture":
                (rgb, quad), layout = decoded[0], layout_for(spec)
                pre = preprocess(rgb, quad, spec)
                got = assemble(pre, layout)
                top = layout.patch_rows * layout.patch_size
                c1 = compare_tensor(row["id"], model, "patches", stored[:top], got[:top])
                c2 = compare_tensor(row["id"], model, "global_view", stored[top:], got[top:])
                details += [
                    (row["id"] + " patches", c1.passed, c1.message),
                    (row["id"] + " global view", c2.passed, c2.message),
                ]
            else:
                got = np.stack([global_view(rgb, quad, spec) for rgb, quad in decoded])
                ok = [compare_tensor(row["id"], model, "global_view", stored[t], got[t]) for t in range(len(got))]
                bad = [c for c in ok if not c.passed]
                details.append((row["id"], not bad, bad[0].message if bad else f"{len(ok)} frames within 1 level"))
    if not details:
        return CheckResult(
            f"{model}: end-to-end preprocessing",
            "e2e",
            "fail",
            "no golden vector of this model has stored frames",
            model=model,
        )
    return from_details(
        f"{model}: end-to-end preprocessing (decode + preprocess = stored inputs)", "e2e", details, model=model
    )
