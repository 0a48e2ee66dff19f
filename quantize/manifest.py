"""The release bundle's signed manifest: writing, signing, verifying and re-signing.

`manifest.json` (UTF-8, sorted keys, indent 2) lists every file of the bundle with its sha256 and size and describes
each model (see quantize/schemas/manifest.schema.json); `manifest.sig` is the base64 Ed25519 signature over the exact
bytes of manifest.json.

Keys (decisions):
- A signing key is an Ed25519 private key, as a PEM file (PKCS#8, unencrypted) or as base64 of the raw 32 bytes.
  `load_signing_key(path)` takes `--key FILE`; else the environment variable CARDLIVE_SIGNING_KEY holds the key itself
  (PEM text or base64) or a path to a key file; else a development key is generated, written next to the bundle
  (`<bundle>.dev-signing-key.pem`, mode 0600, never inside the bundle) and the manifest says development_key: true.
- `verify_bundle` checks the signature against the public key the manifest carries (and, when given, against a
  trusted public key, which is what a deployment must pin: a self-consistent bundle re-signed by anyone else
  passes the first check only). It also checks the schema, the key id, every listed file's size and hash, missing
  and unlisted files, and that every model artifact is a listed file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cardlive.errors import InputError, OutputError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "manifest.schema.json"
KEY_ENV = "CARDLIVE_SIGNING_KEY"


@cache
def manifest_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def schema_errors(manifest: Any) -> list[str]:
    """Every way `manifest` violates the JSON Schema, one line each (empty = valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"manifest schema: at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(bundle_dir: Path) -> list[str]:
    """Relative posix paths of every regular file in the bundle except manifest.json and manifest.sig."""
    root = Path(bundle_dir)
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out.append(path.relative_to(root).as_posix())  # listed so that verify rejects it
        elif path.is_file():
            rel = path.relative_to(root).as_posix()
            if rel not in (MANIFEST, SIGNATURE):
                out.append(rel)
    return out


def file_entries(bundle_dir: Path) -> list[dict[str, Any]]:
    root = Path(bundle_dir)
    return [
        {"path": rel, "sha256": sha256_file(root / rel), "size": (root / rel).stat().st_size}
        for rel in bundle_files(root)
    ]


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(public_b64: str) -> str:
    """First 16 hex digits of sha256 over the raw public key bytes."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def parse_private_key(material: bytes) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) or base64-raw Ed25519 private key."""
    text = material.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(text, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError("the signing key is not an Ed25519 key; expected an Ed25519 PEM or base64 raw key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise InputError("the signing key is neither PEM nor base64; expected an Ed25519 private key") from None
    if len(raw) != 32:
        raise InputError(f"a base64 signing key must hold 32 raw bytes, got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def parse_public_key(material: bytes) -> Ed25519PublicKey:
    """A PEM (SubjectPublicKeyInfo) or base64-raw Ed25519 public key."""
    text = material.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
            if not isinstance(key, Ed25519PublicKey):
                raise InputError("the trusted key is not an Ed25519 public key")
            return key
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise InputError(f"cannot read the trusted public key: {exc}") from None


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    pkcs8 = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())


def dev_key_path(bundle_dir: Path) -> Path:
    bundle = Path(bundle_dir).resolve()
    return bundle.parent / f"{bundle.name}.dev-signing-key.pem"


def load_signing_key(path: Path | None, bundle_dir: Path) -> tuple[Ed25519PrivateKey, bool, Path | None]:
    """(key, development_key, generated key path). Order: --key FILE, $CARDLIVE_SIGNING_KEY, a new dev key."""
    if path is not None:
        try:
            return parse_private_key(Path(path).read_bytes()), False, None
        except OSError as exc:
            raise InputError(f"cannot read the signing key {path}: {exc.strerror or exc}") from None
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        if Path(env).is_file():
            return parse_private_key(Path(env).read_bytes()), False, None
        return parse_private_key(env.encode("utf-8")), False, None
    target = dev_key_path(bundle_dir)
    if target.exists():
        return parse_private_key(target.read_bytes()), True, target
    key = Ed25519PrivateKey.generate()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_key_pem(key))
    except OSError as exc:
        raise OutputError(f"cannot write the development signing key {target}: {exc.strerror or exc}") from None
    return key, True, target


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_manifest(
    bundle_dir: Path, manifest_dict: dict[str, Any], key: Ed25519PrivateKey, development_key: bool | None = None
) -> Path:
    """Fill `files` and `signing`, validate against the schema, write manifest.json and sign it into manifest.sig."""
    bundle = Path(bundle_dir)
    manifest = dict(manifest_dict)
    if development_key is None:
        development_key = bool(manifest.get("signing", {}).get("development_key", False))
    public = public_key_b64(key)
    manifest["signing"] = {
        "algorithm": "Ed25519",
        "public_key": public,
        "key_id": key_id(public),
        "development_key": development_key,
    }
    manifest["files"] = file_entries(bundle)
    problems = schema_errors(manifest)
    if problems:
        raise OutputError(f"refusing to write an invalid manifest: {problems[0]}")
    data = manifest_bytes(manifest)
    (bundle / MANIFEST).write_bytes(data)
    (bundle / SIGNATURE).write_text(base64.b64encode(key.sign(data)).decode("ascii") + "\n")
    return bundle / MANIFEST


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    path = Path(bundle_dir) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None
    return manifest


def resign_bundle(bundle_dir: Path, key: Ed25519PrivateKey | Path | None = None) -> Path:
    """Recompute `files` after files were added or changed, and sign again.

    `key`: a private key, a key file, or None for $CARDLIVE_SIGNING_KEY or (for a development bundle) the
    development key next to the bundle. The development_key flag stays true only when the same development key signs.
    """
    bundle = Path(bundle_dir)
    manifest = read_manifest(bundle)
    previous = manifest.get("signing", {})
    if isinstance(key, Ed25519PrivateKey):
        private, development = key, False
    else:
        if key is None and not os.environ.get(KEY_ENV) and not dev_key_path(bundle).exists():
            raise InputError(f"no signing key: pass one, set {KEY_ENV}, or keep {dev_key_path(bundle)}")
        private, development, _ = load_signing_key(key, bundle)
    same_dev_key = previous.get("development_key") and previous.get("public_key") == public_key_b64(private)
    return write_manifest(bundle, manifest, private, development_key=bool(development or same_dev_key))


def _check_signature(
    bundle: Path, manifest: dict[str, Any], data: bytes, trusted: Ed25519PublicKey | None
) -> list[str]:
    problems = []
    try:
        signature = base64.b64decode((bundle / SIGNATURE).read_text().strip(), validate=True)
    except OSError:
        return [f"{SIGNATURE} is missing"]
    except ValueError:
        return [f"{SIGNATURE} is not base64"]
    signing: dict[str, Any] = manifest["signing"] if isinstance(manifest.get("signing"), dict) else {}
    try:
        public_b64 = str(signing.get("public_key", ""))
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
    except ValueError:
        return ["signing.public_key is not a base64 Ed25519 public key"]
    if signing.get("key_id") != key_id(public_b64):
        problems.append(f"signing.key_id {signing.get('key_id')!r} != {key_id(public_b64)} (from the public key)")
    for label, public in (("manifest key", embedded), ("trusted key", trusted)):
        if public is None:
            continue
        try:
            public.verify(signature, data)
        except InvalidSignature:
            problems.append(f"bad signature: manifest.sig does not verify manifest.json with the {label}")
    return problems


def _check_files(bundle: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("files", []) if isinstance(manifest.get("files"), list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        if entry["path"] in listed:
            problems.append(f"{entry['path']}: listed twice")
        listed[entry["path"]] = entry
    present = set(bundle_files(bundle))
    root = bundle.resolve()
    for rel, entry in sorted(listed.items()):
        path = bundle / rel
        if rel not in present:
            problems.append(f"{rel}: missing (listed in the manifest, not in the bundle)")
            continue
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            problems.append(f"{rel}: is a link or points outside the bundle")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            problems.append(f"{rel}: size {size} != {entry.get('size')} in the manifest")
        digest = sha256_file(path)
        if digest != entry.get("sha256"):
            problems.append(f"{rel}: sha256 {digest[:16]}... != {str(entry.get('sha256'))[:16]}... in the manifest")
    for rel in sorted(present - set(listed)):
        problems.append(f"{rel}: extra file not listed in the manifest")
    models = manifest.get("models", {}) if isinstance(manifest.get("models"), dict) else {}
    for name, model in sorted(models.items()):
        for artifact in model.get("artifacts", []) if isinstance(model, dict) else []:
            where = artifact.get("path") if isinstance(artifact, dict) else None
            if not isinstance(where, str):
                continue
            if where not in listed and not any(p.startswith(where.rstrip("/") + "/") for p in listed):
                problems.append(f"model {name}: artifact {where} is not a listed file or directory")
    return problems


def verify_bundle(bundle_dir: Path, trusted_public_key: Ed25519PublicKey | None = None) -> list[str]:
    """Every problem with a bundle, one line each; an empty list means the bundle is intact and correctly signed."""
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        return [f"{bundle} is not a directory"]
    try:
        data = (bundle / MANIFEST).read_bytes()
    except OSError:
        return [f"{MANIFEST} is missing"]
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        return [f"{MANIFEST} is not valid UTF-8 JSON: {exc}"]
    if not isinstance(manifest, dict):
        return [f"{MANIFEST} is not a JSON object"]
    problems = schema_errors(manifest)
    problems += _check_signature(bundle, manifest, data, trusted_public_key)
    problems += _check_files(bundle, manifest)
    return problems
