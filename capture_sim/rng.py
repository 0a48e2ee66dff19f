"""Seeding. Every random draw in the simulator comes from a Generator derived here; global state is never used."""

from __future__ import annotations

import hashlib

import numpy as np


def _stream_key(stream: str) -> int:
    return int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")


def make_rng(seed: int, index: int, stream: str) -> np.random.Generator:
    """A Generator for one named stream of one sample: (seed, index, stream) fully determines it."""
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be non-negative")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, _stream_key(stream)])))


def child_rng(rng: np.random.Generator, stream: str) -> np.random.Generator:
    """An independent Generator for a sub-operation, drawn from a parent without disturbing sibling streams."""
    key = int(rng.integers(0, 2**63 - 1))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([key, _stream_key(stream)])))
