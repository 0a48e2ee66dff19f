"""A restart loses nothing acknowledged: `cardlive serve` as a real subprocess on 127.0.0.1 with a real SQLite
file, killed with SIGKILL (no clean shutdown) after acknowledging reports, then started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from edge_models.scorer import score_frame
from edge_models.weights import load_weights
from service.client import AppIdentity, EdgeFrame, ServiceClient, build_report
from service.farms import genuine_capture
from service.testing import TEST_VERSION, free_port, write_keys, write_profile

ROOT = Path(__file__).resolve().parent.parent


def _start(db: Path, profile: Path, keys: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "cardlive.cli",
        "serve",
        "--db",
        f"sqlite:///{db}",
        "--parity",
        str(profile),
        "--app-keys",
        str(keys),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not come up within 120 s")


@pytest.mark.slow
def test_sigkill_and_restart_lose_nothing_acknowledged(tmp_path: Path) -> None:
    db, port = tmp_path / "svc.db", free_port()
    profile = write_profile(tmp_path / "parity_profile.json")
    keys, key = write_keys(tmp_path / "keys.json")
    app = AppIdentity("test-app", "k1", key)
    loaded = load_weights()
    cap = genuine_capture(12, 0)
    probs = score_frame(loaded, cap.rgb, cap.quad)["probabilities"]
    model = {"name": "recapture", "version": TEST_VERSION, "runtime": "pytorch", "precision": "fp32"}
    proc = _start(db, profile, keys, port)
    acknowledged, docs = [], {}
    try:
        client = ServiceClient(f"http://127.0.0.1:{port}")
        for i in range(3):
            s = client.new_session("test-app", f"acct-{i}")
            doc = build_report(
                s["session_id"], s["nonce"], app, model, [EdgeFrame(cap.jpeg, cap.quad, probs)], loaded.threshold
            )
            r = client.post_report(s["session_id"], doc)
            assert r.status_code == 200, r.text
            acknowledged.append((s["session_id"], r.json()["verdict"]))
            docs[s["session_id"]] = doc
        client.close()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    proc = _start(db, profile, keys, port)
    try:
        client = ServiceClient(f"http://127.0.0.1:{port}")
        for session_id, verdict in acknowledged:
            stored = client.get(f"/v1/sessions/{session_id}")
            assert stored["verdict"] == verdict
            assert len(stored["frames"]) == 1
            # the nonce stayed used across the restart
            again = client.post_report(session_id, docs[session_id])
            assert again.status_code == 409
            assert again.json()["error"]["verdict"] == "replayed_nonce"
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
