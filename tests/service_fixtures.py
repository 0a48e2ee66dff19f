"""Shared fixtures of the service tests: a real service on 127.0.0.1 (uvicorn thread, SQLite file) and one small
simulated capture with its reference scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_models.scorer import score_frame
from service.app import ServiceState
from service.client import AppIdentity, EdgeFrame, ServiceClient, build_report
from service.farms import SimCapture, genuine_capture
from service.server import ServeSettings
from service.testing import TEST_VERSION, running_service, write_keys, write_profile

LITERT = {"name": "recapture", "version": TEST_VERSION, "runtime": "litert", "precision": "int8"}


@dataclass
class Live:
    url: str
    state: ServiceState
    app: AppIdentity
    client: ServiceClient
    capture: SimCapture
    reference: dict[str, Any]
    folder: Path

    def session(self, account: str = "acct-1") -> dict[str, Any]:
        return self.client.new_session(self.app.app_id, account)

    def report(self, session: dict[str, Any], scores: dict[str, float] | None = None, **kw: Any) -> dict[str, Any]:
        frame = EdgeFrame(self.capture.jpeg, self.capture.quad, scores or self.reference["probabilities"])
        model = kw.pop("model", LITERT)
        return build_report(
            session["session_id"], session["nonce"], self.app, model, [frame], self.state.reference.threshold, **kw
        )

    def counts(self) -> dict[str, int]:
        return self.state.store.counts()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("service")
    keys, key = write_keys(folder / "keys.json")
    settings = ServeSettings(
        db_url=f"sqlite:///{folder / 'cardlive.db'}",
        parity=write_profile(folder / "parity_profile.json"),
        app_keys=keys,
        max_upload_mb=1.0,
    )
    capture = genuine_capture(11, 0)
    with running_service(settings) as (url, state):
        reference = score_frame(state.reference.loaded, capture.rgb, capture.quad)
        client = ServiceClient(url)
        yield Live(url, state, AppIdentity("test-app", "k1", key), client, capture, reference, folder)
        client.close()
