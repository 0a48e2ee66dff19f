"""Raster primitives of the procedural scene: value noise, in-place affine ramps and colour-plane composition
(linear light, float32), filler text and rounded rectangles.

All fields are built from small arrays of Gaussian draws from an explicit Generator, upsampled with OpenCV (no
per-pixel Python loops). Colour planes are R, G, B, each float32 (height, width). The desk surfaces made of
these live in capture_sim.scene.desk_surfaces, the clutter on them in capture_sim.scene.clutter.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from capture_sim.validation import check_int_range, check_range

F32 = NDArray[np.float32]
Planes = list[F32]  # colour planes R, G, B, each (H, W) float32
Colour = Sequence[float]


@register_op("scene.fbm_noise")
def fbm_noise(
    rng: np.random.Generator,
    height: int,
    width: int,
    scale_px: float | tuple[float, float],
    octaves: int = 3,
    gain: float = 0.5,
    out: F32 | None = None,
) -> F32:
    """Multi-octave value noise, float32 (height, width), zero mean and unit standard deviation on its coarse
    grid.

    scale_px is the feature size (pixels, at least 1.5 is used) of the coarsest octave, or a (along y, along
    x) pair for streaky, anisotropic noise; each further octave halves the feature size (never below 1.5 px)
    and scales the amplitude by `gain`. Octaves are summed on their small grids (bicubic upsampling) and only
    the sum is resized to the frame, so the cost is about one full-frame resize. `out` (float32 (height,
    width)) receives the result when given.
    """
    check_int_range("octaves", octaves, 1, 8)
    check_range("gain", gain, 0.0, 1.0)
    sy, sx = (scale_px, scale_px) if isinstance(scale_px, int | float) else scale_px
    check_range("scale_px", min(sy, sx), 0.01, 1e5)
    acc: F32 | None = None
    for octave in range(octaves):
        cy, cx = max(sy / 2**octave, 1.5), max(sx / 2**octave, 1.5)
        grid_h, grid_w = int(np.ceil(height / cy)) + 2, int(np.ceil(width / cx)) + 2
        draw = rng.standard_normal((grid_h, grid_w), dtype=np.float32) * np.float32(gain**octave)
        acc = draw if acc is None else cv2.resize(acc, (grid_w, grid_h), interpolation=cv2.INTER_CUBIC) + draw
    assert acc is not None
    acc = (acc - acc.mean()) / max(float(acc.std()), 1e-6)
    if out is None:
        return f32(cv2.resize(acc.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC))
    cv2.resize(acc.astype(np.float32), (width, height), dst=out, interpolation=cv2.INTER_CUBIC)
    return out


def f32(x: object) -> F32:
    """The array as float32 (no copy when it already is)."""
    return np.asarray(x, dtype=np.float32)


def ramp(x: F32, low: float, high: float) -> F32:
    """In place: a linear ramp from 0 at `low` to 1 at `high`, clipped (a soft, anti-aliased threshold)."""
    k = 1.0 / (high - low)
    cv2.addWeighted(x, k, x, 0.0, -low * k, dst=x)
    return np.clip(x, 0.0, 1.0, out=x)


def affine(x: F32, gain: float, offset: float) -> F32:
    """In place: x = gain * x + offset."""
    cv2.addWeighted(x, gain, x, 0.0, offset, dst=x)
    return x


def compose(base: Colour, layers: Sequence[tuple[F32, Colour]], light: F32, spare: Sequence[F32] = ()) -> Planes:
    """Colour planes R, G, B (each (H, W) float32): (base + sum(weight * (colour - base))) * light.

    spare: (H, W) float32 arrays the caller no longer needs, reused as output planes instead of allocating."""
    planes = []
    for c in range(3):
        buf = spare[c] if c < len(spare) else np.empty(light.shape, np.float32)
        if layers:
            w0, col0 = layers[0]
            cv2.addWeighted(w0, float(col0[c] - base[c]), w0, 0.0, float(base[c]), dst=buf)
            for weight, col in layers[1:]:
                cv2.scaleAdd(weight, float(col[c] - base[c]), buf, dst=buf)
            cv2.multiply(buf, light, dst=buf)
        else:
            cv2.addWeighted(light, float(base[c]), light, 0.0, 0.0, dst=buf)
        planes.append(buf)
    return planes


_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def random_line(rng: np.random.Generator, n_chars: int, upper: bool = False) -> str:
    """Filler text standing in for print: words of 2-9 random letters separated by spaces, about n_chars
    long."""
    words, length = [], 0
    while length < n_chars:
        word = "".join(rng.choice(_LETTERS, int(rng.integers(2, 10))))
        words.append(word.upper() if upper else word)
        length += len(word) + 1
    return " ".join(words)


def text_mask(
    rows: Sequence[str], row_px: float, font: int, weight: float = 0.09, align_right: Sequence[str] = ()
) -> NDArray[np.uint8]:
    """Rows of text as an anti-aliased uint8 ink mask (255 = ink), cap height ~0.55 row_px; `align_right`
    strings are set flush right on the row of the same index (prices on a receipt)."""
    unit = cv2.getTextSize("H", font, 1.0, 1)[0][1]
    scale = 0.55 * row_px / unit
    thick = max(1, round(weight * row_px))
    widths = [cv2.getTextSize(r, font, scale, thick)[0][0] for r in [*rows, *align_right]]
    width = max([*widths, 1]) + 2
    mask = np.zeros((max(1, int(np.ceil(row_px * len(rows)))), width), np.uint8)
    for i, row in enumerate(rows):
        base_y = round((i + 0.78) * row_px)
        cv2.putText(mask, row, (1, base_y), font, scale, 255, thick, cv2.LINE_AA)
        if i < len(align_right) and align_right[i]:
            w = cv2.getTextSize(align_right[i], font, scale, thick)[0][0]
            cv2.putText(mask, align_right[i], (width - w - 1, base_y), font, scale, 255, thick, cv2.LINE_AA)
    return mask


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> NDArray[np.float64]:
    """Polygon (N, 2) of the rectangle [x0, x1] x [y0, y1] with corners rounded to radius r."""
    t = np.linspace(0, np.pi / 2, 6)
    arc = np.stack([np.cos(t), np.sin(t)], 1) * r
    corners = [
        arc + np.array([x1 - r, y1 - r]),
        arc[:, ::-1] * np.array([-1, 1]) + np.array([x0 + r, y1 - r]),
        -arc + np.array([x0 + r, y0 + r]),
        arc[:, ::-1] * np.array([1, -1]) + np.array([x1 - r, y0 + r]),
    ]
    return np.concatenate(corners)
