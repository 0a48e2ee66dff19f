"""Canonical serialisation of an edge report and its HMAC-SHA256 signature.

Decision: the canonical form is RFC 8785 (JSON Canonicalization Scheme, JCS) applied to the report with the
`signature` member removed and every frame's `jpeg_b64` member removed. The frames are covered by their `sha256`
(hex of the JPEG bytes), which IS signed; the server checks each uploaded JPEG against it. So apps sign a few
hundred bytes instead of megabytes, and the same signature covers a report that carries only frame hashes.
JCS is chosen because Swift and Kotlin implementations exist: object members sorted by their UTF-16 code units,
no whitespace, strings escaped minimally, numbers written as ECMAScript's Number.prototype.toString (shortest
round-trip digits; 1.0 -> "1", 1e-7 -> "1e-7", 0.00001 -> "0.00001", 1e21 -> "1e+21").

signature.value = lowercase hex of HMAC-SHA256(app key, canonical bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from typing import Any

UNSIGNED_FRAME_KEYS = ("jpeg_b64",)


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers")
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise ValueError(f"integer {value} is outside the exact double range JCS allows")
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number; JSON cannot carry it")
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest(abs(value))
    n = exponent + 1  # ECMAScript's n: value = 0.digits * 10^n
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _shortest(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a positive float and the exponent of its first digit."""
    text = repr(value)
    mantissa, _, exp = text.partition("e")
    exponent = int(exp) if exp else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    lead_zeros = len(whole + frac) - len((whole + frac).lstrip("0"))
    exponent += len(whole) - 1 - lead_zeros
    return digits.rstrip("0") or "0", exponent


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def jcs(value: Any) -> str:
    """RFC 8785 text of a JSON value (dict / list / str / int / float / bool / None)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_string(k)}:{jcs(value[k])}" for k in keys) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def signing_payload(report: dict[str, Any]) -> bytes:
    """The bytes an app signs: JCS of the report without `signature` and without frames' `jpeg_b64`."""
    body = {k: v for k, v in report.items() if k != "signature"}
    frames = body.get("frames")
    if isinstance(frames, list):
        body["frames"] = [
            {k: v for k, v in f.items() if k not in UNSIGNED_FRAME_KEYS} if isinstance(f, dict) else f for f in frames
        ]
    return jcs(body).encode("utf-8")


def sign(report: dict[str, Any], key: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the signing payload."""
    return hmac.new(key, signing_payload(report), hashlib.sha256).hexdigest()


def verify(report: dict[str, Any], key: bytes, value: str) -> bool:
    """Constant-time comparison of a claimed signature with the one the key gives."""
    return hmac.compare_digest(sign(report, key), value)
