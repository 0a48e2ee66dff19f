"""The service over real HTTP on 127.0.0.1 with a real SQLite file: verdicts, storage, and refusals of bad input
(4xx with a clear message, nothing stored)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest

from service.client import sign_report
from service.keys import RequireToken
from tests.service_fixtures import Live, live  # noqa: F401

STORED = ("reports", "frames", "fingerprints")


def _stored(live: Live) -> dict[str, int]:  # noqa: F811
    counts = live.counts()
    return {k: counts[k] for k in STORED}


def test_honest_report_is_consistent_and_stored_once(live: Live) -> None:  # noqa: F811
    before = _stored(live)
    s = live.session()
    r = live.client.post_report(s["session_id"], live.report(s))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "consistent"
    assert body["server_score"] == pytest.approx(live.reference["attack_score"], abs=1e-6)
    expected = "reject" if live.reference["attack_score"] >= live.state.reference.threshold else "accept"
    assert body["final_decision"] == expected
    after = _stored(live)
    assert {k: after[k] - before[k] for k in STORED} == dict.fromkeys(STORED, 1)
    stored = live.client.get(f"/v1/sessions/{s['session_id']}")
    assert stored["verdict"] == "consistent"
    assert stored["runtime"] == "litert"
    assert stored["frames"][0]["server_attack_score"] == pytest.approx(body["server_score"])


def test_hooked_client_is_flagged_and_the_server_decides(live: Live) -> None:  # noqa: F811
    server = live.reference["attack_score"]
    threshold = live.state.reference.threshold
    s = live.session()
    # the hook reports the opposite of what the frames show, within [0, 1]
    fake_genuine = 0.99 if server >= threshold else 0.01
    fake = {"genuine": fake_genuine, "screen": (1 - fake_genuine) / 2, "print": (1 - fake_genuine) / 2}
    body = live.client.post_report(s["session_id"], live.report(s, fake)).json()
    assert body["verdict"] == "decision_flip"
    assert body["final_decision"] == ("reject" if server >= threshold else "accept")
    # a smaller lie that keeps the decision but leaves the band
    s2 = live.session()
    shift = 0.08 if server < 0.5 else -0.08
    g = live.reference["probabilities"]["genuine"] - shift
    moved = {"genuine": g, "screen": (1 - g) / 2, "print": (1 - g) / 2}
    body2 = live.client.post_report(s2["session_id"], live.report(s2, moved)).json()
    assert body2["verdict"] in ("score_divergence", "decision_flip")
    assert body2["max_abs_delta"] == pytest.approx(0.08, abs=1e-6)


def _refused(live: Live, session_id: str, payload: Any, status: int, code: str) -> dict[str, Any]:  # noqa: F811
    before = _stored(live)
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    r = live.client.post_report(session_id, payload)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    assert _stored(live) == before, "a refused report left rows behind"
    return error


def _accepts_afterwards(live: Live, s: dict[str, Any]) -> None:  # noqa: F811
    """The refusal neither stored anything nor burnt the nonce: the honest report still goes through."""
    assert live.client.post_report(s["session_id"], live.report(s)).status_code == 200


def test_malformed_json_and_wrong_types(live: Live) -> None:  # noqa: F811
    s = live.session()
    _refused(live, s["session_id"], b'{"schema_version": 1,', 400, "malformed_json")
    doc = live.report(s)
    doc["frames"][0]["quad"] = "top-left"
    _refused(live, s["session_id"], doc, 422, "schema_violation")
    doc = live.report(s)
    doc["app"]["version"] = 3
    err = _refused(live, s["session_id"], doc, 422, "schema_violation")
    assert "/app/version" in err["message"]
    _accepts_afterwards(live, s)


def test_oversized_upload(live: Live) -> None:  # noqa: F811
    s = live.session()
    _refused(live, s["session_id"], b"{" + b" " * (2 * 1024 * 1024) + b"}", 413, "payload_too_large")
    _accepts_afterwards(live, s)


def test_corrupted_jpeg_and_missing_frames(live: Live) -> None:  # noqa: F811
    s = live.session()
    doc = live.report(s)
    broken = live.capture.jpeg[: len(live.capture.jpeg) // 3]  # truncated JPEG, correctly hashed and signed
    doc["frames"][0]["jpeg_b64"] = base64.b64encode(broken).decode()
    doc["frames"][0]["sha256"] = hashlib.sha256(broken).hexdigest()
    err = _refused(live, s["session_id"], sign_report(doc, live.app), 422, "frames_undecodable")
    assert err["verdict"] == "frames_undecodable"
    doc = live.report(s, include_jpeg=False)
    err = _refused(live, s["session_id"], doc, 422, "frames_missing")
    assert "jpeg_b64" in err["message"]
    _accepts_afterwards(live, s)


def test_unknown_model_version(live: Live) -> None:  # noqa: F811
    s = live.session()
    for model in (
        {"name": "recapture", "version": "9.9.9", "runtime": "litert", "precision": "int8"},
        {"name": "recapture", "version": live.state.reference.version, "runtime": "coreml", "precision": "fp16"},
    ):
        err = _refused(live, s["session_id"], live.report(s, model=model), 422, "unknown_model_version")
        assert model["runtime"] in err["message"]
    _accepts_afterwards(live, s)


def test_bad_signatures(live: Live) -> None:  # noqa: F811
    s = live.session()
    doc = live.report(s)
    doc["frames"][0]["attack_score"] = 0.0  # changed after signing
    _refused(live, s["session_id"], doc, 401, "bad_signature")
    doc = live.report(s)
    doc["signature"]["key_id"] = "k2"
    _refused(live, s["session_id"], doc, 401, "bad_signature")
    doc = live.report(s)  # frame bytes swapped for other (valid) bytes: the signed sha256 no longer matches
    doc["frames"][0]["jpeg_b64"] = base64.b64encode(live.capture.jpeg + b"\x00").decode()
    err = _refused(live, s["session_id"], doc, 401, "bad_signature")
    assert "sha256" in err["message"]
    _accepts_afterwards(live, s)


def test_replayed_nonce(live: Live) -> None:  # noqa: F811
    s = live.session()
    doc = live.report(s)
    assert live.client.post_report(s["session_id"], doc).status_code == 200
    _refused(live, s["session_id"], doc, 409, "replayed_nonce")
    other = live.session()
    wrong = live.report(other)
    wrong["nonce"] = s["nonce"]  # a nonce of another session, signed by the real key
    _refused(live, other["session_id"], sign_report(wrong, live.app), 409, "replayed_nonce")
    audit = live.counts()["rejections"]
    assert audit >= 2


def test_expired_nonce(live: Live) -> None:  # noqa: F811
    s = live.state.store.create_session(live.app.app_id, "acct-1", ttl_s=-1)
    err = _refused(live, s["session_id"], live.report(s), 409, "replayed_nonce")
    assert "expired" in err["message"]


def test_unknown_session_and_mismatch(live: Live) -> None:  # noqa: F811
    s = live.session()
    doc = live.report(s)
    _refused(live, "A" * 24, doc, 422, "session_mismatch")
    ghost = copy.deepcopy(doc)
    ghost["session_id"] = "B" * 24
    _refused(live, "B" * 24, sign_report(ghost, live.app), 404, "unknown_session")
    r = live.client.http.post(f"{live.url}/v1/sessions", json={"app_id": "nobody", "account_id": "x"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_app"
    r = live.client.http.post(f"{live.url}/v1/sessions", json={"app_id": 5, "account_id": "x"})
    assert r.status_code == 422
    assert "app_id" in r.json()["error"]["message"]


def test_attestation_hook(live: Live) -> None:  # noqa: F811
    live.state.keys.verifiers["test-app"] = RequireToken(frozenset({"good-token"}))
    try:
        s = live.session()
        _refused(live, s["session_id"], live.report(s), 401, "bad_signature")
        doc = live.report(s)
        doc["attestation"] = {"kind": "play_integrity", "token": "good-token"}
        r = live.client.post_report(s["session_id"], sign_report(doc, live.app))
        assert r.status_code == 200
        assert live.client.get(f"/v1/sessions/{s['session_id']}")["attestation"] == "verified"
    finally:
        live.state.keys.verifiers.clear()


def test_drift_and_clusters_endpoints(live: Live) -> None:  # noqa: F811
    drift = live.client.get("/v1/drift", reference_size=10)
    assert drift["reference_size"] == 10
    assert isinstance(drift["groups"], list)
    assert live.client.http.get(f"{live.url}/v1/drift", params={"reference_size": 1}).status_code == 422
    for _ in range(2):  # the same card from two sessions of ONE account: no cross-account cluster
        s = live.session("acct-1")
        assert live.client.post_report(s["session_id"], live.report(s)).status_code == 200
    params = {"min_accounts": 2, "portrait_needs_attack": "false", "min_links": 1}
    assert live.client.get("/v1/clusters", **params)["clusters"] == []
    s = live.session("acct-2")
    assert live.client.post_report(s["session_id"], live.report(s)).status_code == 200
    clusters = live.client.get("/v1/clusters", **params)["clusters"]
    assert len(clusters) == 1
    assert clusters[0]["accounts"] == ["acct-1", "acct-2"]
    assert clusters[0]["portrait_links"] > 0
