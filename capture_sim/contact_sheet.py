"""A labelled grid of simulated captures with 1:1 crops, for a person to judge at a glance.

Each cell shows the whole frame (downscaled, card quad outlined, glare mask in red) next to a native-resolution
crop from the card's centre and one from its OVD region, so moire, halftone and subpixels stay visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

THUMB_H = 320
CROP = 160
_FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
COLOURS = {"genuine": (40, 170, 60), "screen": (220, 120, 20), "print": (60, 110, 230)}


def _crop(rgb: NDArray[np.uint8], centre: NDArray[np.floating], size: int) -> NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    x = int(np.clip(round(centre[0]) - size // 2, 0, max(0, w - size)))
    y = int(np.clip(round(centre[1]) - size // 2, 0, max(0, h - size)))
    crop = np.zeros((size, size, 3), dtype=np.uint8)
    part = rgb[y : y + size, x : x + size]
    crop[: part.shape[0], : part.shape[1]] = part
    return crop


def capture_cell(folder: Path, row: dict[str, Any], frame: int = 0) -> Image.Image:
    """One labelled cell for an index row."""
    path = row["path"] if isinstance(row["path"], str) else row["path"][frame]
    quad = np.array(row["quad"] if row["frames"] == 1 else row["quad"][frame], dtype=np.float64)
    glare_path = row["glare_mask"] if row["frames"] == 1 else row["glare_mask"][frame]
    ovd_path = row["ovd_mask"] if row["frames"] == 1 else row["ovd_mask"][frame]
    bgr = cv2.imread(str(folder / path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(folder / path)
    rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    glare = cv2.imread(str(folder / glare_path), cv2.IMREAD_GRAYSCALE)
    ovd = cv2.imread(str(folder / ovd_path), cv2.IMREAD_GRAYSCALE)
    scale = THUMB_H / rgb.shape[0]
    thumb = cv2.resize(rgb, (round(rgb.shape[1] * scale), THUMB_H), interpolation=cv2.INTER_AREA)
    if glare is not None and glare.any():
        small = cv2.resize(glare, thumb.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
        thumb[small] = (0.5 * thumb[small] + np.array([127, 0, 0])).astype(np.uint8)
    cv2.polylines(thumb, [np.round(quad * scale).astype(np.int32)], True, (255, 255, 0), 1, cv2.LINE_AA)
    centre = quad.mean(axis=0)
    ovd_centre = np.argwhere(ovd > 0).mean(axis=0)[::-1] if ovd is not None and ovd.any() else quad[0]
    crops = np.concatenate([_crop(rgb, centre, CROP), _crop(rgb, ovd_centre, CROP)], axis=0)  # 1:1 pixels
    body = np.concatenate([thumb, np.full((THUMB_H, 4, 3), 255, np.uint8), crops], axis=1)
    font = ImageFont.truetype(str(_FONT), 13)
    cell = Image.new("RGB", (body.shape[1], THUMB_H + 20), (255, 255, 255))
    cell.paste(Image.fromarray(body), (0, 20))
    draw = ImageDraw.Draw(cell)
    caption = f"{row['label']} | {row['species']} | {row['template_id']} | pair {row['pair_id']}"
    draw.text((3, 2), caption, fill=COLOURS.get(row["label"], (0, 0, 0)), font=font)
    return cell


def contact_sheet(folder: Path, rows: list[dict[str, Any]], out: Path, max_rows: int = 8) -> Path:
    """Grid with one line per pair (its genuine / screen / print variants side by side)."""
    by_pair: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_pair.setdefault(row["pair_id"], []).append(row)
    lines = []
    for pair in sorted(by_pair)[:max_rows]:
        cells = [capture_cell(folder, r) for r in sorted(by_pair[pair], key=lambda r: r["index"])]
        lines.append(cells)
    cell_w = max(c.width for line in lines for c in line)
    cell_h = max(c.height for line in lines for c in line)
    cols = max(len(line) for line in lines)
    sheet = Image.new("RGB", (cols * (cell_w + 6), len(lines) * (cell_h + 6)), (235, 235, 235))
    for r, line in enumerate(lines):
        for c, cell in enumerate(line):
            sheet.paste(cell, (c * (cell_w + 6), r * (cell_h + 6)))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
