"""Desk backgrounds: a procedural surface (wood, cloth, a pile of paper, stone, laminate, a laptop keyboard;
capture_sim.scene.desk_surfaces) with everyday clutter lying on it, each object casting a soft contact shadow
(capture_sim.scene.clutter), all under the smooth falloff of a desk lamp.

Output is linear light, float32 (height, width, 3): albedo (0..1) times the lamp's relative illumination (max
1 in the frame). Lengths in BackgroundParams are pixels of a frame whose short side is 720 px; they scale with
the frame, so a 1080p render shows the same desk as a 720p one. The desk's scale (pixels per millimetre, for
the clutter) is drawn from the seed: the frame's short side spans 85-130 mm of desk, as when a phone frames an
ID card.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.ops import register_op
from capture_sim.rng import child_rng, make_rng
from capture_sim.scene import desk_surfaces
from capture_sim.scene.clutter import add_clutter
from capture_sim.scene.textures import f32
from capture_sim.validation import check_choice, check_int_range, check_range

F32 = NDArray[np.float32]

BACKGROUND_KINDS = ("wood", "fabric", "paper_stack", "stone", "plain_desk", "keyboard")
SEED_MAX = 2**63 - 1
REFERENCE_SHORT_SIDE_PX = 720


@dataclass(frozen=True)
class BackgroundParams:
    """A desk: surface kind, its linear albedo (each channel 0.02-0.9), texture feature size (4-200 px at a
    720 px short side), texture contrast (0-0.6), number of clutter objects (0-6), lamp falloff (0-0.5: the
    darkest point of the frame receives that fraction less light than the brightest) and the seed of texture
    and clutter shapes."""

    kind: str
    base_color: tuple[float, float, float]
    texture_scale_px: float
    texture_contrast: float
    clutter_count: int
    vignette: float
    seed: int

    def __post_init__(self) -> None:
        check_choice("background.kind", self.kind, BACKGROUND_KINDS)
        if len(self.base_color) != 3:
            check_choice("len(background.base_color)", len(self.base_color), [3])
        for channel, value in zip("rgb", self.base_color, strict=True):
            check_range(f"background.base_color.{channel}", value, 0.02, 0.9)
        check_range("background.texture_scale_px", self.texture_scale_px, 4.0, 200.0)
        check_range("background.texture_contrast", self.texture_contrast, 0.0, 0.6)
        check_int_range("background.clutter_count", self.clutter_count, 0, 6)
        check_range("background.vignette", self.vignette, 0.0, 0.5)
        check_int_range("background.seed", self.seed, 0, SEED_MAX)


# Per kind: linear-albedo palette (jittered when sampled), texture feature size (px at 720 p), contrast.
# fmt: off
_PALETTES = {
    "wood": [(0.4, 0.24, 0.11), (0.27, 0.13, 0.05), (0.12, 0.06, 0.03), (0.5, 0.36, 0.2), (0.2, 0.08, 0.04)],
    "fabric": [(0.05, 0.08, 0.16), (0.45, 0.4, 0.3), (0.14, 0.14, 0.14), (0.3, 0.05, 0.05), (0.1, 0.2, 0.12)],
    "paper_stack": [(0.8, 0.8, 0.78), (0.76, 0.74, 0.66), (0.84, 0.85, 0.86)],
    "stone": [(0.3, 0.29, 0.27), (0.05, 0.05, 0.05), (0.62, 0.6, 0.56), (0.42, 0.33, 0.24), (0.2, 0.16, 0.2)],
    "plain_desk": [(0.7, 0.7, 0.7), (0.25, 0.25, 0.25), (0.04, 0.04, 0.04), (0.45, 0.36, 0.24)],
    "keyboard": [(0.035, 0.035, 0.04), (0.06, 0.06, 0.065), (0.45, 0.45, 0.46), (0.3, 0.3, 0.31)],
}
_SCALES = {"wood": (8, 40), "fabric": (4, 9), "paper_stack": (15, 50), "stone": (4, 12),
           "plain_desk": (60, 200), "keyboard": (70, 150)}
_CONTRASTS = {"wood": (0.25, 0.6), "fabric": (0.25, 0.6), "paper_stack": (0.2, 0.5), "stone": (0.25, 0.6),
              "plain_desk": (0.05, 0.4), "keyboard": (0.1, 0.5)}
# fmt: on


def sample_background_params(rng: np.random.Generator) -> BackgroundParams:
    """Draw a desk: kind uniformly, a jittered palette colour, texture size and contrast for that kind, 0-6
    clutter objects (fewer more often) and a lamp falloff of 0-0.45."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    palette = _PALETTES[kind]
    tint = rng.uniform(0.98, 1.02, 3) if kind == "paper_stack" else rng.uniform(0.94, 1.06, 3)
    colour = np.array(palette[int(rng.integers(len(palette)))]) * rng.uniform(0.85, 1.15) * tint
    base = tuple(float(c) for c in np.clip(colour, 0.02, 0.9))
    return BackgroundParams(
        kind=kind,
        base_color=(base[0], base[1], base[2]),
        texture_scale_px=float(rng.uniform(*_SCALES[kind])),
        texture_contrast=float(rng.uniform(*_CONTRASTS[kind])),
        clutter_count=int(rng.choice(7, p=[0.2, 0.22, 0.2, 0.15, 0.1, 0.08, 0.05])),
        vignette=float(rng.uniform(0.0, 0.45)),
        seed=int(rng.integers(0, SEED_MAX)),
    )


