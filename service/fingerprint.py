"""Batch-fraud evidence per session: an attack-instrument fingerprint and a perceptual hash of the portrait.

Instrument fingerprint (screens and printers leave a periodic signature: subpixel grids and their moire, halftone
screens at fixed angles): from the native-resolution texture patches of the preprocessing contract (integer crops,
no resampling, so the high frequencies survive), each patch's windowed power spectrum is mapped from frame
frequencies (cycles/px) to CARD frequencies (cycles per card mm) through the local Jacobian of the card->frame
homography, f_card = J^T f_px, which removes the capture distance and the card's rotation, and accumulated on a
polar grid (radius in cycles/mm, orientation relative to the card's x axis folded to [0, 180) degrees). Content
frequencies below MIN_RADIUS_PX are left out (they carry the card artwork, not the instrument). The vector is
log power per cell, centred and unit-normalised (cosine similarity compares two sessions); `strength` is how far
the strongest cell stands above the median cell (periodic grids give sharp peaks).

Portrait signature: the portrait box of the card template layout (capture_sim.cards.layout: 22 x 28 mm, left or
right at 3.5 mm from the edge, rows 11.5-37.6 mm cover both template heights) is warped out of the frame for both
sides; the side that looks like a photograph (less high-frequency energy than text fields) is kept: grey 64 x 80
crop, minus its Gaussian blur (sigma 12 px: removes lighting gradients and glare slopes), area-resized to 24 x 24,
zero mean, unit norm, quantised to int8 (x 127): a 576-byte perceptual signature; two sessions compare by cosine.

Tuned on a development set (3 farms x 20 sessions among 200 genuine users, simulator seed 0; `cardlive bench
clusters` uses seed 1 by default, so its numbers are held out): 16 / 24 / 32 cells, blur 12 / 16 px, sign-bit
hashes against cosine, and link thresholds were tried; the 24-cell cosine signature with links at cosine >= 0.95
and the 2-core rule of service/clusters.py gave purity 1.0 / recall 0.85 there, where the best sign-bit hash gave
0.80 / 0.78. About 15 % of farm sessions (glare over the portrait, heavy blur or moire) link to nothing.
The instrument fingerprint as built does NOT separate instruments on the earlier development set (within-farm
cosine no higher than across farms), so cluster links from it are off by default
(ClusterSettings.instrument_cosine = None); `cardlive bench clusters` reports both signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.preprocess import InputSpec, card_homography, extract_patches

MIN_RADIUS_PX = 0.08  # cycles/px; below: card artwork
RADIUS_EDGES = np.geomspace(0.8, 4.0, 7)  # cycles per card mm (covered at >= 8 px per card mm)
ANGLE_BINS = 12
PORTRAIT_BOXES_MM = ((3.5, 11.5, 25.5, 37.6), (60.1, 11.5, 82.1, 37.6))
PORTRAIT_SIDE = 24
PORTRAIT_BYTES = PORTRAIT_SIDE**2
PORTRAIT_HIGHPASS_PX = 12.0


@dataclass(frozen=True)
class Fingerprint:
    instrument: NDArray[np.float32]  # (len(RADIUS_EDGES) - 1) * ANGLE_BINS, unit norm
    strength: float
    portrait: NDArray[np.int8]  # (PORTRAIT_BYTES,) unit-norm signature x 127


def _jacobian(hom: NDArray[np.float64], x_mm: float, y_mm: float) -> NDArray[np.float64]:
    """d(frame px)/d(card mm) at a card point (2x2)."""
    p = hom @ np.array([x_mm, y_mm, 1.0])
    w = p[2]
    jac = (hom[:2, :2] * w - np.outer(p[:2], hom[2, :2])) / (w * w)
    return np.asarray(jac)


def _luma(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    return np.asarray(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))


def instrument_cells(frame: NDArray[np.uint8], quad: Sequence[Sequence[float]], spec: InputSpec) -> NDArray[np.float64]:
    """Normalised spectral power of one frame's patches on the card-frequency polar grid."""
    patches = extract_patches(frame, quad, spec)
    hom = card_homography(quad)
    p = spec.patch_size
    freqs = np.fft.fftfreq(p)
    fx, fy = np.meshgrid(freqs, freqs)
    radius_px = np.hypot(fx, fy)
    window = np.outer(np.hanning(p), np.hanning(p))
    keep = radius_px >= MIN_RADIUS_PX
    cells = np.zeros((len(RADIUS_EDGES) - 1, ANGLE_BINS))
    for patch, (cx, cy) in zip(patches, spec.patch_centres_mm, strict=True):
        grey = _luma(patch)
        power = np.abs(np.fft.fft2((grey - grey.mean()) * window)) ** 2
        total = power[keep].sum()
        if total <= 0:
            continue
        jac = _jacobian(hom, cx, cy)
        card_f = np.stack([fx[keep], fy[keep]], axis=1) @ jac  # rows: J^T f
        radius = np.hypot(card_f[:, 0], card_f[:, 1])
        angle = np.degrees(np.arctan2(card_f[:, 1], card_f[:, 0])) % 180.0
        r_bin = np.searchsorted(RADIUS_EDGES, radius) - 1
        a_bin = np.minimum((angle / (180.0 / ANGLE_BINS)).astype(int), ANGLE_BINS - 1)
        ok = (r_bin >= 0) & (r_bin < len(RADIUS_EDGES) - 1)
        np.add.at(cells, (r_bin[ok], a_bin[ok]), power[keep][ok] / total)
    return cells / max(len(patches), 1)


