"""Quad geometry for the pipeline: ordering, the card <-> frame homography, rectified aspect, size and tilt.

Quads follow the preprocessing contract: 4 corners (x, y) in continuous frame pixels (origin at the top-left corner
of the top-left pixel), clockwise on screen from the card's upright top-left corner.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.preprocess import ID1_SIZE_MM

Quad = NDArray[np.float64]
CARD_W_MM, CARD_H_MM = ID1_SIZE_MM
CARD_ASPECT = CARD_W_MM / CARD_H_MM
MIN_INSIDE = 0.7  # share of a card inside the frame for the finder to report it (matched over that part alone)
BORDER_MARGIN = 3.0  # px: an edge this close to the frame's border may be the border itself
ASSUMED_HFOV_DEG = 67.0  # a typical phone main camera (60-75 degrees); only used to estimate aspect and tilt


def clockwise(quad: Quad) -> Quad:
    """The same 4 points in clockwise screen order (y down), starting from the first point given."""
    q = np.asarray(quad, np.float64)
    x, y = q[:, 0], q[:, 1]
    area2 = float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return q if area2 >= 0 else np.asarray(q[[0, 3, 2, 1]])


def side_lengths(quad: Quad) -> NDArray[np.float64]:
    """Lengths of sides TL-TR, TR-BR, BR-BL, BL-TL."""
    return np.asarray(np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1))


def long_side_first(quad: Quad) -> Quad:
    """Roll a clockwise quad so that its first side is a long side (the card's width)."""
    s = side_lengths(quad)
    return quad if s[0] + s[2] >= s[1] + s[3] else np.asarray(np.roll(quad, -1, axis=0))


def card_to_frame(quad: Quad, scale: float = 1.0) -> NDArray[np.float64]:
    """Homography from a card grid of `scale` pixels per mm (OpenCV pixel centres) to OpenCV frame pixels."""
    w, h = CARD_W_MM * scale, CARD_H_MM * scale
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5
    dst = np.asarray(quad, np.float32) - 0.5
    return np.asarray(cv2.getPerspectiveTransform(src, dst), np.float64)


def rectify(
    image: NDArray[np.uint8] | NDArray[np.float32], quad: Quad, size: tuple[int, int], quad_scale: float = 1.0
) -> NDArray:
    """The card region warped to `size` (w, h); `quad_scale` maps frame quads onto a resized `image`."""
    w, h = size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5
    dst = np.asarray(quad, np.float32) * np.float32(quad_scale) - 0.5
    m = cv2.getPerspectiveTransform(src, dst)
    return np.asarray(
        cv2.warpPerspective(np.asarray(image), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
    )


def focal_guess(width: int, height: int) -> float:
    """Focal length in pixels of a phone camera with the assumed horizontal field of view along the long side."""
    return max(width, height) / 2.0 / math.tan(math.radians(ASSUMED_HFOV_DEG) / 2.0)


def _plane_axes(quad: Quad, width: int, height: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Camera-space directions of the plane's x and y axes (up to scale), from the homography and a focal guess."""
    f = focal_guess(width, height)
    k = np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1.0]])
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    hmat = cv2.getPerspectiveTransform(src, np.asarray(quad, np.float32)).astype(np.float64)
    m = np.linalg.inv(k) @ hmat
    return m[:, 0], m[:, 1]


def rectified_aspect(quad: Quad, width: int, height: int) -> float:
    """Width / height of the physical rectangle the quad shows (ID-1: 1.586), assuming a phone focal length."""
    r1, r2 = _plane_axes(quad, width, height)
    return float(np.linalg.norm(r1)) / max(float(np.linalg.norm(r2)), 1e-12)


def card_normal(quad: Quad, width: int, height: int) -> NDArray[np.float64]:
    """Unit normal of the card plane in camera space, pointing towards the camera (z < 0)."""
    r1, r2 = _plane_axes(quad, width, height)
    n = np.cross(r1 / np.linalg.norm(r1), r2 / np.linalg.norm(r2))
    n /= max(float(np.linalg.norm(n)), 1e-12)
    return np.asarray(-n if n[2] > 0 else n)


def tilt_deg(quad: Quad, width: int, height: int) -> float:
    """Angle between the card's normal and the optical axis, in degrees (0 = card parallel to the sensor)."""
    n = card_normal(quad, width, height)
    return float(math.degrees(math.acos(min(1.0, abs(float(n[2]))))))


def quad_area(quad: Quad) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return float(abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) / 2.0)


def inside_fraction(quad: Quad, width: int, height: int) -> float:
    """Share of the quad's area that lies inside the frame."""
    total = quad_area(quad)
    if total <= 0:
        return 0.0
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    inter, _ = cv2.intersectConvexConvex(np.asarray(quad, np.float32), frame)
    return float(min(1.0, inter / total))


def off_frame_sides(quad: Quad, width: int, height: int, margin: float = BORDER_MARGIN) -> tuple[int, ...]:
    """Sides (k: corners k, k+1) whose midpoint lies outside the frame or within `margin` px of its border."""
    mid = 0.5 * (quad + np.roll(quad, -1, axis=0))
    x, y = mid[:, 0], mid[:, 1]
    outside = (x < margin) | (x > width - margin) | (y < margin) | (y > height - margin)
    return tuple(int(k) for k in np.flatnonzero(outside))


def corner_error(found: Quad, truth: Quad) -> float:
    """Mean corner distance as a share of the true card diagonal (the card finder's accuracy measure)."""
    t = np.asarray(truth, np.float64)
    diag = 0.5 * (np.linalg.norm(t[2] - t[0]) + np.linalg.norm(t[3] - t[1]))
    return float(np.mean(np.linalg.norm(np.asarray(found) - t, axis=1)) / diag)


def aspect_error(aspect: float) -> float:
    """ln(aspect / ID-1's aspect): 0 for a card's true proportions, signed."""
    return float(np.log(aspect / CARD_ASPECT))


def _slide_side(quad: Quad, k: int, s: float) -> Quad:
    """The quad with side k (corners k, k+1) moved along its two neighbouring sides: s = 1 keeps it, s < 1 moves
    it towards the opposite side (the same share of each neighbour: a parallel move up to perspective)."""
    q = np.array(quad, np.float64)
    before, after = (k - 1) % 4, (k + 2) % 4
    q[k] = quad[before] + s * (quad[k] - quad[before])
    q[(k + 1) % 4] = quad[after] + s * (quad[(k + 1) % 4] - quad[after])
    return q


def aspect_repairs(quad: Quad, width: int, height: int, sides: tuple[int, ...] = (0, 1, 2, 3)) -> list[Quad]:
    """For each of `sides` whose slide can reach it, the quad with that side slid until the rectified aspect is
    ID-1's (bisection on the slide): right when the three other sides are on the card's outline, and a side on an
    inner band or running off the frame is usually the odd one out."""

    def off(k: int, s: float) -> float:
        return aspect_error(rectified_aspect(_slide_side(quad, k, s), width, height))

    repairs = []
    for k in sides:
        lo, hi = 0.6, 1.6
        f_lo = off(k, lo)
        if f_lo * off(k, hi) > 0:
            continue
        for _ in range(14):  # the slide to 1e-4 of the neighbouring sides: well under a pixel
            mid = 0.5 * (lo + hi)
            f_mid = off(k, mid)
            if f_mid * f_lo > 0:
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        repairs.append(_slide_side(quad, k, 0.5 * (lo + hi)))
    return repairs
