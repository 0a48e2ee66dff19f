"""Hard-case variants for golden vectors: deterministic post-hoc image operations on a rendered frame and its quad.

The simulator already varies pose, light, blur and noise per scene; these operations push a frame to the extremes
that break ported code, and each is a pure function of (frame, quad, rng) so a vector re-renders from (seed, id):

- ``base``: the simulator's JPEG as rendered (no re-encoding).
- ``dark``: underexposed by ~2.5 stops in linear light (sRGB gamma 2.2 approximation) plus Gaussian read noise
  (sigma 2 levels): low-signal inputs where int8 activations collapse first.
- ``glare``: one saturating specular blob (Gaussian, peak 1.6 x full scale, sigma 15 % of the card width) centred at a
  random point of the card: clipped highlights over texture, the classic fp16 / int8 range stress.
- ``blur``: Gaussian defocus, sigma 3 px: the moire / halftone evidence the recapture model relies on is gone.
- ``oblique``: a perspective warp of the whole frame that shortens one side of the card to ~65 % (about 50 degrees of
  tilt), quad mapped with it: strongly non-affine homographies in the patch recipe and the global-view warp.
- ``edge``: the frame shifted so the card's left edge leaves the frame by 15 % of the card width (black fill): patch
  windows are clamped and the global view samples outside the frame (border value 0).
- ``exif_rot90``: the pixels are stored rotated 90 degrees clockwise with EXIF Orientation = 8 ("rotate 270 CW to
  view"), so a decoder that applies EXIF recovers the upright frame and one that ignores it does not.

Every variant except ``base`` is re-encoded as JPEG quality 92 (4:2:0, PIL/libjpeg-turbo), and golden inputs are
always computed from decoding the stored bytes, so a stored frame reproduces its vector exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from cardlive.errors import ParameterError

Frame = NDArray[np.uint8]
Quad = NDArray[np.float64]
VariantOp = Callable[[Frame, Quad, np.random.Generator], tuple[Frame, Quad]]
JPEG_QUALITY = 92
EXIF_ORIENTATION_TAG = 0x0112


def _card_width(quad: Quad) -> float:
    return 0.5 * float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3]))


def dark(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    linear = (frame.astype(np.float64) / 255.0) ** 2.2 * 0.18
    out = 255.0 * linear ** (1.0 / 2.2) + rng.normal(0.0, 2.0, size=frame.shape)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8), quad


def glare(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    weights = rng.dirichlet(np.ones(4))
    cx, cy = weights @ quad
    sigma = 0.15 * _card_width(quad)
    ys, xs = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
    blob = 1.6 * 255.0 * np.exp(-((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / (2.0 * sigma**2))
    out = frame.astype(np.float64) + blob[..., None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8), quad


def blur(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), sigmaX=3.0, sigmaY=3.0), dtype=np.uint8), quad


def _warp(frame: Frame, quad: Quad, matrix: NDArray[np.float64]) -> tuple[Frame, Quad]:
    """Warp frame by `matrix` (continuous corner-origin coordinates) and map the quad the same way."""
    s = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])  # opencv -> continuous
    cv_matrix = np.linalg.inv(s) @ matrix @ s
    h, w = frame.shape[:2]
    out = cv2.warpPerspective(frame, cv_matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    pts = np.hstack([quad, np.ones((4, 1))]) @ matrix.T
    return np.asarray(out, dtype=np.uint8), pts[:, :2] / pts[:, 2:3]


def oblique(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    centre = quad.mean(axis=0)
    half = 0.5 * _card_width(quad)
    side = 1.0 if rng.random() < 0.5 else -1.0
    # x' = x / (1 + k x) about the card centre: the side at +half shrinks to 1 / (1 + k half) ~ 0.65 of the other
    k = side * 0.54 / (2.0 * half)
    t = np.array([[1.0, 0.0, -centre[0]], [0.0, 1.0, -centre[1]], [0.0, 0.0, 1.0]])
    p = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [k, 0.0, 1.0 + abs(k) * half]])
    return _warp(frame, quad, np.linalg.inv(t) @ p @ t)


def edge(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    shift = -(float(quad[:, 0].min()) + 0.15 * _card_width(quad))
    return _warp(frame, quad, np.array([[1.0, 0.0, shift], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def identity(frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    return frame, quad


VARIANTS: dict[str, VariantOp] = {
    "base": identity,
    "dark": dark,
    "glare": glare,
    "blur": blur,
    "oblique": oblique,
    "edge": edge,
    "exif_rot90": identity,  # pixels unchanged; only the stored encoding differs (see encode_frame)
}
HARD_CASE_TAGS = {
    "base": [],
    "dark": ["dark"],
    "glare": ["heavy_glare"],
    "blur": ["blurred"],
    "oblique": ["oblique"],
    "edge": ["clamped_patches"],
    "exif_rot90": ["exif_orientation"],
}


def check_variants(names: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        raise ParameterError(f"unknown golden variants {unknown}; expected some of {sorted(VARIANTS)}")


def apply_variant(name: str, frame: Frame, quad: Quad, rng: np.random.Generator) -> tuple[Frame, Quad]:
    """The variant's (frame, quad); ParameterError for an unknown name."""
    check_variants((name,))
    return VARIANTS[name](frame, quad, rng)


def encode_frame(name: str, frame: Frame) -> bytes:
    """JPEG bytes of a variant frame (quality 92); exif_rot90 stores rotated pixels with EXIF Orientation 8."""
    img = Image.fromarray(frame, "RGB")
    buf = io.BytesIO()
    if name == "exif_rot90":
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = 8
        img.transpose(Image.Transpose.ROTATE_270).save(buf, "JPEG", quality=JPEG_QUALITY, exif=exif.tobytes())
    else:
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def decode_ignoring_exif(data: bytes) -> Frame:
    """The stored pixels as a decoder that ignores EXIF orientation sees them (for the preprocessing experiment)."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
