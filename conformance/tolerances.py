"""Tolerances keyed by (model, runtime, precision): loading, checking metrics against them, and `--calibrate`.

Calibration (documented margin, the same for every key):
- attack score and every output: bound = min(ceiling, max(floor[precision], factor x measured max |delta|)),
  factor 2;
  floors: fp32 1e-4 (coremltools' CPU fp32 atol), fp16 2e-3, int8 / int8w 1e-2;
- SNR: min_snr_db = min(measured - 6.02 dB (factor 2 in amplitude), snr_cap[precision]); caps fp32 80 dB, fp16 30 dB,
  int8 / int8w 20 dB (the "SNR > 20 dB for compressed models" anchor), so identical outputs do not demand 200 dB;
- flip rate at any operating threshold: max = min(1, factor x measured + 0.02); top-1 agreement:
  min = max(0, 1 - factor x (1 - measured) - 0.02);
- calibration refuses (CardliveError) when a measured max |delta| is above the ceiling of its precision (fp32 1e-3,
  fp16 0.03, int8 0.1, int8w 0.05): a broken export must not widen its own tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardlive.errors import CardliveError, InputError
from conformance.golden_io import validate
from conformance.parity_metrics import ParityMetrics

DEFAULT_TOLERANCES = Path(__file__).parent / "tolerances.json"
Key = tuple[str, str, str]
DEFAULT_MARGIN: dict[str, Any] = {
    "factor": 2.0,
    "floor": {"fp32": 1e-4, "fp16": 2e-3, "int8": 1e-2, "int8w": 1e-2},
    "ceiling": {"fp32": 1e-3, "fp16": 0.03, "int8": 0.1, "int8w": 0.05},
    "snr_cap_db": {"fp32": 80.0, "fp16": 30.0, "int8": 20.0, "int8w": 20.0},
    "flip_rate_slack": 0.02,
    "snr_slack_db": 6.02,
}


@dataclass(frozen=True)
class Tolerance:
    model: str
    runtime: str
    precision: str
    required: bool
    attack_score_abs: float
    output_abs: dict[str, float]
    max_flip_rate: float
    min_snr_db: float
    min_top1_agreement: float
    measured: dict[str, Any] | None

    @property
    def key(self) -> Key:
        return (self.model, self.runtime, self.precision)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Tolerances:
    margin: dict[str, Any]
    entries: dict[Key, Tolerance]

    def lookup(self, model: str, runtime: str, precision: str) -> Tolerance | None:
        return self.entries.get((model, runtime, precision))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "margin": {k: self.margin[k] for k in DEFAULT_MARGIN},
            "entries": [self.entries[k].to_dict() for k in sorted(self.entries)],
        }


def load_tolerances(path: Path = DEFAULT_TOLERANCES) -> Tolerances:
    """Read and schema-check a tolerances file; InputError naming the problem otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read tolerances {path}: {exc}") from None
    problems = validate(data, "tolerances.schema.json")
    if problems:
        raise InputError(f"{path} does not match tolerances.schema.json: {'; '.join(problems[:3])}")
    margin = {**DEFAULT_MARGIN, **data["margin"]}
    entries = {}
    for row in data["entries"]:
        tol = Tolerance(**row)
        if tol.key in entries:
            raise InputError(f"{path}: duplicate tolerance entry for {tol.key}")
        entries[tol.key] = tol
    return Tolerances(margin, entries)


def write_tolerances(tolerances: Tolerances, path: Path) -> Path:
    data = tolerances.to_dict()
    problems = validate(data, "tolerances.schema.json")
    if problems:
        raise CardliveError(f"calibrated tolerances do not match their schema: {problems[:3]}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return Path(path)


def calibrate_entry(m: ParityMetrics, margin: dict[str, Any], bundle_version: str) -> Tolerance:
    """Derive a tolerance from one variant's measured metrics; CardliveError above the precision's ceiling."""
    factor, p = float(margin["factor"]), m.precision
    floor, ceiling = float(margin["floor"][p]), float(margin["ceiling"][p])
    worst_output = max((c.max_abs if c.max_abs is not None else float("inf")) for c in m.outputs)
    if not m.score_max_abs <= ceiling or not worst_output <= ceiling:
        raise CardliveError(
            f"refusing to calibrate {m.model}/{m.runtime}/{m.precision}: measured max |delta| "
            f"{max(m.score_max_abs, worst_output):.3g} is above the {p} ceiling {ceiling:g}; fix the export first"
        )
    snr = min((c.snr_db if c.snr_db is not None else -200.0) for c in m.outputs)
    flip = max(t["flip_rate"] for t in m.thresholds.values())
    return Tolerance(
        model=m.model,
        runtime=m.runtime,
        precision=p,
        required=True,
        attack_score_abs=min(ceiling, max(floor, factor * m.score_max_abs)),
        output_abs={c.name: min(ceiling, max(floor, factor * float(c.max_abs or 0.0))) for c in m.outputs},
        max_flip_rate=min(1.0, factor * flip + float(margin["flip_rate_slack"])),
        min_snr_db=min(snr - float(margin["snr_slack_db"]), float(margin["snr_cap_db"][p])),
        min_top1_agreement=max(0.0, 1.0 - factor * (1.0 - m.top1_agreement) - float(margin["flip_rate_slack"])),
        measured={
            "n": m.n,
            "score_max_abs": m.score_max_abs,
            "score_p99_abs": m.score_p99_abs,
            "output_max_abs": {c.name: c.max_abs for c in m.outputs},
            "flip_rate": flip,
            "snr_db": snr,
            "top1_agreement": m.top1_agreement,
            "bundle_version": bundle_version,
            "golden_vectors": m.n,
            "calibrated_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )


def check_metrics(m: ParityMetrics, tol: Tolerance) -> list[tuple[str, bool, str]]:
    """(check name, passed, message with the measured size) for every limit of the tolerance."""
    out: list[tuple[str, bool, str]] = []
    for c in m.outputs:
        bound = tol.output_abs.get(c.name, tol.attack_score_abs)
        out.append((f"output {c.name}", c.within(bound), c.describe(bound)))
        snr_ok = c.snr_db is not None and c.snr_db >= tol.min_snr_db
        out.append(
            (
                f"SNR {c.name}",
                snr_ok,
                f"SNR {c.snr_db if c.snr_db is None else round(c.snr_db, 1)} dB, minimum {tol.min_snr_db:.1f} dB",
            )
        )
    out.append(
        (
            "attack score",
            m.score_max_abs <= tol.attack_score_abs,
            f"max |delta| {m.score_max_abs:.3g} (p99 {m.score_p99_abs:.3g}, mean {m.score_mean_abs:.3g}), "
            f"tolerance {tol.attack_score_abs:.3g}",
        )
    )
    out.append(
        (
            "top-1 agreement",
            m.top1_agreement >= tol.min_top1_agreement,
            f"{m.top1_agreement:.4f}, minimum {tol.min_top1_agreement:.4f}",
        )
    )
    for key, t in m.thresholds.items():
        out.append(
            (
                f"flip rate @{key}",
                t["flip_rate"] <= tol.max_flip_rate,
                f"{t['flip_rate']:.4f} ({len(t['flips'])} flips), maximum {tol.max_flip_rate:.4f}",
            )
        )
        unexplained = t["unexplained_flips"]
        out.append(
            (
                f"flips outside band @{key}",
                not unexplained,
                f"{len(unexplained)} decisions flipped although the reference is more than "
                f"{tol.attack_score_abs:.3g} from the threshold" + (f": {unexplained[:3]}" if unexplained else ""),
            )
        )
    return out
