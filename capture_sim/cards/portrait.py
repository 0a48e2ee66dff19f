"""Holder portraits: a bundled photograph (scikit-image's `astronaut`, the one bundled image of a person
facing the camera) cropped and colour-varied per identity, or a procedural head-and-shoulders figure with
ellipsoid shading.

Portraits are linear-light reflectance images (HxWx3 float32 in [0, 1]) at the printed size; the card renderer
prints them (colour dye transfer, or greyscale laser engraving) and derives the ghost image from them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.color import srgb_to_linear
from capture_sim.ops import register_op
from capture_sim.validation import check_choice, check_range

FloatArray = NDArray[np.float32]
RGB = tuple[float, float, float]

_SKIN = ((0.93, 0.78, 0.66), (0.87, 0.68, 0.55), (0.78, 0.58, 0.44), (0.66, 0.47, 0.34), (0.52, 0.36, 0.26),
         (0.40, 0.27, 0.20), (0.95, 0.82, 0.72), (0.72, 0.55, 0.40))  # fmt: skip
_HAIR = ((0.10, 0.08, 0.07), (0.25, 0.16, 0.10), (0.45, 0.30, 0.17), (0.70, 0.55, 0.35), (0.55, 0.53, 0.52),
         (0.85, 0.84, 0.82), (0.40, 0.18, 0.10))  # fmt: skip
_CLOTH = ((0.15, 0.17, 0.22), (0.30, 0.30, 0.32), (0.85, 0.85, 0.85), (0.20, 0.30, 0.45), (0.45, 0.15, 0.15),
          (0.25, 0.35, 0.25), (0.55, 0.50, 0.42))  # fmt: skip
_BACKDROP = ((0.86, 0.88, 0.90), (0.80, 0.84, 0.90), (0.90, 0.90, 0.88), (0.75, 0.78, 0.80),
             (0.93, 0.93, 0.93), (0.70, 0.76, 0.84))  # fmt: skip
_WORK_WIDTH = 150  # procedural figures are drawn at >= this width (or half size), then resampled


@dataclass(frozen=True)
class PortraitParams:
    """How one holder looks. Colours are sRGB-encoded floats in [0, 1]; lengths are fractions of the
    portrait width."""

    source: str  # "astronaut" or "procedural"
    mirror: bool
    crop_shift: tuple[float, float]  # photo crop offset, fraction of the crop size, each in [-0.1, 0.1]
    zoom: float  # photo crop zoom in [0.85, 1.15]
    gains: RGB  # photo white-balance gains in [0.8, 1.25]
    saturation: float  # [0.5, 1.3]
    skin: RGB
    hair: RGB
    cloth: RGB
    backdrop: RGB
    head_size: tuple[float, float]  # half width / half height of the head in [0.2, 0.45]
    hair_style: str  # "short", "long", "bald"
    glasses: bool
    beard: bool
    light_x: float  # horizontal light direction in [-1, 1]

    def __post_init__(self) -> None:
        check_choice("portrait.source", self.source, ("astronaut", "procedural"))
        check_choice("portrait.hair_style", self.hair_style, ("short", "long", "bald"))
        check_range("portrait.zoom", self.zoom, 0.85, 1.15)
        check_range("portrait.saturation", self.saturation, 0.5, 1.3)
        check_range("portrait.light_x", self.light_x, -1.0, 1.0)
        for g in self.gains:
            check_range("portrait.gains", g, 0.8, 1.25)
        for s in self.crop_shift:
            check_range("portrait.crop_shift", s, -0.1, 0.1)
        for r in self.head_size:
            check_range("portrait.head_size", r, 0.2, 0.45)


def sample_portrait_params(rng: np.random.Generator, sex: str) -> PortraitParams:
    """Draw the look of a holder of sex 'F' or 'M': for 'F' about a third are the bundled photograph
    (a woman), the rest procedural figures (long or short hair; beards and baldness only for 'M')."""
    check_choice("portrait.sex", sex, ("F", "M"))

    def pick(options: tuple[RGB, ...], jitter: float = 0.06) -> RGB:
        base = np.asarray(options[int(rng.integers(len(options)))])
        scale = rng.uniform(1.0 - jitter, 1.0 + jitter) * rng.uniform(1.0 - jitter / 3, 1.0 + jitter / 3, 3)
        return tuple(float(c) for c in np.clip(base * scale, 0.0, 1.0))  # type: ignore[return-value]

    u = rng.random()
    if sex == "F":
        source = "astronaut" if u < 0.35 else "procedural"
        hair_style = "long" if rng.random() < 0.65 else "short"
    else:
        source = "procedural"
        hair_style = "bald" if rng.random() < 0.12 else "short"
    return PortraitParams(
        source=source,
        mirror=bool(rng.random() < 0.5),
        crop_shift=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.05, 0.05))),
        zoom=float(rng.uniform(0.9, 1.1)),
        gains=tuple(float(g) for g in rng.uniform(0.88, 1.12, 3)),  # type: ignore[arg-type]
        saturation=float(rng.uniform(0.6, 1.15)),
        skin=pick(_SKIN),
        hair=pick(_HAIR),
        cloth=pick(_CLOTH),
        backdrop=pick(_BACKDROP, 0.03),
        head_size=(float(rng.uniform(0.25, 0.3)), float(rng.uniform(0.33, 0.38))),
        hair_style=hair_style,
        glasses=bool(rng.random() < 0.2),
        beard=bool(sex == "M" and rng.random() < 0.3),
        light_x=float(rng.uniform(-0.7, 0.7)),
    )


@functools.lru_cache(maxsize=1)
def _astronaut_linear() -> FloatArray:
    from skimage import data

    img = srgb_to_linear(np.ascontiguousarray(data.astronaut()))
    img.flags.writeable = False
    return img


def _photo(params: PortraitParams, height: int, width: int) -> FloatArray:
    src = _astronaut_linear()
    crop_h = 235.0 / params.zoom
    crop_w = crop_h * width / height
    cx = 225.0 + params.crop_shift[0] * crop_w
    y0 = 2.0 + (params.crop_shift[1] + 0.05) * crop_h
    y0 = float(np.clip(y0, 0.0, src.shape[0] - crop_h))
    x0 = float(np.clip(cx - crop_w / 2, 0.0, src.shape[1] - crop_w))
    m = np.array([[crop_w / width, 0.0, x0], [0.0, crop_h / height, y0]], np.float64)
    out = cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
    grey = out @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    out = grey[..., None] + params.saturation * (out - grey[..., None])
    out = out * np.asarray(params.gains, np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _ellipse(x: FloatArray, y: FloatArray, cx: float, cy: float, rx: float, ry: float, px: float) -> FloatArray:
    """Anti-aliased coverage of an ellipse (approximate signed distance, px = pixels per unit)."""
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return np.clip(0.5 - (r - 1.0) * min(rx, ry) * px, 0.0, 1.0).astype(np.float32)


def _over(img: FloatArray, alpha: FloatArray, colour: FloatArray | NDArray[np.float32]) -> FloatArray:
    a = alpha[..., None]
    return (img * (1.0 - a) + colour * a).astype(np.float32)


def _procedural(params: PortraitParams, height: int, width: int) -> FloatArray:
    px = float(width)  # pixels per unit (unit = portrait width)
    x = ((np.arange(width, dtype=np.float32) + 0.5) / px)[None, :]
    y = ((np.arange(height, dtype=np.float32) + 0.5) / px)[:, None]
    x = np.broadcast_to(x, (height, width))
    y = np.broadcast_to(y, (height, width))
    lin = {k: srgb_to_linear(np.asarray(getattr(params, k), np.float32)) for k in ("skin", "hair", "cloth", "backdrop")}
    rx, ry = params.head_size
    cx, cy = 0.5, 0.1 + ry + 0.06
    img = np.broadcast_to(lin["backdrop"] * (1.05 - 0.15 * y[..., None]), (height, width, 3)).astype(np.float32)
    if params.hair_style == "long":
        img = _over(img, _ellipse(x, y, cx, cy + 0.12, rx * 1.35, ry * 1.3, px) * (y < cy + 0.55), lin["hair"] * 0.8)
    torso = _ellipse(x, y, cx, cy + ry + 0.62, 0.62, 0.58, px)
    img = _over(img, torso, lin["cloth"] * (1.0 - 0.25 * np.abs(x - cx)[..., None]))
    collar = np.clip(0.5 - (np.abs(x - cx) * 2.2 - (y - cy - ry - 0.02)) * px * 0.5, 0.0, 1.0) * torso
    img = _over(img, collar.astype(np.float32), lin["skin"] * 0.62)
    neck = np.clip(0.5 - (np.abs(x - cx) - rx * 0.52) * px, 0.0, 1.0) * (y > cy) * (y < cy + ry + 0.16)
    img = _over(img, neck.astype(np.float32), lin["skin"] * (0.55 + 0.2 * np.clip((y - cy - ry) * 5, 0, 1))[..., None])
    for side in (-1.0, 1.0):
        img = _over(img, _ellipse(x, y, cx + side * rx * 0.97, cy + 0.02, 0.05, 0.085, px), lin["skin"] * 0.75)
    # head: an egg-shaped ellipsoid, Lambertian shading from a frontal light moved sideways by light_x
    taper = 1.0 - 0.2 * np.clip((y - cy) / ry, 0.0, 1.0)
    u, v = (x - cx) / (rx * taper), (y - cy) / ry
    q = u * u + v * v
    head = np.clip(0.5 - (np.sqrt(q) - 1.0) * rx * px, 0.0, 1.0).astype(np.float32)
    nz = np.sqrt(np.clip(1.0 - q, 0.0, 1.0))
    light = np.array([params.light_x, -0.35, 1.0], np.float32)
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.7 * np.clip(u * light[0] + v * light[1] + nz * light[2], 0.0, 1.0)
    img = _over(img, head, lin["skin"] * shade[..., None].astype(np.float32))
    if params.beard:
        beard = (
            head
            * np.clip((v - 0.35) * 6.0, 0.0, 1.0)
            * (1.0 - _ellipse(x, y, cx, cy + 0.19 * ry / 0.36, 0.05, 0.03, px))
        )
        img = _over(img, (beard * 0.85).astype(np.float32), lin["hair"] * 0.7)
    if params.hair_style != "bald":
        part = (x - cx) / rx - 0.35 * np.sign(params.light_x + 1e-3)
        hairline = cy - ry * (0.62 - 0.3 * np.clip(part * part, 0.0, 1.0))
        above = np.maximum(np.clip((hairline - y) * px, 0.0, 1.0), (1.0 - head) * np.clip((cy - y) * px, 0.0, 1.0))
        cap = _ellipse(x, y, cx, cy - 0.03, rx * 1.1, ry * 1.06, px) * above
        if params.hair_style == "long":
            cap = np.maximum(cap, _ellipse(x, y, cx, cy + 0.1, rx * 1.12, ry * 1.2, px) * (1.0 - head))
        img = _over(img, cap.astype(np.float32), lin["hair"] * (0.7 + 0.3 * shade[..., None]).astype(np.float32))
    ey, es = cy - 0.06 * ry / 0.36, 0.105 * rx / 0.27
    for side in (-1.0, 1.0):
        ex = cx + side * es
        img = _over(img, _ellipse(x, y, ex, ey, 0.042, 0.017, px), np.array([0.75, 0.73, 0.7], np.float32))
        img = _over(img, _ellipse(x, y, ex, ey, 0.016, 0.016, px), lin["hair"] * 0.5 + 0.03)
        img = _over(img, _ellipse(x, y, ex, ey, 0.007, 0.007, px), np.zeros(3, np.float32))
        brow = _ellipse(x, y, ex, ey - 0.035, 0.05, 0.009, px)
        img = _over(img, brow * 0.85, lin["hair"] * 0.6)
        if params.glasses:
            ring = _ellipse(x, y, ex, ey, 0.072, 0.047, px) - _ellipse(x, y, ex, ey, 0.067, 0.042, px)
            img = _over(img, np.clip(ring, 0, 1).astype(np.float32), np.full(3, 0.03, np.float32))
    nose = np.exp(-(((x - cx - 0.012 * np.sign(params.light_x)) / 0.012) ** 2)) * (y > ey) * (y < cy + 0.1)
    img = (img * (1.0 - 0.25 * nose[..., None])).astype(np.float32)
    for side in (-1.0, 1.0):
        img = _over(img, _ellipse(x, y, cx + side * 0.022, cy + 0.11, 0.012, 0.007, px) * 0.6, lin["skin"] * 0.25)
    my = cy + 0.19 * ry / 0.36
    img = _over(img, _ellipse(x, y, cx, my, 0.062, 0.017, px), lin["skin"] * np.array([0.75, 0.45, 0.45], np.float32))
    img = _over(img, _ellipse(x, y, cx, my, 0.058, 0.003, px), lin["skin"] * 0.3)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


@register_op("cards.portrait")
def render_portrait(params: PortraitParams, height: int, width: int) -> FloatArray:
    """The holder's portrait as linear-light reflectance (height x width x 3 float32 in [0, 1])."""
    check_range("portrait.height", height, 8, 4000)
    check_range("portrait.width", width, 8, 4000)
    if params.source == "astronaut":
        img = _photo(params, height, width)
    else:
        work_w = min(width, max(_WORK_WIDTH, width // 2))
        work_h = max(8, round(height * work_w / width))
        img = _procedural(params, work_h, work_w)
        if work_w != width:
            img = np.asarray(cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC), np.float32)
        img = np.clip(np.asarray(cv2.GaussianBlur(img, (0, 0), 0.6 * width / work_w), np.float32), 0.0, 1.0)
    if params.mirror:
        img = img[:, ::-1]
    return np.ascontiguousarray(img)


@register_op("cards.ghost_portrait")
def ghost_portrait(portrait_linear: FloatArray, height: int, width: int, density: float) -> FloatArray:
    """Ink coverage (height x width float32 in [0, density]) of a monochrome ghost image printed from a
    portrait: its lightness inverted (dark face -> more ink), scaled to `density`, feathered at the edges."""
    check_range("ghost.density", density, 0.0, 1.0)
    check_range("ghost.height", height, 4, 4000)
    check_range("ghost.width", width, 4, 4000)
    lum = portrait_linear @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    small = cv2.resize(lum.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    lightness = np.power(np.clip(small, 0.0, 1.0), 1.0 / 2.4)  # roughly perceptual, so the ink tracks the print
    ink = 1.0 - lightness
    ink = (ink - ink.min()) / max(1e-6, float(ink.max() - ink.min()))
    fy = np.minimum(np.arange(height) + 0.5, height - np.arange(height) - 0.5) / (0.12 * height)
    fx = np.minimum(np.arange(width) + 0.5, width - np.arange(width) - 0.5) / (0.12 * width)
    feather = np.clip(fy, 0, 1)[:, None] * np.clip(fx, 0, 1)[None, :]
    return (density * ink * feather).astype(np.float32)
