"""Helpers for running the real service in-process on loopback (tests, benchmarks, traffic simulation):
write a parity profile / app keys file, find a free port, run uvicorn in a thread with a real SQLite file."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from service.app import ServiceState, create_app
from service.server import ServeSettings, build_state

TEST_VERSION = "0.1.0-test"


def write_profile(path: Path, version: str = TEST_VERSION, litert_tolerance: float = 0.05) -> Path:
    """A small parity profile: pytorch fp32 (tolerance 1e-4) and litert int8 (tolerance `litert_tolerance`)."""
    bands = [
        {
            "model": "recapture",
            "model_version": version,
            "runtime": "pytorch",
            "precision": "fp32",
            "output": "attack_score",
            "tolerance": 1e-4,
            "measured": {"max_abs": 2e-6, "p99_abs": 1e-6, "mean_abs": 3e-7, "n": 64},
            "expected_flip_rate": 0.0,
        },
        {
            "model": "recapture",
            "model_version": version,
            "runtime": "litert",
            "precision": "int8",
            "output": "attack_score",
            "tolerance": litert_tolerance,
            "measured": {
                "max_abs": litert_tolerance / 2,
                "p99_abs": litert_tolerance / 3,
                "mean_abs": litert_tolerance / 10,
                "n": 64,
            },
            "expected_flip_rate": 0.02,
        },
    ]
    path.write_text(json.dumps({"schema_version": 1, "bands": bands}, indent=2) + "\n")
    return path


def write_keys(path: Path, app_id: str = "test-app", key_id: str = "k1") -> tuple[Path, bytes]:
    """A keys file with one random key; returns (path, key)."""
    key = secrets.token_bytes(32)
    path.write_text(json.dumps({"apps": {app_id: {"keys": {key_id: base64.b64encode(key).decode()}}}}) + "\n")
    return path, key


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(settings: ServeSettings, port: int | None = None) -> Iterator[tuple[str, ServiceState]]:
    """Serve on 127.0.0.1 in a background thread; yields (base URL, state); stops on exit."""
    state, _ = build_state(settings)
    assert isinstance(state, ServiceState)
    port = port or free_port()
    # log_config=None: an embedded server leaves the host process's logging alone (uvicorn's default dictConfig
    # closes every existing handler; suspected, not proven, in a pytest worker whose output capture was closed)
    config = uvicorn.Config(
        create_app(state), host="127.0.0.1", port=port, log_level="error", lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        state.store.engine.dispose()
