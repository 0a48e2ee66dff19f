"""DLC-2021 (Polevoy et al., 2022, "Document Liveness Challenge dataset"): frames and clips as records.

Layout read here (`root` is the dataset folder holding `clips/`, or that `clips/` folder itself):

    clips/images/<CODE>/<NN>.<tt><KKKK>/<FFFFFF>.jpg     frames of one clip, e.g. images/alb_id/00.cg0001/000029.jpg
    clips/annotations/<CODE>/<NN>.<tt><KKKK>.json        VIA 2.0.11 project file of that clip ("annotation/" and
                                                         the same folders beside clips/ are accepted too)

<CODE> is the document type (alb_id, esp_id, rus_internalpassport, ...), NN the physical document of that type,
tt the clip type and KKKK the clip number. Clip types: "or" original (genuine), "cc" colour copy (print),
"cg" grey copy (print), "re" recapture of the document shown on a screen (screen).

The annotation file is a VIA project: {"_via_settings": ..., "_via_img_metadata": {"<filename><size>":
{"filename": "000185.jpg", "size": 39502, "regions": [{"shape_attributes": {"name": "polygon",
"all_points_x": [x0, x1, x2, x3], "all_points_y": [y0, y1, y2, y3]}, "region_attributes": {"field_name":
"doc_quad"}}], "file_attributes": {}}, ...}}. A bare VIA annotation export (just the metadata mapping) is read
too. Only some frames are annotated; the others get quad None. The polygon's points are taken as the document's
corners clockwise from its top-left (the annotated points run top-left, top-right, bottom-right, bottom-left on
upright documents).

Source of these facts: a published sample of the dataset (github.com/hossamamrani/Project: annotation/alb_id/
00.cg0001.json, whose "default_filepath" is "/mnt/dlc-2021/clips/images/alb_id/00.cg0001/", and images/alb_id/
00.cg0001/000029.jpg) and third-party readers of the official clips.tar that take the clip type from the two
letters after the dot and read annotation JSONs from an "annotations" folder as annotations/<CODE>/<clip>.json.
Assumed (not seen in a source): that the annotation folder sits inside clips/ and is named "annotations", and
that the first annotated corner is the document's top-left also for rotated documents.

group = <CODE>: every clip of a document type (all its physical documents, originals and attacks) stays in one
split, so no card design is seen both in training and in test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardlive.errors import InputError
from edge_models.datasets.records import CaptureRecord, Quad, SequenceRecord, parse_quad

SOURCE = "dlc2021"
CLIP_TYPES: dict[str, tuple[str, str]] = {
    "or": ("genuine", "genuine"),
    "cc": ("print", "dlc_color_copy"),
    "cg": ("print", "dlc_grey_copy"),
    "re": ("screen", "dlc_screen_recapture"),
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CLIP_NAME = re.compile(r"^(?:(?P<doc>\d+)\.)?(?P<type>[a-z]{2})(?P<num>\d+)$")


def load_dlc2021(root: Path, annotated_only: bool = False) -> list[CaptureRecord]:
    """One record per frame (per annotated frame with annotated_only), clips in name order, frames in time order."""
    records = []
    for clip in _clips(Path(root)):
        for path, quad in zip(clip.paths, clip.quads, strict=True):
            if annotated_only and quad is None:
                continue
            extra = {**clip.extra, "frame": path.stem}
            records.append(CaptureRecord(path, clip.label, clip.species, quad, SOURCE, clip.group, extra))
    return records


def load_dlc2021_clips(root: Path) -> list[SequenceRecord]:
    """One record per clip: every frame in time order, the annotated quads (None for unannotated frames)."""
    out = []
    for clip in _clips(Path(root)):
        quads = None if all(q is None for q in clip.quads) else tuple(clip.quads)
        out.append(
            SequenceRecord(
                tuple(clip.paths),
                quads,
                (None,) * len(clip.paths),
                clip.label,
                clip.species,
                SOURCE,
                clip.group,
                clip.extra,
            )
        )
    return out


@dataclass(frozen=True)
class _Clip:
    paths: list[Path]
    quads: list[Quad | None]
    label: str
    species: str
    group: str
    extra: dict[str, Any]


def _clips_folder(root: Path) -> Path:
    for candidate in (root / "clips", root):
        if (candidate / "images").is_dir():
            return candidate
    raise InputError(f"{root} holds no DLC-2021 clips: expected {root / 'clips' / 'images'}/<CODE>/<clip>/*.jpg")


def _annotation_dirs(clips: Path) -> list[Path]:
    names = ("annotations", "annotation")
    return [d for base in (clips, clips.parent) for d in (base / n for n in names) if d.is_dir()]


def _clips(root: Path) -> list[_Clip]:
    clips_dir = _clips_folder(root)
    ann_dirs = _annotation_dirs(clips_dir)
    out = []
    for code_dir in sorted(p for p in (clips_dir / "images").iterdir() if p.is_dir()):
        for clip_dir in sorted(p for p in code_dir.iterdir() if p.is_dir()):
            match = _CLIP_NAME.match(clip_dir.name)
            if match is None:
                raise InputError(
                    f"{clip_dir}: clip folder name {clip_dir.name!r} is not <NN>.<type><number> (e.g. 00.cg0001)"
                )
            kind = match["type"]
            if kind not in CLIP_TYPES:
                raise InputError(f"{clip_dir}: unknown clip type {kind!r}; expected one of {sorted(CLIP_TYPES)}")
            frames = sorted(p for p in clip_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not frames:
                raise InputError(f"{clip_dir} holds no frames (*.jpg)")
            ann = next(
                (
                    d / code_dir.name / f"{clip_dir.name}.json"
                    for d in ann_dirs
                    if (d / code_dir.name / f"{clip_dir.name}.json").is_file()
                ),
                None,
            )
            quads_by_name = read_via_quads(ann) if ann is not None else {}
            label, species = CLIP_TYPES[kind]
            extra: dict[str, Any] = {
                "document_type": code_dir.name,
                "document": match["doc"],
                "clip": clip_dir.name,
                "clip_type": kind,
                "annotation": None if ann is None else str(ann),
            }
            quads = [quads_by_name.get(p.name) for p in frames]
            out.append(_Clip(frames, quads, label, species, code_dir.name, extra))
    if not out:
        raise InputError(f"{clips_dir / 'images'} holds no clip folders; expected <CODE>/<clip>/*.jpg")
    return out


def read_via_quads(path: Path) -> dict[str, Quad]:
    """filename -> document quad, from the "doc_quad" polygons of a VIA 2.0.11 project or annotation export."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a VIA JSON object, got {type(data).__name__}")
    meta = data.get("_via_img_metadata", data)
    where = "_via_img_metadata" if "_via_img_metadata" in data else "<top level>"
    if not isinstance(meta, dict):
        raise InputError(f"{path}: {where} must be an object mapping image keys to entries")
    quads: dict[str, Quad] = {}
    for key, entry in meta.items():
        if key.startswith("_via_"):
            continue
        at = f"{path}: {where}[{key!r}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            raise InputError(f"{at}: expected an object with a 'filename' string")
        regions = entry.get("regions", [])
        if not isinstance(regions, list):
            raise InputError(f"{at}.regions: expected a list")
        found = [(i, r) for i, r in enumerate(regions) if _field_name(r) == "doc_quad"]
        if len(found) > 1:
            raise InputError(f"{at}: {len(found)} doc_quad regions; expected at most one per frame")
        if found:
            i, region = found[0]
            quads[entry["filename"]] = _polygon_quad(region, f"{at}.regions[{i}]")
    return quads


def _field_name(region: Any) -> Any:
    attrs = region.get("region_attributes") if isinstance(region, dict) else None
    return attrs.get("field_name") if isinstance(attrs, dict) else None


def _polygon_quad(region: dict[str, Any], at: str) -> Quad:
    shape = region.get("shape_attributes")
    if not isinstance(shape, dict) or shape.get("name") != "polygon":
        raise InputError(f"{at}.shape_attributes: expected a polygon, got {shape!r}")
    xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != 4 or len(ys) != 4:
        raise InputError(f"{at}.shape_attributes: expected all_points_x and all_points_y of 4 numbers each")
    try:
        return parse_quad([[x, y] for x, y in zip(xs, ys, strict=True)])
    except ValueError as exc:
        raise InputError(f"{at}: {exc}") from None
