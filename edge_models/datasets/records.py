"""Dataset records shared by every loader, and a deterministic split that keeps each group in one split.

Records hold paths, never pixels: images are decoded later, by whoever trains or evaluates. Coordinates are frame
pixels (x to the right, y down, origin at the top-left corner of the top-left pixel); a quad lists the document's
corners clockwise from the top-left corner of the document's content (top-left, top-right, bottom-right,
bottom-left as the document reads, whatever its rotation in the frame).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

from cardlive.errors import ParameterError

LABELS = ("genuine", "screen", "print")

Point: TypeAlias = tuple[float, float]
Quad: TypeAlias = tuple[Point, Point, Point, Point]


def parse_quad(value: Any) -> Quad:
    """Four [x, y] pairs of finite numbers -> Quad. Raises ValueError saying what was wrong (callers add where)."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ValueError(f"quad must be a list of 4 [x, y] points, got {_short(value)}")
    points = []
    for i, point in enumerate(value):
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise ValueError(f"quad point {i} must be [x, y], got {_short(point)}")
        coords = []
        for c in point:
            if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
                raise ValueError(f"quad point {i} must hold two finite numbers, got {_short(point)}")
            coords.append(float(c))
        points.append((coords[0], coords[1]))
    return (points[0], points[1], points[2], points[3])


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_common(label: str, species: str, source: str, group: str) -> None:
    if label not in LABELS:
        raise ParameterError(f"label={label!r} is not allowed; expected one of {list(LABELS)}")
    for name, value in (("species", species), ("source", source), ("group", group)):
        if not isinstance(value, str) or not value:
            raise ParameterError(f"{name}={value!r} must be a non-empty string")


@dataclass(frozen=True)
class CaptureRecord:
    """One still frame: the image at `path`, its class, attack family and (when annotated) the document quad.

    `source` names the dataset; `group` is the unit of splitting (a document, clip or simulated pair), so that
    near-duplicates never straddle train and test; `extra` holds JSON values the loader kept (ids, parameters).
    """

    path: Path
    label: str
    species: str
    quad: Quad | None
    source: str
    group: str
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_common(self.label, self.species, self.source, self.group)
        object.__setattr__(self, "path", Path(self.path))
        if self.quad is not None:
            object.__setattr__(self, "quad", parse_quad(self.quad))


@dataclass(frozen=True)
class SequenceRecord:
    """A capture of several frames (a tilt or a clip), in time order.

    `quads` has one entry per frame (None for a frame without annotation) or is None when nothing is annotated;
    `ovd_masks` has one entry per frame: the frame's OVD-region mask (PNG, 0/255, frame pixels) or None.
    """

    paths: tuple[Path, ...]
    quads: tuple[Quad | None, ...] | None
    ovd_masks: tuple[Path | None, ...]
    label: str
    species: str
    source: str
    group: str
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_common(self.label, self.species, self.source, self.group)
        if not self.paths:
            raise ParameterError("a SequenceRecord needs at least one frame; got 0 paths")
        object.__setattr__(self, "paths", tuple(Path(p) for p in self.paths))
        n = len(self.paths)
        if self.quads is not None:
            if len(self.quads) != n:
                raise ParameterError(f"quads has {len(self.quads)} entries for {n} frames; expected {n}")
            object.__setattr__(self, "quads", tuple(None if q is None else parse_quad(q) for q in self.quads))
        if len(self.ovd_masks) != n:
            raise ParameterError(f"ovd_masks has {len(self.ovd_masks)} entries for {n} frames; expected {n}")
        object.__setattr__(self, "ovd_masks", tuple(None if m is None else Path(m) for m in self.ovd_masks))


class _Grouped(Protocol):
    @property
    def group(self) -> str: ...


R = TypeVar("R", bound=_Grouped)


def _group_counts(n_groups: int, fractions: tuple[float, float, float]) -> list[int]:
    """Groups per split: largest-remainder rounding, then at least one group for every split asked for."""
    total = sum(fractions)
    raw = [f / total * n_groups for f in fractions]
    counts = [math.floor(r) for r in raw]
    order = sorted(range(3), key=lambda k: (raw[k] - counts[k], -k), reverse=True)
    for k in order[: max(0, n_groups - sum(counts))]:
        counts[k] += 1
    wanted = [k for k in range(3) if fractions[k] > 0]
    if n_groups >= len(wanted):
        for k in wanted:
            if counts[k] == 0:
                donor = max(range(3), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[k] += 1
    return counts


def split_by_group(
    records: Sequence[R], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[R], list[R], list[R]]:
    """Split records into (train, val, test) so that all records of one group land in the same split.

    Groups are ordered by SHA-256 of (seed, group) -- no random state, identical on every machine and numpy
    version -- and cut by group count in that order: `fractions` (each in [0, 1], summing to 1) are shares of
    groups, not of records. Every split with a non-zero fraction gets at least one group when there are enough
    groups. Records keep their input order inside each split.
    """
    if len(fractions) != 3:
        raise ParameterError(f"fractions={fractions!r} must have 3 entries (train, val, test)")
    for name, f in zip(("train", "val", "test"), fractions, strict=True):
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0.0 <= f <= 1.0:
            raise ParameterError(f"fractions[{name}]={f!r} is outside the allowed range [0, 1]")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ParameterError(f"fractions={fractions!r} sum to {sum(fractions):.6g}; expected 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    groups = sorted({r.group for r in records})
    ordered = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}\x00{g}".encode()).digest())
    counts = _group_counts(len(ordered), (float(fractions[0]), float(fractions[1]), float(fractions[2])))
    split_of: dict[str, int] = {}
    start = 0
    for k, count in enumerate(counts):
        for g in ordered[start : start + count]:
            split_of[g] = k
        start += count
    out: tuple[list[R], list[R], list[R]] = ([], [], [])
    for r in records:
        out[split_of[r.group]].append(r)
    return out
