"""Service building blocks without HTTP: migrations, parity profile and keys files, drift (PSI), clusters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from cardlive.errors import InputError, ParameterError
from service import db
from service.bench import score_clusters
from service.clusters import ClusterSettings, Member, _core, cluster_members
from service.drift import band, psi
from service.keys import parse_keys
from service.profile import load_profile, parse_profile, resolve_profile_path
from service.server import check_loopback
from service.testing import write_profile


def test_migrations_fresh_idempotent_and_refuse_newer(tmp_path: Path) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert db.migrate(engine) == 1
    assert db.migrate(engine) == 1  # nothing pending
    with engine.begin() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        assert db.current_version(conn) == 1
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
        assert {"sessions", "reports", "frames", "fingerprints", "rejections"} <= tables
        conn.execute(db.schema_migrations.insert().values(version=99, name="future", applied_utc=db.utc_now()))
    with pytest.raises(InputError, match="newer"):
        db.migrate(engine)
    engine.dispose()


def test_profile_is_required_and_validated(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--parity"):
        resolve_profile_path(None, None)
    assert resolve_profile_path(tmp_path, None) == tmp_path / "parity_profile.json"
    with pytest.raises(InputError, match="cannot read"):
        load_profile(tmp_path / "parity_profile.json")
    profile = load_profile(write_profile(tmp_path / "p.json", version="2.0.0"))
    assert profile.band("recapture", "2.0.0", "litert", "int8").tolerance == pytest.approx(0.05)
    assert profile.band("recapture", "2.0.0", "coreml", "fp16") is None
    good = json.loads((tmp_path / "p.json").read_text())
    for mutate, needle in (
        (lambda d: d["bands"][0].__setitem__("tolerance", -1), "tolerance"),
        (lambda d: d["bands"][0].pop("runtime"), "runtime"),
        (lambda d: d["bands"].append(dict(d["bands"][0])), "repeats"),
        (lambda d: d.__setitem__("bands", []), "no bands"),
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(InputError, match=needle):
            parse_profile(bad)


def test_keys_file_and_loopback() -> None:
    keys = parse_keys({"apps": {"a": {"keys": {"k": "AAECAwQFBgcICQoLDA0ODw=="}}}})
    assert keys.key("a", "k") == bytes(range(16))
    assert keys.key("a", "other") is None
    with pytest.raises(InputError, match="bytes"):
        parse_keys({"apps": {"a": {"keys": {"k": "AAEC"}}}})
    with pytest.raises(InputError, match="base64"):
        parse_keys({"apps": {"a": {"keys": {"k": "!!"}}}})
    check_loopback("127.0.0.1")
    with pytest.raises(ParameterError, match="loopback"):
        check_loopback("0.0.0.0")


def test_psi_bands() -> None:
    rng = np.random.default_rng(0)
    ref = rng.beta(2, 5, 2000)
    assert psi(ref, rng.beta(2, 5, 2000)) < 0.1  # same distribution
    assert psi(ref, rng.beta(5, 2, 2000)) > 0.25  # negative control: a shifted one is caught
    assert band(0.05) == "stable"
    assert band(0.2) == "moderate"
    assert band(0.3) == "significant"
    assert band(None) == "too_few"


def _face(seed: int, noise: float = 0.0, base: int | None = None) -> np.ndarray:
    """An int8 portrait signature: random, or `base`'s with a little noise (a farm re-presenting one card)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=576) if base is None else np.random.default_rng(base).normal(size=576)
    v = v + noise * rng.normal(size=576)
    return np.round(v / np.linalg.norm(v) * 127).astype(np.int8)


def _member(i: int, account: str, portrait: np.ndarray, attack: bool = False, vec: np.ndarray | None = None) -> Member:
    v = np.zeros(4, np.float32) if vec is None else vec
    return Member(i, f"s{i}", account, v, 5.0, portrait, attack)


def test_clusters_link_different_accounts_only() -> None:
    members = [_member(i, f"farm-{i}", _face(i, 0.1, base=7), attack=i % 2 == 0) for i in range(4)]
    members += [_member(10 + i, f"user-{i}", _face(100 + i), attack=True) for i in range(3)]
    members += [_member(20 + i, "same-account", _face(99), attack=True) for i in range(3)]  # one account, one face
    clusters = cluster_members(members, ClusterSettings(min_accounts=3))
    assert len(clusters) == 1
    assert sorted(clusters[0]["accounts"]) == [f"farm-{i}" for i in range(4)]
    truth = {m.session_id: (0 if m.account_id.startswith("farm") else None) for m in members}
    scores = score_clusters(clusters, truth)
    assert scores["purity"] == 1.0
    assert scores["recall"] == 1.0
    # negative control: a threshold that links everything merges users in and purity drops
    merged = cluster_members(members, ClusterSettings(min_accounts=3, portrait_min_cosine=-1.0))
    assert score_clusters(merged, truth)["purity"] < 1.0


def test_portrait_links_need_an_attack_side_and_two_links() -> None:
    twins = [_member(i, f"user-{i}", _face(i, 0.05, base=5)) for i in range(3)]  # accepted sessions, one face
    assert cluster_members(twins, ClusterSettings()) == []
    assert len(cluster_members(twins, ClusterSettings(portrait_needs_attack=False))) == 1
    faces = [_face(i, 0.05, base=5) for i in range(4)]
    two_attack = [_member(i, f"user-{i}", faces[i], attack=i < 2) for i in range(4)]
    assert len(cluster_members(two_attack, ClusterSettings())) == 1


def test_two_core_cuts_single_link_hangers_on() -> None:
    links = np.zeros((5, 5), dtype=bool)
    for i, j in ((0, 1), (1, 2), (2, 0), (2, 3), (3, 4)):  # a triangle with a tail of two
        links[i, j] = links[j, i] = True
    assert _core(links, 2).tolist() == [True, True, True, False, False]
    assert _core(links, 1).all()
    assert not _core(links, 3).any()


def test_instrument_links_need_attacks_and_the_setting() -> None:
    vec = np.array([1, 0, 0, 0], np.float32)
    members = [_member(i, f"a{i}", _face(i), attack=True, vec=vec) for i in range(3)]
    assert cluster_members(members, ClusterSettings()) == []  # instrument links off by default
    linked = cluster_members(members, ClusterSettings(instrument_cosine=0.9))
    assert linked[0]["instrument_links"] == 3
    genuine = [_member(i, f"a{i}", _face(i), attack=False, vec=vec) for i in range(3)]
    assert cluster_members(genuine, ClusterSettings(instrument_cosine=0.9)) == []
