"""Printed text on the card: the DejaVu TrueType fonts matplotlib ships, rasterised by PIL into coverage
images.

Sizes are given as cap heights in millimetres (DejaVu capitals are 0.729 em tall); positions are baselines in
card millimetres. Microprint (0.2-0.3 mm cap height) is rasterised 4x supersampled and area-averaged down.
"""

from __future__ import annotations

import functools
import os

import cv2
import matplotlib
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from capture_sim.ops import register_op
from capture_sim.validation import check_choice, check_range

FloatArray = NDArray[np.float32]
CAP_HEIGHT_EM = 0.729  # DejaVu Sans / Serif / Mono capital height per em
FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans_bold": "DejaVuSans-Bold.ttf",
    "sans_oblique": "DejaVuSans-Oblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif_bold": "DejaVuSerif-Bold.ttf",
    "serif_italic": "DejaVuSerif-Italic.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono_bold": "DejaVuSansMono-Bold.ttf",
}
_SUPERSAMPLE = 4


@functools.lru_cache(maxsize=256)
def font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    """A cached PIL font of one of FONT_FILES at an em size in pixels."""
    check_choice("font", name, FONT_FILES)
    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", FONT_FILES[name])
    return ImageFont.truetype(path, max(1, int(size_px)))


def font_for_cap(name: str, cap_mm: float, px_per_mm: float) -> ImageFont.FreeTypeFont:
    """The font whose capitals are cap_mm tall at px_per_mm."""
    return font(name, round(cap_mm * px_per_mm / CAP_HEIGHT_EM))


def draw_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    x_mm: float,
    baseline_mm: float,
    cap_mm: float,
    font_name: str,
    px_per_mm: float,
    max_width_mm: float | None = None,
    align: str = "left",
) -> tuple[int, int, int, int]:
    """Draw text (coverage 255) with its baseline at baseline_mm; shrink it to fit max_width_mm if given.

    Returns the pixel bounding box (x0, y0, x1, y1) of the drawn text.
    """
    fnt = font_for_cap(font_name, cap_mm, px_per_mm)
    if max_width_mm is not None:
        width_px = fnt.getlength(text)
        limit = max_width_mm * px_per_mm
        if width_px > limit:
            fnt = font(font_name, max(4, int(fnt.size * limit / width_px)))
    anchor = {"left": "ls", "right": "rs", "center": "ms"}[align]
    xy = (x_mm * px_per_mm, baseline_mm * px_per_mm)
    draw.text(xy, text, fill=255, font=fnt, anchor=anchor)
    box = draw.textbbox(xy, text, font=fnt, anchor=anchor)
    return (int(box[0]), int(box[1]), int(np.ceil(box[2])), int(np.ceil(box[3])))


def draw_monospaced(
    draw: ImageDraw.ImageDraw,
    line: str,
    x_mm: float,
    baseline_mm: float,
    cap_mm: float,
    pitch_mm: float,
    px_per_mm: float,
    font_name: str = "mono",
) -> tuple[int, int, int, int]:
    """Draw characters on a fixed pitch (e.g. the MRZ's 2.54 mm = 10 characters per inch).
    Returns the pixel bbox."""
    fnt = font_for_cap(font_name, cap_mm, px_per_mm)
    y = baseline_mm * px_per_mm
    for i, ch in enumerate(line):
        draw.text(((x_mm + (i + 0.5) * pitch_mm) * px_per_mm, y), ch, fill=255, font=fnt, anchor="ms")
    x0 = x_mm * px_per_mm
    return (
        int(x0),
        int(y - cap_mm * px_per_mm) - 1,
        int(np.ceil(x0 + len(line) * pitch_mm * px_per_mm)),
        int(y) + 2,
    )


@register_op("cards.microprint")
def microprint_strip(text: str, length_px: int, cap_px: float, font_name: str = "sans_bold") -> FloatArray:
    """Coverage (h x length_px float32 in [0, 1]) of `text` repeated along a straight line at cap height
    cap_px.

    The strip is rasterised at 4x and area-averaged, so sub-pixel letters become the grey line a camera sees.
    """
    check_range("microprint.length_px", length_px, 1, 100000)
    check_range("microprint.cap_px", cap_px, 0.5, 200.0)
    if not text:
        raise ValueError("microprint text must not be empty")
    ss = _SUPERSAMPLE
    fnt = font(font_name, max(2, round(cap_px * ss / CAP_HEIGHT_EM)))
    unit = text + " "
    unit_len = max(1.0, fnt.getlength(unit))
    repeated = unit * (int(length_px * ss / unit_len) + 2)
    height = int(np.ceil(cap_px * 1.6)) + 1
    img = Image.new("L", (length_px * ss, height * ss), 0)
    ImageDraw.Draw(img).text((0, (height - 0.3 * cap_px) * ss), repeated, fill=255, font=fnt, anchor="ls")
    big = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    small = cv2.resize(big, (length_px, height), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0.0, 1.0).astype(np.float32)


def signature_curve(rng: np.random.Generator, width_mm: float, height_mm: float) -> NDArray[np.float64]:
    """A handwriting-like signature stroke (N x 2, mm, origin at its box's left baseline): a sum of loops
    advancing to the right, drawn from rng."""
    n_letters = int(rng.integers(5, 10))
    t = np.linspace(0.0, n_letters * 2.0 * np.pi, n_letters * 40)
    freq = rng.uniform(0.8, 1.3, size=2)
    amp = rng.uniform(0.25, 0.5) * height_mm
    x = t / t[-1] * width_mm * 0.9 - amp * 0.4 * np.sin(freq[0] * t + rng.uniform(0, 6.3))
    y = -0.5 * height_mm - amp * np.cos(freq[1] * t) * (0.6 + 0.4 * np.sin(0.37 * t + rng.uniform(0, 6.3)))
    y += np.linspace(0.0, rng.uniform(-0.2, 0.2) * height_mm, t.size)
    return np.stack([x, y], axis=1)
