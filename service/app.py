"""The HTTP API (FastAPI; OpenAPI at /openapi.json).

POST /v1/sessions                      {"app_id", "account_id"} -> 201 {"session_id", "nonce", "expires_utc"}
POST /v1/sessions/{session_id}/report  the edge report (conformance/schemas/edge_report.schema.json) -> 200 verdict
GET  /v1/sessions/{session_id}         the stored verdict and both score sets
GET  /v1/drift                         PSI / mismatch / flip rates per (app version, device model, runtime)
GET  /v1/clusters                      sessions of different accounts linked by instrument or portrait
GET  /v1/health

Order of checks for a report (each failure is a 4xx with {"error": {"code", "verdict", "message"}}):
size limit (413) -> strict JSON (400) -> schema (422) -> path/body session id (422) -> session exists (404)
-> app key + HMAC + frame bytes against their signed sha256 + attestation (401 bad_signature) -> nonce (409
replayed_nonce) -> model version band (422 unknown_model_version) -> frames present / decodable (422) -> quads
(422 invalid_quad) -> re-score, compare, fingerprint -> one transaction -> 200. Signature before nonce, so that
an unauthenticated sender cannot probe or burn nonces.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cardlive import __version__
from service import canonical
from service.clusters import ClusterSettings, find_clusters
from service.drift import drift_table
from service.errors import ApiError
from service.fingerprint import fingerprint
from service.keys import AppKeys
from service.profile import ParityProfile
from service.report import EdgeReport, parse_report, report_schema
from service.store import Store
from service.verdict import ReferenceModel, decode_frames, judge, score_frames

log = logging.getLogger("cardlive.service")
ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


@dataclass
class ServiceState:
    store: Store
    reference: ReferenceModel
    profile: ParityProfile
    keys: AppKeys
    max_upload_bytes: int


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    app_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    account_id: str = Field(min_length=1, max_length=128)


class SessionIssued(BaseModel):
    session_id: str
    nonce: str
    expires_utc: str


class BodyLimit:
    """Pure ASGI middleware: 413 for bodies over the limit, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_413(send, self.limit)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_413(send, self.limit)


class _TooLarge(Exception):
    pass


async def _send_413(send: Send, limit: int) -> None:
    body = ApiError(413, "payload_too_large", f"the body is over the upload limit of {limit} bytes").body()
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _verify_signature(state: ServiceState, report: EdgeReport, session: dict[str, Any]) -> str:
    key = state.keys.key(report.app_id, report.key_id)
    if key is None:
        raise ApiError(401, "bad_signature", f"no key {report.key_id!r} for app {report.app_id!r}", "bad_signature")
    if not canonical.verify(report.document, key, report.signature):
        raise ApiError(401, "bad_signature", "the HMAC-SHA256 signature does not match the report", "bad_signature")
    if session["app_id"] != report.app_id:
        raise ApiError(401, "bad_signature", "the session was issued to a different app", "bad_signature")
    for f in report.frames:
        if f.jpeg is not None and hashlib.sha256(f.jpeg).hexdigest() != f.sha256:
            raise ApiError(
                401,
                "bad_signature",
                f"frame {f.index}: the JPEG bytes do not match their signed sha256",
                "bad_signature",
            )
    result = state.keys.verifier(report.app_id).verify(
        report.app_id, report.attestation_kind, report.attestation_token, report.nonce
    )
    if not result.ok:
        raise ApiError(401, "bad_signature", result.status, "bad_signature")
    return result.status


