"""MIDV-Holo (Koliaskina et al., ICDAR 2023, "MIDV-Holo: a dataset for ID document hologram detection in a video
stream"): clips as SequenceRecords.

Layout read here (`root` is the dataset folder):

    images/origins/<kind>/<clip>/img_NNNN.jpg                 original documents (with holograms): genuine
    images/<fraud type>/<kind>/<clip>/img_NNNN.jpg            attacks; images/fraud/<fraud type>/... is read too
    markup/<same path as the frame below images/>.json        e.g. markup/origins/passport/psp05_01_02/img_0001.jpg.json
    templates/hologram_masks/<kind>_hologram_mask.png         hologram location in template (document) pixels
    metadata/*.json                                           lighting condition -> device -> clip folders

<kind> is "passport" or the ID-card folder; <clip> is "<template>_<document>_<clip>", e.g. psp05_01_02 (the
first document of template 5, its second clip). Frames were cut from the videos at 5 fps as img_%4d.jpg.
A markup file holds {"document": {"document_type": "<type>", "templates": {"<type>:main": {"template_quad":
[[x, y] x 4]}}}}: the document's corners in frame pixels, top-left, top-right, bottom-right, bottom-left
(readers map them onto (0, 0), (w, 0), (w, h), (0, h) of the template).

Fraud types -> (label, species): copy_without_holo (a copy of the template without hologram), pseudo_holo_copy
(a copy with a hologram pattern drawn in an image editor), photo_holo_copy (a printed photo of an original
document) -> "print" with species "midv_<fraud type>". photo_replacement (an original document whose holder photo
was replaced) is left out by default: its surface, holograms included, is the genuine card, so neither "genuine"
nor "print" describes it for a capture-liveness model; pass photo_replacement_label to keep it under that label.

The hologram masks are per document kind in template coordinates, not per frame, so `ovd_masks` are None and the
template mask's path (when present) is in extra["hologram_mask_template"]; warp it with the frame's quad.
group = <template> (e.g. "psp05"): all documents and clips of one template, originals and attacks, share a split.

Sources: the dataset README (github.com/SmartEngines/midv-holo: folders images/, markup/, metadata/, templates/,
templates/hologram_masks, images/origins/passport/psp05_01_02, the fraud-type folder names, the ffmpeg frame
naming, the metadata description) and third-party readers of the dataset (github.com/chungngoc/
holograme_detection extract_passport.py and github.com/CookieCreams/hologram-detection homography.py: the markup
path markup/<...>/<frame>.jpg.json and its document/templates/<type>:main/template_quad structure, the
images/fraud/<fraud type>/ folder, passport_hologram_mask.png and id_hologram_mask.png). Assumed: the ID-card
folder name (any folder beside "passport" is read), that template_quad starts at the document's top-left, and the
exact metadata JSON shape ({"A": {"<device>": ["<clip path>", ...]}, ...}; a different shape is ignored).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from cardlive.errors import InputError
from edge_models.datasets.records import LABELS, Quad, SequenceRecord, parse_quad

SOURCE = "midv_holo"
FRAUD_TYPES = ("copy_without_holo", "pseudo_holo_copy", "photo_holo_copy")
PHOTO_REPLACEMENT = "photo_replacement"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_midv_holo(root: Path, photo_replacement_label: str | None = None) -> list[SequenceRecord]:
    """One record per clip, in folder order: frames in time order, the markup quads, template mask in extra."""
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise InputError(f"{root} holds no MIDV-Holo frames: expected {images}/origins/<kind>/<clip>/img_NNNN.jpg")
    if photo_replacement_label is not None and photo_replacement_label not in LABELS:
        raise InputError(f"photo_replacement_label={photo_replacement_label!r} is not one of {list(LABELS)}")
    types: list[tuple[str, Path, str, str]] = [("origins", images / "origins", "genuine", "genuine")]
    wanted = [*FRAUD_TYPES, *([PHOTO_REPLACEMENT] if photo_replacement_label else [])]
    for fraud in wanted:
        label = photo_replacement_label if fraud == PHOTO_REPLACEMENT else "print"
        for folder in (images / fraud, images / "fraud" / fraud):
            if folder.is_dir():
                types.append((fraud, folder, str(label), f"midv_{fraud}"))
    lighting = _read_metadata(root / "metadata")
    records = []
    for fraud, type_dir, label, species in types:
        if not type_dir.is_dir():
            continue
        for kind_dir in sorted(p for p in type_dir.iterdir() if p.is_dir()):
            mask_kind = "passport" if "passport" in kind_dir.name.lower() else "id"
            mask = root / "templates" / "hologram_masks" / f"{mask_kind}_hologram_mask.png"
            for clip_dir in sorted(p for p in kind_dir.iterdir() if p.is_dir()):
                records.append(_clip(root, clip_dir, fraud, label, species, mask, lighting))
    if not records:
        raise InputError(f"{images} holds no clips; expected origins/<kind>/<clip>/img_NNNN.jpg")
    return records


def _clip(
    root: Path,
    clip_dir: Path,
    fraud: str,
    label: str,
    species: str,
    mask: Path,
    lighting: dict[str, tuple[str, str]],
) -> SequenceRecord:
    parts = clip_dir.name.split("_")
    if len(parts) != 3 or not all(parts):
        raise InputError(f"{clip_dir}: clip folder name {clip_dir.name!r} is not <template>_<document>_<clip>")
    frames = sorted(p for p in clip_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise InputError(f"{clip_dir} holds no frames (img_NNNN.jpg)")
    rel = clip_dir.relative_to(root / "images")
    quads = [_markup_quad(root / "markup" / rel / f"{f.name}.json") for f in frames]
    key = _below_images(rel.as_posix())
    extra: dict[str, Any] = {
        "type": fraud,
        "kind": clip_dir.parent.name,
        "clip": clip_dir.name,
        "template": parts[0],
        "document": f"{parts[0]}_{parts[1]}",
        "hologram_mask_template": str(mask) if mask.is_file() else None,
    }
    if key in lighting:
        extra["lighting"], extra["device"] = lighting[key]
    return SequenceRecord(
        tuple(frames),
        None if all(q is None for q in quads) else tuple(quads),
        (None,) * len(frames),
        label,
        species,
        SOURCE,
        parts[0],
        extra,
    )


def _markup_quad(path: Path) -> Quad | None:
    """The frame's document quad, or None when the frame has no markup file."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    document = data.get("document") if isinstance(data, dict) else None
    templates = document.get("templates") if isinstance(document, dict) else None
    if not isinstance(templates, dict) or not templates:
        raise InputError(f"{path}: expected document.templates, an object of templates with a template_quad")
    key = f"{document.get('document_type')}:main" if isinstance(document, dict) else ""
    if key not in templates:
        if len(templates) != 1:
            raise InputError(f"{path}: document.templates has no {key!r} and {len(templates)} others; expected one")
        key = next(iter(templates))
    entry = templates[key]
    if not isinstance(entry, dict) or "template_quad" not in entry:
        raise InputError(f"{path}: document.templates[{key!r}] has no template_quad")
    try:
        return parse_quad(entry["template_quad"])
    except ValueError as exc:
        raise InputError(f"{path}: document.templates[{key!r}].template_quad: {exc}") from None


def _read_metadata(folder: Path) -> dict[str, tuple[str, str]]:
    """Clip path below images/ (posix) -> (lighting code, device), from metadata/*.json; other shapes ignored."""
    out: dict[str, tuple[str, str]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            continue
        for condition, devices in data.items():
            if not isinstance(devices, dict):
                continue
            for device, clips in devices.items():
                for clip in clips if isinstance(clips, list) else []:
                    if isinstance(clip, str):
                        out[_below_images(clip)] = (str(condition), str(device))
    return out


def _below_images(clip: str) -> str:
    """A clip path reduced to what follows the last "images" folder, without a leading "fraud/"."""
    parts = PurePosixPath(clip.replace("\\", "/").rstrip("/")).parts
    if "images" in parts:
        parts = parts[len(parts) - parts[::-1].index("images") :]
    if parts and parts[0] == "fraud":
        parts = parts[1:]
    return "/".join(parts)
