"""The edge report contract: bytes -> validated document -> typed report.

The JSON Schema conformance/schemas/edge_report.schema.json is the single source of truth: the server validates
every body against that file (Draft 2020-12) and the OpenAPI spec embeds the same file, so they cannot drift.
Frames travel as standard base64 JPEG inside the JSON body (decision: not multipart; one content type, one schema,
one signing rule, ~33 % more bytes). Parsing refuses NaN / Infinity and duplicate object keys (two parsers could
pick different duplicates, which would let a signed value differ from the one the server reads).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from service.errors import ApiError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "conformance" / "schemas" / "edge_report.schema.json"


@functools.lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The edge report JSON Schema, loaded from the conformance folder."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return schema


@functools.lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(report_schema())


@dataclass(frozen=True)
class Frame:
    index: int
    sha256: str
    jpeg: bytes | None
    quad: list[list[float]]
    scores: dict[str, float]
    attack_score: float


@dataclass(frozen=True)
class EdgeReport:
    document: dict[str, Any]  # as received (validated)
    session_id: str
    nonce: str
    app_id: str
    app_version: str
    device_model: str
    device_os: str
    model_name: str
    model_version: str
    runtime: str
    precision: str
    frames: tuple[Frame, ...]
    outcome: str
    attack_score: float
    key_id: str
    signature: str
    attestation_kind: str
    attestation_token: str

    def stored_document(self) -> dict[str, Any]:
        """The document without frame bytes (those are stored once, as blobs)."""
        doc = dict(self.document)
        doc["frames"] = [{k: v for k, v in f.items() if k != "jpeg_b64"} for f in self.document["frames"]]
        return doc


def _refuse_constant(name: str) -> float:
    raise ApiError(400, "malformed_json", f"the body contains {name}; JSON numbers must be finite")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(400, "malformed_json", f"the body repeats the key {key!r} in one object")
        out[key] = value
    return out


def parse_json(body: bytes) -> Any:
    """Strict JSON parsing of a request body (UTF-8, finite numbers, unique keys); ApiError 400 otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "malformed_json", f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body nests too deeply") from None


def validate_document(doc: Any) -> None:
    """ApiError 422 naming the first schema violation (JSON pointer and reason)."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        first = errors[0]
        pointer = "/" + "/".join(str(p) for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = first.message if len(first.message) <= 300 else first.message[:300] + "..."
        raise ApiError(422, "schema_violation", f"edge report invalid at {pointer}: {message}{more}")


def _decode_b64(text: str, index: int) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            422, "frames_undecodable", f"frame {index}: jpeg_b64 is not standard base64", "frames_undecodable"
        ) from None


def parse_report(body: bytes) -> EdgeReport:
    """Body bytes -> EdgeReport; ApiError (400 malformed, 422 schema / base64) otherwise."""
    doc = parse_json(body)
    validate_document(doc)
    frames = []
    for f in doc["frames"]:
        jpeg = _decode_b64(f["jpeg_b64"], f["index"]) if "jpeg_b64" in f else None
        frames.append(
            Frame(
                index=f["index"],
                sha256=f["sha256"],
                jpeg=jpeg,
                quad=[[float(v) for v in p] for p in f["quad"]],
                scores={k: float(v) for k, v in f["scores"].items()},
                attack_score=float(f["attack_score"]),
            )
        )
    indices = [f.index for f in frames]
    if len(set(indices)) != len(indices):
        raise ApiError(422, "schema_violation", f"edge report invalid at /frames: frame indices repeat {indices}")
    att = doc.get("attestation", {"kind": "none", "token": ""})
    return EdgeReport(
        document=doc,
        session_id=doc["session_id"],
        nonce=doc["nonce"],
        app_id=doc["app"]["id"],
        app_version=doc["app"]["version"],
        device_model=doc["device"]["model"],
        device_os=doc["device"]["os"],
        model_name=doc["model"]["name"],
        model_version=doc["model"]["version"],
        runtime=doc["model"]["runtime"],
        precision=doc["model"]["precision"],
        frames=tuple(frames),
        outcome=doc["decision"]["outcome"],
        attack_score=float(doc["decision"]["attack_score"]),
        key_id=doc["signature"]["key_id"],
        signature=doc["signature"]["value"],
        attestation_kind=att["kind"],
        attestation_token=att["token"],
    )