def _portrait_crop(frame: NDArray[np.uint8], hom: NDArray[np.float64], box: tuple[float, ...]) -> NDArray[np.float64]:
    x0, y0, x1, y1 = box
    w, h = 64, 80
    to_box = np.array([[(x1 - x0) / w, 0.0, x0], [0.0, (y1 - y0) / h, y0], [0.0, 0.0, 1.0]])
    shift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    matrix = shift @ hom @ to_box @ np.linalg.inv(shift)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    crop = cv2.warpPerspective(grey, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return np.asarray(crop, dtype=np.float64)


def _signature(crop: NDArray[np.float64]) -> NDArray[np.int8]:
    highpass = crop - cv2.GaussianBlur(crop, (0, 0), PORTRAIT_HIGHPASS_PX)
    small = cv2.resize(highpass, (PORTRAIT_SIDE, PORTRAIT_SIDE), interpolation=cv2.INTER_AREA).flatten()
    small = small - small.mean()
    small = small / (np.linalg.norm(small) + 1e-9)
    return np.asarray(np.round(small * 127.0), dtype=np.int8)


def _texture(crop: NDArray[np.float64]) -> float:
    lap = cv2.Laplacian(crop, cv2.CV_64F)
    return float(np.mean(np.abs(lap)) / (np.std(crop) + 1.0))


def portrait_signature(frame: NDArray[np.uint8], quad: Sequence[Sequence[float]]) -> NDArray[np.int8]:
    """int8 signature of the portrait box (the smoother of the two candidate sides)."""
    hom = card_homography(quad)
    crops = [_portrait_crop(frame, hom, box) for box in PORTRAIT_BOXES_MM]
    best = min(crops, key=_texture)
    return _signature(best)


def fingerprint(
    frames: Sequence[NDArray[np.uint8]], quads: Sequence[Sequence[Sequence[float]]], spec: InputSpec
) -> Fingerprint:
    """Session fingerprint from all its frames (cells averaged; portrait from the first frame)."""
    cells = np.mean([instrument_cells(f, q, spec) for f, q in zip(frames, quads, strict=True)], axis=0)
    logp = np.log(cells + 1e-6).flatten()
    strength = float(logp.max() - np.median(logp))
    vec = logp - logp.mean()
    norm = float(np.linalg.norm(vec))
    vec = vec / norm if norm > 0 else vec
    return Fingerprint(vec.astype(np.float32), strength, portrait_signature(frames[0], quads[0]))


def signature_cosines(signatures: NDArray[np.int8]) -> NDArray[np.float32]:
    """n x n cosine similarity of int8 portrait signatures (rows)."""
    z = signatures.astype(np.float32)
    z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-9
    return np.asarray(z @ z.T, dtype=np.float32)
