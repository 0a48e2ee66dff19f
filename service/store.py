"""Transactions of the service: sessions, one-transaction report storage with single-use nonces, the audit of
refused reports, and read-back.

A report is stored in ONE transaction: the session's nonce is consumed with a conditional UPDATE (... WHERE
used_utc IS NULL), then the report row, its frame rows (scores of both sides, optionally the JPEG bytes) and its
fingerprint row are inserted; any failure rolls everything back, so there are no half-records, and a nonce can be
used by exactly one report even under concurrent uploads. Refusals that are security verdicts (bad_signature,
replayed_nonce, unknown_model_version, frames_missing, frames_undecodable) leave nothing in those tables; one row
in `rejections` records them for monitoring.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
from typing import Any

from sqlalchemy import Engine, func, select, update

from service import db
from service.errors import ApiError
from service.fingerprint import Fingerprint
from service.report import EdgeReport
from service.verdict import ReferenceModel, Verdict

NONCE_TTL_S = 600


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """All database access of the service."""

    def __init__(self, engine: Engine, store_frames: bool = True) -> None:
        self.engine = engine
        self.store_frames = store_frames
        self._write = threading.Lock() if engine.dialect.name == "sqlite" else _NoLock()

    def create_session(self, app_id: str, account_id: str, ttl_s: int = NONCE_TTL_S) -> dict[str, str]:
        session_id = secrets.token_urlsafe(18)
        nonce = secrets.token_urlsafe(24)
        now = dt.datetime.now(dt.UTC)
        expires = (now + dt.timedelta(seconds=ttl_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._write, self.engine.begin() as conn:
            conn.execute(
                db.sessions.insert().values(
                    id=session_id,
                    app_id=app_id,
                    account_id=account_id,
                    nonce_sha256=_sha(nonce),
                    created_utc=db.utc_now(),
                    expires_utc=expires,
                )
            )
        return {"session_id": session_id, "nonce": nonce, "expires_utc": expires}

    def session(self, session_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.sessions).where(db.sessions.c.id == session_id)).mappings().first()
        return dict(row) if row else None

    def check_nonce(self, session: dict[str, Any], nonce: str) -> None:
        """ApiError replayed_nonce unless the nonce is this session's, unused and unexpired."""
        if not secrets.compare_digest(session["nonce_sha256"], _sha(nonce)):
            raise ApiError(409, "replayed_nonce", "the nonce is not the one issued for this session", "replayed_nonce")
        if session["used_utc"] is not None:
            raise ApiError(
                409,
                "replayed_nonce",
                f"this session's nonce was already used at {session['used_utc']}",
                "replayed_nonce",
            )
        if session["expires_utc"] < db.utc_now():
            raise ApiError(
                409, "replayed_nonce", f"this session's nonce expired at {session['expires_utc']}", "replayed_nonce"
            )

    def reject(self, session_id: str | None, app_id: str | None, error: ApiError) -> None:
        """Audit row for a refused report (security verdicts only)."""
        if error.verdict is None:
            return
        with self._write, self.engine.begin() as conn:
            conn.execute(
                db.rejections.insert().values(
                    session_id=session_id,
                    app_id=app_id,
                    verdict=error.verdict,
                    message=error.message,
                    created_utc=db.utc_now(),
                )
            )

    def store_report(
        self,
        session: dict[str, Any],
        report: EdgeReport,
        reference: ReferenceModel,
        verdict: Verdict,
        fp: Fingerprint,
        attestation: str,
    ) -> int:
        """Everything about one report in one transaction; ApiError replayed_nonce if another upload won."""
        now = db.utc_now()
        with self._write, self.engine.begin() as conn:
            used = conn.execute(
                update(db.sessions)
                .where(db.sessions.c.id == session["id"], db.sessions.c.used_utc.is_(None))
                .values(used_utc=now)
            )
            if used.rowcount != 1:
                raise ApiError(409, "replayed_nonce", "this session's nonce was already used", "replayed_nonce")
            report_id = conn.execute(
                db.reports.insert().values(
                    session_id=session["id"],
                    account_id=session["account_id"],
                    app_id=report.app_id,
                    app_version=report.app_version,
                    device_model=report.device_model,
                    device_os=report.device_os,
                    model_name=report.model_name,
                    model_version=report.model_version,
                    runtime=report.runtime,
                    precision=report.precision,
                    verdict=verdict.verdict,
                    edge_score=verdict.edge_score,
                    server_score=verdict.server_score,
                    edge_decision=verdict.edge_decision,
                    server_decision=verdict.server_decision,
                    final_decision=verdict.final_decision,
                    threshold=verdict.threshold,
                    tolerance=verdict.tolerance,
                    max_abs_delta=verdict.max_abs_delta,
                    attestation=attestation,
                    document=json.dumps(report.stored_document(), sort_keys=True),
                    created_utc=now,
                )
            ).inserted_primary_key
            assert report_id is not None
            report_id = report_id[0]
            conn.execute(
                db.frames.insert(),
                [
                    {
                        "report_id": report_id,
                        "frame_index": f.index,
                        "sha256": f.sha256,
                        "quad": json.dumps(f.quad),
                        "edge_attack_score": f.attack_score,
                        "edge_scores": json.dumps(f.scores, sort_keys=True),
                        "server_attack_score": float(r.server["attack_score"]),
                        "server_scores": json.dumps(r.server["probabilities"], sort_keys=True),
                        "abs_delta": r.abs_delta,
                        "jpeg": f.jpeg if self.store_frames else None,
                    }
                    for f, r in zip(report.frames, verdict.frames, strict=True)
                ],
            )
            conn.execute(
                db.fingerprints.insert().values(
                    report_id=report_id,
                    instrument=fp.instrument.tobytes(),
                    instrument_strength=fp.strength,
                    portrait_hashes=json.dumps([fp.portrait.tobytes().hex()]),
                    attack=verdict.server_decision == "attack",
                )
            )
        return int(report_id)

    def report(self, session_id: str) -> dict[str, Any] | None:
        """The stored result of a session (without the document and frames)."""
        cols = [c for c in db.reports.c if c.name != "document"]
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(db.reports.c.session_id == session_id)).mappings().first()
            if row is None:
                return None
            frames = conn.execute(
                select(db.frames.c.frame_index, db.frames.c.edge_attack_score, db.frames.c.server_attack_score)
                .where(db.frames.c.report_id == row["id"])
                .order_by(db.frames.c.frame_index)
            ).all()
        out = dict(row)
        out["frames"] = [{"index": i, "edge_attack_score": e, "server_attack_score": s} for i, e, s in frames]
        return out

    def report_sessions(self) -> list[str]:
        """Session id of every stored report row (duplicates would show twice)."""
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(select(db.reports.c.session_id))]

    def counts(self) -> dict[str, int]:
        """Rows per table, and distinct sessions among reports (equal when nothing is duplicated)."""
        with self.engine.connect() as conn:
            out = {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (db.sessions, db.reports, db.frames, db.fingerprints, db.rejections)
            }
            out["distinct_report_sessions"] = int(
                conn.execute(select(func.count(func.distinct(db.reports.c.session_id)))).scalar_one()
            )
        return out


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
