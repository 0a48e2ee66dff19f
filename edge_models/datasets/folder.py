"""Reading a folder described by `index.jsonl`: a `cardlive simulate` output, or a user's own labelled captures.

Two row formats, told apart by the "frames" field (see README, "cardlive simulate output", and
capture_sim/dataset.py, which writes them):

* simulated rows carry "frames"; "path", "quad", "ovd_mask" (and "glare_mask") are a string / 4 points when
  frames == 1 and lists with one entry per frame when frames > 1. Required: "seed", "frames", "path", "label",
  "species", "pair_id", "quad", "ovd_mask". Kept in `extra`: "id", "seed", "index", "template_id", "pair_id",
  "width", "height", "params", and the mask paths a record has no field for. group = "sim-<seed>-pair-<pair_id>",
  so the genuine / screen / print variants of one pair (same scene, same nuisances) never straddle splits.
* a user's rows have no "frames": {"path": str, "label": str} plus optional "species" (default "genuine" for
  genuine, else "unspecified"), "quad", "group" (default: one group per image -- give one per physical card to
  keep its shots together) and "ovd_mask". "path" may also be a list of frames (a sequence); then "quad" and
  "ovd_mask", when given, are lists with one entry per frame. Other fields are kept in `extra`.

Paths are relative to the folder; a path that is absolute or climbs out of the folder ("..") is refused, and
(with check_files) every referenced file must exist. Symlinks inside the folder are followed, deliberately, so a
folder may be assembled from links. Every problem raises InputError naming the file, the line and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cardlive.errors import InputError, ParameterError
from edge_models.datasets.records import LABELS, CaptureRecord, Quad, SequenceRecord, parse_quad

INDEX = "index.jsonl"
SIM_SOURCE = "cardlive_sim"
USER_SOURCE = "user_folder"
SIM_REQUIRED = ("seed", "frames", "path", "label", "species", "pair_id", "quad", "ovd_mask")
SIM_EXTRA = ("id", "seed", "index", "template_id", "pair_id", "width", "height", "params")
USER_KNOWN = ("path", "label", "species", "quad", "group", "ovd_mask")

Record = CaptureRecord | SequenceRecord


class _RowError(ValueError):
    """A problem in one row; read_index_folder adds the file and line."""


def split_folders(folders: Path | str) -> list[Path]:
    """The folders named by a `--data` value: one path, or several separated by commas (`A,B`)."""
    return [Path(part) for part in str(folders).split(",") if part]


def read_index_folder(folder: Path, check_files: bool = True) -> list[Record]:
    """Records of every row of `folder/index.jsonl`, in file order (CaptureRecord or SequenceRecord per row)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory; expected a folder holding {INDEX}")
    index = folder / INDEX
    if not index.is_file():
        hint = ""
        if (folder / "simulate.json").exists():
            hint = " (simulate.json is there: the simulation did not complete)"
        raise InputError(f"{index} does not exist{hint}; expected one JSON object per line")
    root = folder.resolve()
    records: list[Record] = []
    try:
        lines = index.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {index}: {exc}") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{index}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        try:
            if not isinstance(row, dict):
                raise _RowError(f"expected a JSON object, got {type(row).__name__}")
            records.append(_sim_row(row, root, check_files) if "frames" in row else _user_row(row, root, check_files))
        except (_RowError, ParameterError) as exc:
            raise InputError(f"{index}:{lineno}: {exc}") from None
    if not records:
        raise InputError(f"{index} holds no rows; expected one JSON object per capture")
    return records


def _path(root: Path, value: Any, field: str, check_files: bool) -> Path:
    if not isinstance(value, str) or not value:
        raise _RowError(f"field {field!r} must be a non-empty path string, got {value!r}")
    if Path(value).is_absolute() or os.path.isabs(value) or Path(value).drive:
        raise _RowError(f"field {field!r} = {value!r} is absolute; expected a path relative to the folder")
    norm = os.path.normpath(value)
    if norm == os.pardir or norm.startswith(os.pardir + os.sep):
        raise _RowError(f"field {field!r} = {value!r} points outside the folder")
    if norm == os.curdir:
        raise _RowError(f"field {field!r} = {value!r} is the folder itself; expected a file in it")
    path = root / norm
    if check_files and not path.is_file():
        raise _RowError(f"field {field!r} = {value!r}: file {path} does not exist")
    return path


def _quad(value: Any, field: str) -> Quad:
    try:
        return parse_quad(value)
    except ValueError as exc:
        raise _RowError(f"field {field!r}: {exc}") from None


