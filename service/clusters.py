"""Batch-fraud clusters: sessions of DIFFERENT accounts linked by a shared instrument or a shared portrait.

Links (decisions): two sessions of different accounts are linked when
- portrait: their portrait hashes differ in at most `portrait_bits` bits (of PORTRAIT_HASH_BITS) and, unless
  `portrait_needs_attack` is off, at least one of the two was judged an attack by the server: a face shared by two
  accepted sessions alone is weak evidence (the simulator's stock photo, look-alikes, re-enrolment), and on the
  development set this rule removed most genuine-to-genuine links while keeping farms whole; or
- instrument (only when `instrument_cosine` is set; off by default, see service/fingerprint.py for why): both
  were judged attacks by the server, both fingerprints are peaked (strength >= `min_strength`) and their cosine
  similarity is >= `instrument_cosine`. Genuine cards carry periodic artwork
  too (guilloche, microprint), so instrument links are only drawn between sessions the reference model already
  calls presentation attacks.
Clusters are the connected components with at least `min_accounts` distinct accounts (union-find).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from service import db
from service.fingerprint import PORTRAIT_HASH_BITS


@dataclass(frozen=True)
class ClusterSettings:
    min_accounts: int = 3
    portrait_bits: int = 32  # of 576: ~5.5 % (service/fingerprint.py)
    portrait_needs_attack: bool = True
    instrument_cosine: float | None = None
    min_strength: float = 0.0


@dataclass(frozen=True)
class Member:
    report_id: int
    session_id: str
    account_id: str
    instrument: np.ndarray
    strength: float
    portrait: int
    attack: bool


def load_members(engine: Engine) -> list[Member]:
    f, r = db.fingerprints.c, db.reports.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                f.report_id,
                r.session_id,
                r.account_id,
                f.instrument,
                f.instrument_strength,
                f.portrait_hashes,
                f.attack,
            )
            .join(db.reports, r.id == f.report_id)
            .order_by(f.report_id)
        ).all()
    return [
        Member(
            row[0],
            row[1],
            row[2],
            np.frombuffer(row[3], np.float32),
            float(row[4]),
            int(json.loads(row[5])[0], 16),
            bool(row[6]),
        )
        for row in rows
    ]


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.bitwise_count(x))


def link_matrix(members: list[Member], settings: ClusterSettings) -> tuple[np.ndarray, np.ndarray]:
    """(portrait links, instrument links) as boolean n x n matrices (different accounts only)."""
    n = len(members)
    accounts = np.array([m.account_id for m in members])
    other = accounts[:, None] != accounts[None, :]
    words = np.array(
        [[(m.portrait >> (64 * k)) & (2**64 - 1) for k in range(PORTRAIT_HASH_BITS // 64)] for m in members],
        dtype=np.uint64,
    ).reshape(n, -1)
    dist = np.zeros((n, n), dtype=np.uint16)
    for k in range(words.shape[1]):
        dist += _popcount(words[:, None, k] ^ words[None, :, k]).astype(np.uint16)
    portrait = other & (dist.astype(np.int32) <= settings.portrait_bits)
    attack = np.array([m.attack for m in members])
    if settings.portrait_needs_attack:
        portrait &= attack[:, None] | attack[None, :]
    vecs = np.stack([m.instrument for m in members]) if n else np.zeros((0, 1), np.float32)
    cosine = vecs @ vecs.T
    ok = attack & np.array([m.strength >= settings.min_strength for m in members])
    if settings.instrument_cosine is None:
        instrument = np.zeros((n, n), dtype=bool)
    else:
        instrument = other & ok[:, None] & ok[None, :] & (cosine >= settings.instrument_cosine)
    np.fill_diagonal(portrait, False)
    np.fill_diagonal(instrument, False)
    return portrait, instrument


def cluster_members(members: list[Member], settings: ClusterSettings) -> list[dict[str, Any]]:
    """Connected components over the links, with their evidence counts."""
    n = len(members)
    if n == 0:
        return []
    portrait, instrument = link_matrix(members, settings)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(portrait | instrument)), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out = []
    for idx in groups.values():
        accounts = sorted({members[i].account_id for i in idx})
        if len(accounts) < settings.min_accounts:
            continue
        sub = np.ix_(idx, idx)
        out.append(
            {
                "size": len(idx),
                "accounts": accounts,
                "sessions": [members[i].session_id for i in idx],
                "portrait_links": int(np.triu(portrait[sub]).sum()),
                "instrument_links": int(np.triu(instrument[sub]).sum()),
            }
        )
    out.sort(key=lambda c: -len(c["accounts"]))  # type: ignore[arg-type]
    for k, c in enumerate(out):
        c["cluster"] = k
    return out


def find_clusters(engine: Engine, settings: ClusterSettings) -> list[dict[str, Any]]:
    """Clusters over every stored session."""
    return cluster_members(load_members(engine), settings)
