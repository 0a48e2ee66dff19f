"""The parity profile (contract "conform -> service"): one tolerance band per (model, model_version, runtime,
precision), built from this run's measurements and the tolerances the suite checked them against.

expected_flip_rate is measured on the labelled golden vectors only (the near-threshold blends flip by design and
would overstate what the server should expect from real traffic), at the manifest's default threshold.
Variants without a tolerance entry or without a run here (CoreML off macOS) get no band; the server then answers
unknown_model_version for them, which is the safe answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardlive.errors import CardliveError
from conformance.golden_io import validate
from conformance.parity_metrics import ParityMetrics
from conformance.tolerances import Tolerances

PROFILE_NAME = "parity_profile.json"


def build_profile(manifest: dict[str, Any], measured: list[ParityMetrics], tolerances: Tolerances) -> dict[str, Any]:
    bands = []
    seen = set()
    for m in measured:
        entry = manifest.get("models", {}).get(m.model, {})
        tol = tolerances.lookup(m.model, m.runtime, m.precision)
        key = (m.model, m.runtime, m.precision)
        if tol is None or key in seen:
            continue
        seen.add(key)
        default = entry.get("thresholds", {}).get("default", "apcer_0.05")
        thr = m.thresholds.get(default) or next(iter(m.thresholds.values()))
        bands.append(
            {
                "model": m.model,
                "model_version": str(entry.get("version", "unknown")),
                "runtime": m.runtime,
                "precision": m.precision,
                "output": "attack_score",
                "tolerance": tol.attack_score_abs,
                "measured": {
                    "max_abs": m.score_max_abs,
                    "p99_abs": m.score_p99_abs,
                    "mean_abs": m.score_mean_abs,
                    "n": m.n,
                },
                "expected_flip_rate": thr["flip_rate_labelled"],
            }
        )
    profile = {
        "schema_version": 1,
        "bundle_version": str(manifest.get("bundle_version", "unknown")),
        "generated_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bands": bands,
    }
    problems = validate(profile, "parity_profile.schema.json")
    if problems:
        raise CardliveError(f"parity profile does not match its schema: {problems[:3]}")
    return profile


def write_profile(profile: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=2, sort_keys=True) + "\n")
    return path


def write_profile_into_bundle(bundle: Path, profile: dict[str, Any], key: Path) -> Path:
    """BUNDLE/parity_profile.json, then re-sign the bundle (quantize.manifest.resign_bundle) so it still verifies."""
    from quantize.manifest import resign_bundle

    path = write_profile(profile, bundle / PROFILE_NAME)
    resign_bundle(bundle, key)
    return path
