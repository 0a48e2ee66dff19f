"""Manifest schema and signature: malformed manifests are rejected, tampered bundles fail `cardlive verify`."""

from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardlive.cli import main
from quantize.manifest import (
    dev_key_path,
    load_signing_key,
    manifest_bytes,
    private_key_pem,
    public_key_b64,
    read_manifest,
    resign_bundle,
    schema_errors,
    verify_bundle,
)


@pytest.fixture
def bundle(exported_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the session bundle (with its development key beside it) that a test may damage."""
    copy_dir = tmp_path / "bundle"
    shutil.copytree(exported_bundle, copy_dir)
    shutil.copyfile(dev_key_path(exported_bundle), dev_key_path(copy_dir))
    return copy_dir


def _mutate(manifest: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(manifest)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


MALFORMED = [
    (["schema_version"], 2),
    (["bundle_version"], "1.0"),
    (["git_commit"], KeyError),
    (["signing", "algorithm"], "RSA"),
    (["signing", "key_id"], "XYZ"),
    (["files", 0, "sha256"], "abc"),
    (["files", 0, "path"], "../outside.bin"),
    (["files", 0, "path"], "/etc/passwd"),
    (["files", 0, "size"], -1),
    (["models", "recapture", "thresholds", "apcer_0.05"], 1.5),
    (["models", "recapture", "thresholds", "default"], "apcer_0.5"),
    (["models", "recapture", "artifacts", 0, "runtime"], "tensorrt"),
    (["models", "recapture", "artifacts", 0, "inputs", 0, "dtype"], "float64"),
    (["models", "recapture", "calibration", "seed"], KeyError),
    (["models", "recapture", "unexpected"], 1),
    (["extra_top_level"], True),
]


def test_schema_accepts_the_exported_manifest(exported_bundle: Path) -> None:
    assert schema_errors(read_manifest(exported_bundle)) == []


@pytest.mark.parametrize(("path", "value"), MALFORMED, ids=["/".join(map(str, p)) for p, _ in MALFORMED])
def test_schema_rejects_malformed_manifests(exported_bundle: Path, path: list[Any], value: Any) -> None:
    assert schema_errors(_mutate(read_manifest(exported_bundle), path, value))


def test_verify_passes_on_an_intact_copy(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify_bundle(bundle) == []
    assert main(["verify", str(bundle)]) == 0
    assert "DEVELOPMENT key" in capsys.readouterr().out
    assert main(["verify", str(bundle), "--require-release-key"]) == 1


def test_verify_fails_on_a_flipped_byte(bundle: Path) -> None:
    target = bundle / "models" / "recapture" / "recapture.int8.tflite"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    problems = verify_bundle(bundle)
    assert any("recapture.int8.tflite: sha256" in p for p in problems)
    assert main(["verify", str(bundle)]) == 1


def test_verify_fails_on_a_missing_file(bundle: Path) -> None:
    (bundle / "models" / "ovd" / "ovd.fp16.mlpackage" / "Manifest.json").unlink()
    problems = verify_bundle(bundle)
    assert any("ovd.fp16.mlpackage/Manifest.json: missing" in p for p in problems)
    assert main(["verify", str(bundle)]) == 1


def test_verify_fails_on_an_extra_file(bundle: Path) -> None:
    (bundle / "models" / "ovd" / "notes.txt").write_text("added later")
    assert any("notes.txt: extra file" in p for p in verify_bundle(bundle))


def test_verify_fails_on_a_changed_threshold(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    manifest["models"]["recapture"]["thresholds"]["apcer_0.05"] = 0.99
    (bundle / "manifest.json").write_bytes(manifest_bytes(manifest))
    problems = verify_bundle(bundle)
    assert problems == ["bad signature: manifest.sig does not verify manifest.json with the manifest key"]
    assert main(["verify", str(bundle)]) == 1


def test_verify_fails_on_a_bad_signature(bundle: Path) -> None:
    signature = bytearray(base64.b64decode((bundle / "manifest.sig").read_text()))
    signature[0] ^= 0xFF
    (bundle / "manifest.sig").write_text(base64.b64encode(bytes(signature)).decode())
    assert any("bad signature" in p for p in verify_bundle(bundle))
    (bundle / "manifest.sig").unlink()
    assert verify_bundle(bundle) == ["manifest.sig is missing"]
    assert main(["verify", str(bundle)]) == 1


def test_a_resigned_foreign_bundle_fails_against_the_trusted_key(bundle: Path, tmp_path: Path) -> None:
    trusted = public_key_b64(load_signing_key(None, bundle)[0])
    attacker = Ed25519PrivateKey.generate()
    manifest = read_manifest(bundle)
    manifest["models"]["recapture"]["thresholds"]["apcer_0.05"] = 0.99
    (bundle / "manifest.json").write_bytes(manifest_bytes(manifest))
    resign_bundle(bundle, attacker)
    assert verify_bundle(bundle) == []  # self-consistent ...
    key_file = tmp_path / "trusted.pub"
    key_file.write_text(trusted)
    assert main(["verify", str(bundle), "--public-key", str(key_file)]) == 1  # ... but not by the pinned key


def test_resign_after_adding_golden_files(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDLIVE_SIGNING_KEY", raising=False)
    golden = bundle / "golden" / "recapture"
    golden.mkdir(parents=True)
    (golden / "index.json").write_text(json.dumps({"vectors": []}))
    assert any("extra file" in p for p in verify_bundle(bundle))
    resign_bundle(bundle)  # finds the development key beside the bundle
    assert verify_bundle(bundle) == []
    manifest = read_manifest(bundle)
    assert manifest["signing"]["development_key"] is True
    assert "golden/recapture/index.json" in {f["path"] for f in manifest["files"]}
    release_key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "release.pem"
    key_file.write_bytes(private_key_pem(release_key))
    monkeypatch.setenv("CARDLIVE_SIGNING_KEY", str(key_file))
    resign_bundle(bundle)
    manifest = read_manifest(bundle)
    assert manifest["signing"]["development_key"] is False
    assert manifest["signing"]["public_key"] == public_key_b64(release_key)
    assert verify_bundle(bundle) == []
