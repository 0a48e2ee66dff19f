"""Batch-fraud clusters: sessions of DIFFERENT accounts linked by a shared portrait or a shared instrument.

Links (decisions): two sessions of different accounts are linked when
- portrait: the cosine of their portrait signatures (service/fingerprint.py) is >= `portrait_min_cosine` and,
  unless `portrait_needs_attack` is off, at least one of the two was judged an attack by the server: a face shared
  by accepted sessions alone is weak evidence (the simulator's one stock photo, look-alikes, re-enrolment); or
- instrument (only when `instrument_cosine` is set; off by default, see service/fingerprint.py for why): both
  were judged attacks, both fingerprints are peaked (strength >= `min_strength`) and their cosine is
  >= `instrument_cosine`.
Then the `min_links`-core of the link graph is kept (sessions with fewer than `min_links` links are removed,
repeatedly): a farm's sessions link to many of each other, while a chance look-alike hangs on by one link.
Clusters are the connected components (union-find) with at least `min_accounts` distinct accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from service import db
from service.fingerprint import signature_cosines


@dataclass(frozen=True)
class ClusterSettings:
    min_accounts: int = 3
    portrait_min_cosine: float | None = 0.95
    portrait_needs_attack: bool = True
    instrument_cosine: float | None = None
    min_strength: float = 0.0
    min_links: int = 2


@dataclass(frozen=True)
class Member:
    report_id: int
    session_id: str
    account_id: str
    instrument: np.ndarray
    strength: float
    portrait: np.ndarray  # int8 signature
    attack: bool


def load_members(engine: Engine) -> list[Member]:
    f, r = db.fingerprints.c, db.reports.c
    query = (
        select(f.report_id, r.session_id, r.account_id, f.instrument, f.instrument_strength, f.portrait_hashes,
               f.attack)
        .join(db.reports, r.id == f.report_id)
        .order_by(f.report_id)
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Member(
            int(row[0]),
            str(row[1]),
            str(row[2]),
            np.frombuffer(row[3], np.float32),
            float(row[4]),
            np.frombuffer(bytes.fromhex(json.loads(row[5])[0]), np.int8),
            bool(row[6]),
        )
        for row in rows
    ]


def link_matrix(members: list[Member], settings: ClusterSettings) -> tuple[np.ndarray, np.ndarray]:
    """(portrait links, instrument links) as boolean n x n matrices (different accounts only)."""
    n = len(members)
    accounts = np.array([m.account_id for m in members])
    other = accounts[:, None] != accounts[None, :]
    attack = np.array([m.attack for m in members])
    if settings.portrait_min_cosine is None:
        portrait = np.zeros((n, n), dtype=bool)
    else:
        portrait = other & (signature_cosines(np.stack([m.portrait for m in members])) >= settings.portrait_min_cosine)
        if settings.portrait_needs_attack:
            portrait &= attack[:, None] | attack[None, :]
    if settings.instrument_cosine is None:
        instrument = np.zeros((n, n), dtype=bool)
    else:
        vecs = np.stack([m.instrument for m in members])
        ok = attack & np.array([m.strength >= settings.min_strength for m in members])
        instrument = other & ok[:, None] & ok[None, :] & (vecs @ vecs.T >= settings.instrument_cosine)
    np.fill_diagonal(portrait, False)
    np.fill_diagonal(instrument, False)
    return portrait, instrument


def _core(links: np.ndarray, k: int) -> np.ndarray:
    """Nodes of the k-core: drop nodes with fewer than k links until none is left to drop."""
    alive = np.ones(len(links), dtype=bool)
    while True:
        degree = (links & alive[None, :]).sum(axis=1)
        drop = alive & (degree < k)
        if not drop.any():
            return alive
        alive &= ~drop


def cluster_members(members: list[Member], settings: ClusterSettings) -> list[dict[str, Any]]:
    """Connected components over the links, with their evidence counts."""
    n = len(members)
    if n == 0:
        return []
    portrait, instrument = link_matrix(members, settings)
    links = portrait | instrument
    alive = _core(links, settings.min_links)
    links &= alive[:, None] & alive[None, :]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(links)), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in np.nonzero(alive)[0]:
        groups.setdefault(find(int(i)), []).append(int(i))
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