def _label(row: dict[str, Any]) -> str:
    label = row["label"]
    if label not in LABELS:
        raise _RowError(f"field 'label' = {label!r} is not one of {list(LABELS)}")
    return str(label)


def _nonneg_int(row: dict[str, Any], field: str) -> int:
    value = row[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RowError(f"field {field!r} = {value!r} must be a non-negative integer")
    return value


def _per_frame(row: dict[str, Any], field: str, frames: int) -> list[Any]:
    """The value of a per-frame field: a one-element list for a single frame, else a list of `frames` entries."""
    value = row[field]
    if frames == 1:
        return [value]
    if not isinstance(value, list) or len(value) != frames:
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise _RowError(f"field {field!r} must be a list of {frames} entries (frames = {frames}), got {got}")
    return value


def _sim_row(row: dict[str, Any], root: Path, check_files: bool) -> Record:
    missing = [f for f in SIM_REQUIRED if f not in row]
    if missing:
        raise _RowError(f"missing field(s) {missing} of a simulated row (it has 'frames')")
    frames = _nonneg_int(row, "frames")
    if frames < 1:
        raise _RowError("field 'frames' must be at least 1")
    label = _label(row)
    species = row["species"]
    if not isinstance(species, str) or not species:
        raise _RowError(f"field 'species' = {species!r} must be a non-empty string")
    seed, pair_id = _nonneg_int(row, "seed"), _nonneg_int(row, "pair_id")
    paths = [_path(root, p, f"path[{t}]", check_files) for t, p in enumerate(_per_frame(row, "path", frames))]
    quads = [_quad(q, f"quad[{t}]") for t, q in enumerate(_per_frame(row, "quad", frames))]
    ovd = [_path(root, m, f"ovd_mask[{t}]", check_files) for t, m in enumerate(_per_frame(row, "ovd_mask", frames))]
    extra = {k: row[k] for k in SIM_EXTRA if k in row}
    if "glare_mask" in row:
        glare = _per_frame(row, "glare_mask", frames)
        extra["glare_masks"] = [str(_path(root, m, f"glare_mask[{t}]", check_files)) for t, m in enumerate(glare)]
    group = f"sim-{seed}-pair-{pair_id}"
    if frames == 1:
        extra["ovd_mask"] = str(ovd[0])
        return CaptureRecord(paths[0], label, species, quads[0], SIM_SOURCE, group, extra)
    return SequenceRecord(tuple(paths), tuple(quads), tuple(ovd), label, species, SIM_SOURCE, group, extra)


def _user_row(row: dict[str, Any], root: Path, check_files: bool) -> Record:
    missing = [f for f in ("path", "label") if f not in row]
    if missing:
        raise _RowError(f"missing field(s) {missing}; a row needs at least 'path' and 'label'")
    label = _label(row)
    species = row.get("species", "genuine" if label == "genuine" else "unspecified")
    if not isinstance(species, str) or not species:
        raise _RowError(f"field 'species' = {species!r} must be a non-empty string")
    raw_paths = row["path"]
    single = isinstance(raw_paths, str)
    if not single and (not isinstance(raw_paths, list) or not raw_paths):
        raise _RowError(f"field 'path' must be a path string or a non-empty list of them, got {raw_paths!r}")
    frames = 1 if single else len(raw_paths)
    paths = [_path(root, p, "path" if single else f"path[{t}]", check_files) for t, p in enumerate(_as_list(raw_paths))]
    group = row.get("group", f"user:{os.path.normpath(_as_list(raw_paths)[0])}")
    if not isinstance(group, str) or not group:
        raise _RowError(f"field 'group' = {group!r} must be a non-empty string")
    quads: list[Quad | None] | None = None
    if row.get("quad") is not None:
        per = _per_frame(row, "quad", frames)
        quads = [None if q is None else _quad(q, "quad" if single else f"quad[{t}]") for t, q in enumerate(per)]
    masks: list[Path | None] = [None] * frames
    if row.get("ovd_mask") is not None:
        per = _per_frame(row, "ovd_mask", frames)
        masks = [None if m is None else _path(root, m, f"ovd_mask[{t}]", check_files) for t, m in enumerate(per)]
    extra = {k: v for k, v in row.items() if k not in USER_KNOWN}
    if single:
        if masks[0] is not None:
            extra["ovd_mask"] = str(masks[0])
        return CaptureRecord(paths[0], label, species, None if quads is None else quads[0], USER_SOURCE, group, extra)
    return SequenceRecord(
        tuple(paths), None if quads is None else tuple(quads), tuple(masks), label, species, USER_SOURCE, group, extra
    )


def _as_list(value: str | list[Any]) -> list[Any]:
    return [value] if isinstance(value, str) else value
