"""Parity profile: the tolerance bands the conformance suite measured, one per (model, version, runtime, precision).

Format (contracts): {"schema_version": 1, "bands": [{"model", "model_version", "runtime", "precision",
"output": "attack_score", "tolerance", "measured": {"max_abs", "p99_abs", "mean_abs", "n"}, "expected_flip_rate"}]}.
The file comes from BUNDLE/parity_profile.json or --parity FILE; there is deliberately no built-in profile (a band
nobody measured would make every verdict meaningless). When conformance/schemas/parity_profile.schema.json exists
(owned by the conformance helper) the file is also validated against it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from cardlive.errors import InputError

PROFILE_SCHEMA = Path(__file__).resolve().parent.parent / "conformance" / "schemas" / "parity_profile.schema.json"
BandKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Band:
    model: str
    model_version: str
    runtime: str
    precision: str
    tolerance: float
    expected_flip_rate: float
    measured: dict[str, float]

    @property
    def key(self) -> BandKey:
        return (self.model, self.model_version, self.runtime, self.precision)


@dataclass(frozen=True)
class ParityProfile:
    bands: dict[BandKey, Band]
    source: str

    def band(self, model: str, version: str, runtime: str, precision: str) -> Band | None:
        return self.bands.get((model, version, runtime, precision))

    def versions(self, model: str) -> set[str]:
        return {b.model_version for b in self.bands.values() if b.model == model}


def _finite(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise InputError(f"{where}={value} is outside [{low}, {high}]")
    return float(value)


def parse_profile(data: Any, source: str = "<profile>") -> ParityProfile:
    """A parity profile document -> ParityProfile; InputError naming the bad field otherwise."""
    if PROFILE_SCHEMA.exists():
        errors = list(Draft202012Validator(json.loads(PROFILE_SCHEMA.read_text())).iter_errors(data))
        if errors:
            first = errors[0]
            where = "/".join(str(part) for part in first.absolute_path) or "(document)"
            raise InputError(f"{source}: not a parity profile at {where}: {first.message}")
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("bands"), list):
        raise InputError(f'{source}: expected {{"schema_version": 1, "bands": [...]}}')
    bands: dict[BandKey, Band] = {}
    for i, row in enumerate(data["bands"]):
        where = f"{source}: bands[{i}]"
        if not isinstance(row, dict):
            raise InputError(f"{where} must be an object")
        try:
            model, version, runtime, precision = (
                str(row[k]) for k in ("model", "model_version", "runtime", "precision")
            )
            if row.get("output", "attack_score") != "attack_score":
                raise InputError(f"{where}.output={row['output']!r}; the server compares attack_score only")
            band = Band(
                model,
                version,
                runtime,
                precision,
                tolerance=_finite(row["tolerance"], f"{where}.tolerance", 0.0, 1.0),
                expected_flip_rate=_finite(row["expected_flip_rate"], f"{where}.expected_flip_rate", 0.0, 1.0),
                measured={k: float(v) for k, v in dict(row.get("measured", {})).items()},
            )
        except KeyError as exc:
            raise InputError(f"{where} lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: {exc}") from None
        if band.key in bands:
            raise InputError(f"{where} repeats the band {band.key}")
        bands[band.key] = band
    if not bands:
        raise InputError(f"{source}: the profile has no bands")
    return ParityProfile(bands, source)


def load_profile(path: Path) -> ParityProfile:
    """Read and parse a parity profile file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read the parity profile {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_profile(data, str(path))


def resolve_profile_path(bundle: Path | None, parity: Path | None) -> Path:
    """--parity FILE wins; else BUNDLE/parity_profile.json; else InputError (no built-in profile on purpose)."""
    if parity is not None:
        return parity
    if bundle is not None:
        return bundle / "parity_profile.json"
    raise InputError(
        "no parity profile: pass --bundle DIR (with DIR/parity_profile.json from `cardlive conform`) or --parity FILE"
    )