def lamp_falloff(rng: np.random.Generator, width: int, height: int, vignette: float) -> F32:
    """Relative irradiance of a desk lamp over the frame, float32 (height, width) with max 1 and min 1 -
    vignette.

    A point lamp at height z over a foot point on the desk gives E ~ cos^3 / d^2 = (1 + r^2 / z^2)^-1.5; the
    foot is drawn near the frame and z is solved (bisection) for the requested falloff.
    """
    foot = np.array([width, height]) * (0.5 + rng.uniform(-0.9, 0.9, 2))
    if vignette <= 0.0:
        return np.ones((height, width), np.float32)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
    r_far = float(np.max(np.hypot(*(corners - foot).T)))
    r_near = float(np.hypot(foot[0] - np.clip(foot[0], 0, width), foot[1] - np.clip(foot[1], 0, height)))
    lo, hi = 1e-3 * r_far, 1e3 * r_far
    for _ in range(60):  # the falloff ratio grows as the lamp is lowered
        z = np.sqrt(lo * hi)
        ratio = ((1 + (r_near / z) ** 2) / (1 + (r_far / z) ** 2)) ** 1.5
        lo, hi = (z, hi) if ratio < 1 - vignette else (lo, z)
    small_w, small_h = max(2, width // 8), max(2, height // 8)
    xs = (np.arange(small_w) + 0.5) * (width / small_w) - foot[0]
    ys = (np.arange(small_h) + 0.5) * (height / small_h) - foot[1]
    irradiance = (1 + (xs[None, :] ** 2 + ys[:, None] ** 2) / z**2) ** -1.5
    irradiance /= (1 + (r_near / z) ** 2) ** -1.5
    small = np.clip(irradiance, 1 - vignette, 1.0).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


_TEXTURES = {
    "wood": desk_surfaces.wood,
    "fabric": desk_surfaces.fabric,
    "stone": desk_surfaces.stone,
    "plain_desk": desk_surfaces.plain_desk,
    "keyboard": desk_surfaces.keyboard,
}


@register_op("scene.background")
def render_background(params: BackgroundParams, width: int, height: int) -> F32:
    """The desk as linear light: albedo texture + clutter with contact shadows, times the lamp falloff.

    float32 (height, width, 3) in [0, 0.9]; deterministic in (params, width, height).
    """
    check_int_range("width", width, 16, 8192)
    check_int_range("height", height, 16, 8192)
    rng = make_rng(params.seed, 0, "scene.background")
    texture_rng, clutter_rng, light_rng = (child_rng(rng, s) for s in ("texture", "clutter", "light"))
    short = min(width, height)
    scale = params.texture_scale_px * short / REFERENCE_SHORT_SIDE_PX
    mm_px = short / float(clutter_rng.uniform(85.0, 130.0))
    base, contrast = params.base_color, params.texture_contrast
    illum = lamp_falloff(light_rng, width, height, params.vignette)
    if params.kind == "paper_stack":
        planes = desk_surfaces.paper_sheets(texture_rng, base, scale, contrast, illum, mm_px)
    else:
        planes = _TEXTURES[params.kind](texture_rng, base, scale, contrast, illum)
    add_clutter(planes, illum, clutter_rng, params.clutter_count, mm_px)
    out = f32(cv2.merge(planes))
    return np.clip(out, 0.0, 0.9, out=out)


@lru_cache(maxsize=2)
def shared_background(params: BackgroundParams, width: int, height: int) -> F32:
    """render_background, cached: the variants and frames of a pair share their desk. Read-only."""
    out = render_background(params, width, height)
    out.flags.writeable = False
    return out