def _process(state: ServiceState, session_id: str, body: bytes) -> dict[str, Any]:
    report = parse_report(body)
    if report.session_id != session_id:
        raise ApiError(422, "session_mismatch", "session_id in the body differs from the one in the URL")
    session = state.store.session(session_id)
    if session is None:
        raise ApiError(404, "unknown_session", f"no session {session_id!r}; create one with POST /v1/sessions")
    try:
        attestation = _verify_signature(state, report, session)
        state.store.check_nonce(session, report.nonce)
        ref = state.reference
        band = state.profile.band(report.model_name, report.model_version, report.runtime, report.precision)
        if band is None or report.model_version != ref.version:
            raise ApiError(
                422,
                "unknown_model_version",
                f"no tolerance band for {report.model_name} {report.model_version} on {report.runtime} "
                f"{report.precision} (reference is {ref.name} {ref.version}; profile {state.profile.source})",
                "unknown_model_version",
            )
        rgbs = decode_frames(report)
        server = score_frames(ref, report, rgbs)
        verdict = judge(ref, band, report, rgbs, server)
        fp = fingerprint(rgbs, [f.quad for f in report.frames], ref.loaded.spec)
        state.store.store_report(session, report, ref, verdict, fp, attestation)
    except ApiError as exc:
        state.store.reject(session_id, report.app_id, exc)
        raise
    return {
        "session_id": session_id,
        "verdict": verdict.verdict,
        "final_decision": verdict.final_decision,
        "server_score": verdict.server_score,
        "edge_score": verdict.edge_score,
        "max_abs_delta": verdict.max_abs_delta,
        "tolerance": verdict.tolerance,
        "threshold": verdict.threshold,
        "frames": [
            {"index": fr.index, "edge_attack_score": fr.edge_attack, "server_attack_score": fr.server["attack_score"]}
            for fr in verdict.frames
        ],
    }


def _openapi_with_report_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec with the report body's schema taken from the conformance file ($defs moved to components)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    spec = get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
    schema = json.loads(json.dumps(report_schema()).replace('"#/$defs/', '"#/components/schemas/EdgeReport_'))
    defs = schema.pop("$defs")
    schema.pop("$schema", None)
    schema.pop("$id", None)
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update({f"EdgeReport_{k}": v for k, v in defs.items()})
    components["EdgeReport"] = schema
    op = spec["paths"]["/v1/sessions/{session_id}/report"]["post"]
    op["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EdgeReport"}}},
    }
    app.openapi_schema = spec
    return spec


def create_app(state: ServiceState) -> FastAPI:
    """The FastAPI application over a ready ServiceState."""
    app = FastAPI(title="cardlive edge-vs-cloud service", version=__version__, description=__doc__)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
        where = "/".join(str(p) for p in first.get("loc", []))
        return JSONResponse(ApiError(422, "invalid_request", f"{where}: {first.get('msg')}").body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            ApiError(exc.status_code, "http_error", str(exc.detail)).body(), status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse(
            ApiError(500, "internal_error", "internal error; nothing was stored").body(), status_code=500
        )

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        ref = state.reference
        return {"status": "ok", "model": {"name": ref.name, "version": ref.version}, "profile": state.profile.source}

    @app.post("/v1/sessions", status_code=201, response_model=SessionIssued)
    def create_session(req: SessionRequest) -> dict[str, str]:
        if req.app_id not in state.keys.apps:
            raise ApiError(404, "unknown_app", f"unknown app {req.app_id!r}")
        return state.store.create_session(req.app_id, req.account_id)

    @app.post("/v1/sessions/{session_id}/report")
    async def post_report(request: Request, session_id: str) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        return await run_in_threadpool(_process, state, session_id, body)

    @app.get("/v1/sessions/{session_id}")
    def get_session(session_id: str) -> dict[str, Any]:
        stored = state.store.report(session_id)
        if stored is None:
            raise ApiError(404, "no_report", f"no stored report for session {session_id!r}")
        return stored

    @app.get("/v1/drift")
    def drift(reference_size: int = Query(200, ge=10, le=100_000)) -> dict[str, Any]:
        return {"reference_size": reference_size, "groups": drift_table(state.store.engine, reference_size)}

    @app.get("/v1/clusters")
    def clusters(
        min_accounts: int = Query(3, ge=2, le=1000),
        portrait_needs_attack: bool = Query(True),
        min_links: int = Query(2, ge=1, le=100),
    ) -> dict[str, Any]:
        settings = ClusterSettings(
            min_accounts=min_accounts, portrait_needs_attack=portrait_needs_attack, min_links=min_links
        )
        return {"clusters": find_clusters(state.store.engine, settings)}

    app.openapi = lambda: _openapi_with_report_schema(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=state.max_upload_bytes)
    return app
