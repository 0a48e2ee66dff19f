"""Tiny on-disk datasets in the DLC-2021, MIDV-Holo and `cardlive simulate` layouts, for tests/test_datasets.py.

Every frame is a 64x48 JPEG written with PIL; each frame's quad is different (shifted by its index) so a loader
that pairs quads with the wrong frame, or reads corners in the wrong order, is caught.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 64, 48


def frame_quad(t: int, doc: int = 0) -> list[list[float]]:
    """The document corners of frame t, clockwise from the top-left: TL, TR, BR, BL (frame pixels)."""
    x0, y0 = 6.0 + t + doc, 5.0 + t
    return [[x0, y0], [x0 + 40.0, y0 + 1.0], [x0 + 39.0, y0 + 26.0], [x0 - 1.0, y0 + 25.0]]


def write_jpeg(path: Path, t: int = 0) -> None:
    """A 64x48 JPEG: grey background with a lighter card-sized rectangle (content is irrelevant to the loaders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    image[5 + t : 31 + t, 6 + t : 46 + t] = 200
    Image.fromarray(image).save(path, quality=90)


def write_png_mask(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[10:20, 30:40] = 255
    Image.fromarray(mask).save(path)


# --- DLC-2021 -------------------------------------------------------------------------------------------------

DLC_CLIPS = {"alb_id": ("00.or0001", "00.cc0001", "01.re0002"), "esp_id": ("00.or0001", "00.cg0001")}
DLC_FRAMES = ("000001.jpg", "000002.jpg", "000003.jpg")
DLC_ANNOTATED = ("000001.jpg", "000003.jpg")  # the middle frame has no annotation, as in the real sparse markup


def via_project(code: str, clip: str, quads: dict[str, list[list[float]]]) -> dict[str, Any]:
    """A VIA 2.0.11 project file as DLC-2021 ships it: _via_settings + _via_img_metadata keyed filename+size."""
    meta: dict[str, Any] = {}
    for name, quad in quads.items():
        size = 1000 + len(meta)
        meta[f"{name}{size}"] = {
            "filename": name,
            "size": size,
            "regions": [
                {
                    "shape_attributes": {
                        "name": "polygon",
                        "all_points_x": [p[0] for p in quad],
                        "all_points_y": [p[1] for p in quad],
                    },
                    "region_attributes": {"field_name": "doc_quad"},
                }
            ],
            "file_attributes": {},
        }
    return {
        "_via_settings": {
            "core": {
                "buffer_size": "18",
                "filepath": {},
                "default_filepath": f"/mnt/dlc-2021/clips/images/{code}/{clip}/",
            },
            "project": {"name": f"dlc2021-{code}"},
        },
        "_via_img_metadata": meta,
    }


def make_dlc2021(root: Path) -> Path:
    """root/clips/images/<CODE>/<clip>/NNNNNN.jpg and root/clips/annotations/<CODE>/<clip>.json."""
    for doc, (code, clips) in enumerate(DLC_CLIPS.items()):
        for clip in clips:
            for t, name in enumerate(DLC_FRAMES):
                write_jpeg(root / "clips" / "images" / code / clip / name, t)
            quads = {name: frame_quad(DLC_FRAMES.index(name), doc) for name in DLC_ANNOTATED}
            ann = root / "clips" / "annotations" / code / f"{clip}.json"
            ann.parent.mkdir(parents=True, exist_ok=True)
            ann.write_text(json.dumps(via_project(code, clip, quads), indent=2))
    return root


# --- MIDV-Holo ------------------------------------------------------------------------------------------------

# (folder below images/, clip): origins and a fraud under images/<type>/ and one under images/fraud/<type>/
MIDV_CLIPS = (
    ("origins/passport", "psp01_01_01"),
    ("origins/passport", "psp01_01_02"),
    ("copy_without_holo/passport", "psp01_01_01"),
    ("origins/passport", "psp02_01_01"),
    ("fraud/photo_holo_copy/passport", "psp02_01_01"),
    ("fraud/photo_replacement/passport", "psp02_01_02"),
)
MIDV_FRAMES = ("img_0001.jpg", "img_0002.jpg", "img_0003.jpg")


def midv_markup(quad: list[list[float]], template: int) -> dict[str, Any]:
    doc_type = f"uto.passport.type{template}"
    return {"document": {"document_type": doc_type, "templates": {f"{doc_type}:main": {"template_quad": quad}}}}


def make_midv_holo(root: Path) -> Path:
    """images/<type>/passport/<clip>/img_NNNN.jpg, markup/<same>/img_NNNN.jpg.json, hologram mask, metadata."""
    for folder, clip in MIDV_CLIPS:
        template = int(clip[3:5])
        for t, name in enumerate(MIDV_FRAMES):
            write_jpeg(root / "images" / folder / clip / name, t)
            markup = root / "markup" / folder / clip / f"{name}.json"
            markup.parent.mkdir(parents=True, exist_ok=True)
            markup.write_text(json.dumps(midv_markup(frame_quad(t, template), template)))
    write_png_mask(root / "templates" / "hologram_masks" / "passport_hologram_mask.png")
    metadata = {"D": {"Samsung Galaxy S10": ["images/origins/passport/psp01_01_01"]}}
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "metadata" / "conditions.json").write_text(json.dumps(metadata))
    return root


# --- cardlive simulate output ---------------------------------------------------------------------------------


def sim_row(index: int, pair_id: int, label: str, species: str, folder: Path, frames: int = 1) -> dict[str, Any]:
    """One index.jsonl row with exactly the fields capture_sim.dataset.capture_row writes; files created too."""
    sub = Path("captures") / f"{index:06d}"
    paths, ovd, glare, quads = [], [], [], []
    for t in range(frames):
        paths.append(str(sub / f"frame_{t:02d}.jpg"))
        write_jpeg(folder / paths[-1], t)
        ovd.append(str(sub / f"ovd_{t:02d}.png"))
        write_png_mask(folder / ovd[-1])
        glare.append(str(sub / f"glare_{t:02d}.png"))
        write_png_mask(folder / glare[-1])
        quads.append(frame_quad(t))
    single = frames == 1
    return {
        "id": f"7-{index}",
        "seed": 7,
        "index": index,
        "frames": frames,
        "path": paths[0] if single else paths,
        "label": label,
        "species": species,
        "template_id": "td1_blue",
        "pair_id": pair_id,
        "width": WIDTH,
        "height": HEIGHT,
        "quad": quads[0] if single else quads,
        "ovd_mask": ovd[0] if single else ovd,
        "glare_mask": glare[0] if single else glare,
        "params": {"scene": {"pair": pair_id}, "presentation": {"species": species}, "poses": []},
    }


SIM_VARIANTS = ((0, 0, "genuine", "genuine"), (1, 0, "screen", "phone_oled_pentile"), (2, 1, "print", "laser_am"))


def make_sim_folder(folder: Path, frames: int = 1) -> list[dict[str, Any]]:
    """A simulate-style folder with 3 rows (pair 0: genuine + screen; pair 1: print); returns the rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [sim_row(i, p, label, sp, folder, frames) for i, p, label, sp in SIM_VARIANTS]
    (folder / "simulate.json").write_text(json.dumps({"status": "complete", "n": len(rows)}))
    write_index(folder, rows)
    return rows


def write_index(folder: Path, rows: list[Any]) -> Path:
    """index.jsonl as capture_sim.dataset.simulate writes it: one json.dumps(row) per line."""
    path = folder / "index.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
