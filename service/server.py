"""Assembling a running service from command-line settings: database, reference model, parity profile, app keys.

Reference model: the committed fp32 recapture weights (edge_models.weights), or BUNDLE/models/recapture/recapture.pt
when a bundle is given. Its version: BUNDLE/manifest.json models.recapture.version when present, else
--model-version, else the single recapture version named in the parity profile (ambiguous -> error).
App keys: --app-keys FILE; without it a random development key is written beside the database (printed at start).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from cardlive.errors import InputError, ParameterError
from edge_models.weights import DEFAULT_WEIGHTS, load_weights
from service import DEFAULT_DB
from service.db import migrate, open_engine
from service.keys import load_keys, write_dev_keys
from service.profile import load_profile, resolve_profile_path
from service.store import Store
from service.verdict import ReferenceModel


@dataclass(frozen=True)
class ServeSettings:
    db_url: str = DEFAULT_DB
    bundle: Path | None = None
    parity: Path | None = None
    app_keys: Path | None = None
    model_version: str | None = None
    max_upload_mb: float = 16.0
    store_frames: bool = True


def _sqlite_parent(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).parent
    return None


def load_reference(settings: ServeSettings, profile_versions: set[str]) -> ReferenceModel:
    """The reference model and the version it answers to."""
    weights = DEFAULT_WEIGHTS
    version = settings.model_version
    if settings.bundle is not None:
        bundled = settings.bundle / "models" / "recapture" / "recapture.pt"
        weights = bundled if bundled.exists() else weights
        manifest = settings.bundle / "manifest.json"
        if manifest.exists() and version is None:
            try:
                version = str(json.loads(manifest.read_text())["models"]["recapture"]["version"])
            except (KeyError, TypeError, json.JSONDecodeError) as exc:
                raise InputError(f"{manifest}: cannot read models.recapture.version ({exc})") from None
    if version is None:
        if len(profile_versions) != 1:
            raise ParameterError(
                f"the parity profile names recapture versions {sorted(profile_versions)}; pass --model-version"
            )
        version = next(iter(profile_versions))
    return ReferenceModel("recapture", version, load_weights(weights))


def build_state(settings: ServeSettings) -> tuple[object, list[str]]:
    """(ServiceState, notes to print) ready for service.app.create_app."""
    from service.app import ServiceState

    if settings.max_upload_mb <= 0:
        raise ParameterError(f"--max-upload-mb={settings.max_upload_mb} must be > 0")
    notes = []
    profile = load_profile(resolve_profile_path(settings.bundle, settings.parity))
    reference = load_reference(settings, profile.versions("recapture"))
    parent = _sqlite_parent(settings.db_url)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    keys_path = settings.app_keys
    if keys_path is None:
        keys_path = (parent or Path("build/service")) / "app_keys.dev.json"
        if not keys_path.exists():
            write_dev_keys(keys_path)
        notes.append(f"development app keys: {keys_path} (pass --app-keys FILE in production)")
    engine = open_engine(settings.db_url)
    version = migrate(engine)
    notes.append(f"database {settings.db_url} at schema version {version}")
    notes.append(
        f"reference {reference.name} {reference.version}, threshold {reference.threshold:.4f}; "
        f"profile {profile.source} ({len(profile.bands)} bands)"
    )
    state = ServiceState(
        store=Store(engine, store_frames=settings.store_frames),
        reference=reference,
        profile=profile,
        keys=load_keys(keys_path),
        max_upload_bytes=int(settings.max_upload_mb * 1024 * 1024),
    )
    return state, notes


def check_loopback(host: str) -> None:
    """This version serves on loopback only (no TLS in front of it here)."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ParameterError(f"--host {host} is not a loopback address; put a TLS proxy in front for other hosts")
