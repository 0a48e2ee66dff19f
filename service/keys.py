"""App keys and the attestation hook.

Keys file (JSON): {"apps": {"<app id>": {"keys": {"<key id>": "<base64 key, >= 16 bytes>"},
                                         "attestation": "none" | "<verifier name>"}}}
Several key ids per app allow rotation. The key is what the app signs its reports with (service/canonical.py).
A real deployment plugs App Attest / Play Integrity checks in through `AttestationVerifier`; this version ships
`AcceptUnattested` (records that nothing was verified) and `RequireToken` (a token list, used to test the hook).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cardlive.errors import InputError

MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class AttestationResult:
    ok: bool
    status: str  # "unverified", "verified", or why it failed


class AttestationVerifier(Protocol):
    """Checks an app's attestation token (App Attest, Play Integrity) for a session's nonce."""

    name: str

    def verify(self, app_id: str, kind: str, token: str, nonce: str) -> AttestationResult: ...


@dataclass
class AcceptUnattested:
    """No attestation service configured: every report passes and is stored as 'unverified'."""

    name: str = "none"

    def verify(self, app_id: str, kind: str, token: str, nonce: str) -> AttestationResult:
        return AttestationResult(True, "unverified")


@dataclass
class RequireToken:
    """Accepts only tokens from an allow-list (stands in for a vendor verdict in tests)."""

    tokens: frozenset[str]
    name: str = "token-list"

    def verify(self, app_id: str, kind: str, token: str, nonce: str) -> AttestationResult:
        if kind == "none" or token not in self.tokens:
            return AttestationResult(False, f"attestation token of kind {kind!r} was not accepted")
        return AttestationResult(True, "verified")


@dataclass
class AppKeys:
    apps: dict[str, dict[str, bytes]]
    verifiers: dict[str, AttestationVerifier] = field(default_factory=dict)

    def key(self, app_id: str, key_id: str) -> bytes | None:
        return self.apps.get(app_id, {}).get(key_id)

    def verifier(self, app_id: str) -> AttestationVerifier:
        return self.verifiers.get(app_id, AcceptUnattested())


def parse_keys(data: object, source: str = "<keys>") -> AppKeys:
    """Keys document -> AppKeys; InputError naming the problem otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("apps"), dict) or not data["apps"]:
        raise InputError(f'{source}: expected {{"apps": {{"<app id>": {{"keys": {{"<key id>": "<base64>"}}}}}}}}')
    apps: dict[str, dict[str, bytes]] = {}
    for app_id, entry in data["apps"].items():
        keys = entry.get("keys") if isinstance(entry, dict) else None
        if not isinstance(keys, dict) or not keys:
            raise InputError(f"{source}: app {app_id!r} has no keys")
        if entry.get("attestation", "none") != "none":
            raise InputError(f"{source}: app {app_id!r}: attestation {entry['attestation']!r} has no verifier here")
        apps[app_id] = {}
        for key_id, text in keys.items():
            try:
                raw = base64.b64decode(str(text), validate=True)
            except (binascii.Error, ValueError):
                raise InputError(f"{source}: key {app_id}/{key_id} is not base64") from None
            if len(raw) < MIN_KEY_BYTES:
                raise InputError(f"{source}: key {app_id}/{key_id} has {len(raw)} bytes; expected >= {MIN_KEY_BYTES}")
            apps[app_id][key_id] = raw
    return AppKeys(apps)


def load_keys(path: Path) -> AppKeys:
    """Read a keys file."""
    try:
        return parse_keys(json.loads(Path(path).read_text()), str(path))
    except OSError as exc:
        raise InputError(f"cannot read the app keys {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg})") from None


def write_dev_keys(path: Path, app_id: str = "dev-app", key_id: str = "k1") -> Path:
    """A fresh random development key file (mode 0600), for `cardlive serve` without --app-keys."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"apps": {app_id: {"keys": {key_id: key}, "attestation": "none"}}}, indent=2) + "\n")
    path.chmod(0o600)
    return path
