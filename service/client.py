"""The app side, in Python: build and sign edge reports, and talk to the service over HTTP (requests).

Used by `cardlive simulate-traffic`, `cardlive bench serve` and the tests; an integrator's Swift / Kotlin client
does the same steps (docs: conformance/schemas/edge_report.schema.json and service/canonical.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from service import canonical


@dataclass(frozen=True)
class AppIdentity:
    app_id: str
    key_id: str
    key: bytes
    app_version: str = "1.0.0"
    device_model: str = "Pixel 8"
    device_os: str = "Android 15"


@dataclass(frozen=True)
class EdgeFrame:
    jpeg: bytes
    quad: Sequence[Sequence[float]]
    scores: dict[str, float]  # genuine, screen, print

    @property
    def attack_score(self) -> float:
        return float(1.0 - self.scores["genuine"])


def build_report(
    session_id: str,
    nonce: str,
    app: AppIdentity,
    model: dict[str, str],
    frames: Sequence[EdgeFrame],
    threshold: float,
    include_jpeg: bool = True,
) -> dict[str, Any]:
    """A signed edge report; the outcome is the app's own decision on the mean per-frame attack score."""
    fused = float(sum(f.attack_score for f in frames) / len(frames))
    doc: dict[str, Any] = {
        "schema_version": 1,
        "session_id": session_id,
        "nonce": nonce,
        "app": {"id": app.app_id, "version": app.app_version},
        "device": {"model": app.device_model, "os": app.device_os},
        "model": dict(model),
        "frames": [],
        "decision": {"outcome": "reject" if fused >= threshold else "accept", "reason": None, "attack_score": fused},
    }
    for i, f in enumerate(frames):
        frame: dict[str, Any] = {
            "index": i,
            "sha256": hashlib.sha256(f.jpeg).hexdigest(),
            "quad": [[float(x), float(y)] for x, y in f.quad],
            "scores": {k: float(v) for k, v in f.scores.items()},
            "attack_score": f.attack_score,
        }
        if include_jpeg:
            frame["jpeg_b64"] = base64.b64encode(f.jpeg).decode("ascii")
        doc["frames"].append(frame)
    return sign_report(doc, app)


def sign_report(doc: dict[str, Any], app: AppIdentity) -> dict[str, Any]:
    """(Re-)sign a report document in place with the app's key; returns it."""
    doc.pop("signature", None)
    doc["signature"] = {"algorithm": "HMAC-SHA256", "key_id": app.key_id, "value": canonical.sign(doc, app.key)}
    return doc


class ServiceClient:
    """Thin HTTP client (one keep-alive connection per instance; use one per thread)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout

    def new_session(self, app_id: str, account_id: str) -> dict[str, Any]:
        r = self.http.post(
            f"{self.base_url}/v1/sessions", json={"app_id": app_id, "account_id": account_id}, timeout=self.timeout
        )
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def post_report(self, session_id: str, doc: dict[str, Any] | bytes) -> requests.Response:
        url = f"{self.base_url}/v1/sessions/{session_id}/report"
        if isinstance(doc, bytes):
            return self.http.post(url, data=doc, headers={"content-type": "application/json"}, timeout=self.timeout)
        return self.http.post(url, json=doc, timeout=self.timeout)

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        self.http.close()
