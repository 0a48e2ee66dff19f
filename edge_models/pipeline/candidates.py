"""Candidate quads for the card finder (cardfinder.py), at working resolution: classical ones from Canny edges
(closed outlines, and quads of two pairs of Hough lines ranked by edge support), and ones guided by the learned
card mask (cardmask.py): edges at a low threshold only in a band around the mask's outline, the outline's own line
quads and its hull, ranked by agreement with the mask.

Line quads intersect their four lines, so corners outside the frame (a card running off it) come out too.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.pipeline.quads import Quad, clockwise, quad_area

MIN_AREA_FRACTION = 0.02
KEEP = 16
_CANNY = (40, 110)
_MAX_LINES = 32
_MASK_KEEP = 4
_BAND = 20
_MAX_BAND_SEGMENTS = 160
_BAND_LINES = 24
_LOW_CANNY = (15, 45)


def edge_segments(small: NDArray[np.uint8]) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Straight edge segments (N, 4) x1 y1 x2 y2 at working resolution, and the edge map."""
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    edges = cv2.Canny(blurred, *_CANNY)
    min_len = 0.06 * min(small.shape)
    segs = cv2.HoughLinesP(edges, 1, np.pi / 180, 25, minLineLength=min_len, maxLineGap=6)
    return (np.zeros((0, 4)) if segs is None else segs.reshape(-1, 4).astype(np.float64)), np.asarray(edges, np.uint8)


def _merge_lines(segs: NDArray[np.float64]) -> list[tuple[float, float, float]]:
    """Collinear segments grouped into lines (theta, rho, support length), longest support first."""
    d = segs[:, 2:] - segs[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    theta = np.mod(np.arctan2(d[:, 1], d[:, 0]) + np.pi / 2, np.pi)  # normal direction in [0, pi)
    mid = (segs[:, :2] + segs[:, 2:]) / 2
    rho = mid[:, 0] * np.cos(theta) + mid[:, 1] * np.sin(theta)
    lines: list[list[float]] = []
    for k in np.argsort(-length):
        for line in lines:
            dt = abs(theta[k] - line[0])
            flip = dt > np.pi / 2
            dt = np.pi - dt if flip else dt
            r = -rho[k] if flip else rho[k]
            if dt < np.radians(3.0) and abs(r - line[1]) < 4.0:
                line[2] += length[k]
                break
        else:
            lines.append([float(theta[k]), float(rho[k]), float(length[k])])
    lines.sort(key=lambda v: -v[2])
    return [(a, b, c) for a, b, c in lines]


def _simplify(hull: NDArray[np.int32]) -> NDArray[np.float64] | None:
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.045, 0.06, 0.08):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return np.asarray(approx[:, 0, :], np.float64)
        if len(approx) < 4:
            return None
    return None


def contour_candidates(edges: NDArray[np.uint8]) -> list[Quad]:
    """Rough quads (working-resolution pixel corners) of large closed outlines: convex hulls cut to 4 corners."""
    min_area = MIN_AREA_FRACTION * edges.shape[0] * edges.shape[1]
    found: list[Quad] = []
    closed = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(closed, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        hull = cv2.convexHull(contour)
        if cv2.contourArea(hull) < min_area:
            continue
        quad = _simplify(np.asarray(hull, np.int32))
        if quad is not None and quad_area(quad) >= min_area:
            found.append(clockwise(quad + 0.5))
    return found


def _separation(l1: tuple[float, float, float], l2: tuple[float, float, float]) -> float:
    """Distance between two near-parallel lines in (theta, rho) form."""
    return abs(l1[1] - l2[1]) if abs(l1[0] - l2[0]) <= np.pi / 2 else abs(l1[1] + l2[1])


def _angle_diff(a: float, b: float) -> float:
    d = abs(a - b) % np.pi
    return float(min(d, np.pi - d))


def _all_crossings(lines: list[tuple[float, float, float]]) -> NDArray[np.float64]:
    """(L, L, 2) intersections of every pair of lines (inf where parallel)."""
    th = np.array([v[0] for v in lines])
    rho = np.array([v[1] for v in lines])
    c, s = np.cos(th), np.sin(th)
    det = c[:, None] * s[None, :] - s[:, None] * c[None, :]
    safe = np.where(np.abs(det) < 1e-3, np.nan, det)
    x = (rho[:, None] * s[None, :] - s[:, None] * rho[None, :]) / safe
    y = (c[:, None] * rho[None, :] - rho[:, None] * c[None, :]) / safe
    return np.nan_to_num(np.stack([x, y], axis=-1), nan=1e9)


def candidates(small: NDArray[np.uint8], keep: int = KEEP) -> list[Quad]:
    """Rough quads (working-resolution pixel corners): closed outlines, then line quads by edge support."""
    segs, edges = edge_segments(small)
    return dedupe(contour_candidates(edges) + line_candidates(segs, edges, keep))


def dedupe(quads: list[Quad]) -> list[Quad]:
    kept: list[Quad] = []
    cyclic = np.array([[(i + k) % 4 for i in range(4)] for k in range(4)])
    for q in quads:
        if kept:
            rolled = q[cyclic]  # (4 rotations, 4, 2)
            gap = np.abs(np.stack(kept)[:, None] - rolled[None]).max(axis=(2, 3))
            if gap.min() <= 3.0:
                continue
        kept.append(q)
    return kept


def _frame_borders(h: int, w: int) -> list[tuple[float, float, float]]:
    """The frame's four borders as lines (theta, rho, no support), one working pixel outside the frame."""
    return [(0.0, -1.0, 0.0), (0.0, w + 1.0, 0.0), (np.pi / 2, -1.0, 0.0), (np.pi / 2, h + 1.0, 0.0)]


def line_candidates(
    segs: NDArray[np.float64],
    edges: NDArray[np.uint8],
    keep: int,
    max_lines: int = _MAX_LINES,
    borders: bool = False,
) -> list[Quad]:
    """Quads from two pairs of near-parallel edge lines, best edge support first. `borders`: a frame border may
    stand in for one side (a card running off the frame; the finder's aspect repair then slides that side out)."""
    if len(segs) < 4:
        return []
    lines = _merge_lines(segs)[:max_lines]
    h, w = edges.shape
    n_edge_lines = len(lines)
    if borders:
        lines += _frame_borders(h, w)
    min_side = 0.08 * min(h, w)
    pairs = [
        (i, j)
        for i in range(n_edge_lines)  # two frame borders are never a pair
        for j in range(i + 1, len(lines))
        if _angle_diff(lines[i][0], lines[j][0]) < np.radians(20.0) and _separation(lines[i], lines[j]) > min_side
    ]
    if len(pairs) < 2:
        return []
    pa = np.array(pairs)
    a_idx, b_idx = np.triu_indices(len(pairs), 1)
    p1, p2 = pa[a_idx], pa[b_idx]
    theta = np.array([v[0] for v in lines])
    cross_angle = np.abs(theta[p1[:, 0]] - theta[p2[:, 0]]) % np.pi
    cross_angle = np.minimum(cross_angle, np.pi - cross_angle)
    distinct = (p1[:, 0] != p2[:, 0]) & (p1[:, 0] != p2[:, 1]) & (p1[:, 1] != p2[:, 0]) & (p1[:, 1] != p2[:, 1])
    one_border_at_most = ((p1 >= n_edge_lines).sum(axis=1) + (p2 >= n_edge_lines).sum(axis=1)) <= 1
    ok = distinct & one_border_at_most & (cross_angle > np.radians(50.0))
    p1, p2 = p1[ok], p2[ok]
    if len(p1) == 0:
        return []
    x = _all_crossings(lines)
    q = np.stack([x[p1[:, 0], p2[:, 0]], x[p2[:, 0], p1[:, 1]], x[p1[:, 1], p2[:, 1]], x[p2[:, 1], p1[:, 0]]], axis=1)
    area2 = np.sum(q[..., 0] * np.roll(q[..., 1], -1, 1) - np.roll(q[..., 0], -1, 1) * q[..., 1], axis=1)
    q = np.where((area2 < 0)[:, None, None], q[:, [0, 3, 2, 1]], q)
    sides = np.linalg.norm(np.roll(q, -1, axis=1) - q, axis=2)
    ratio = (sides[:, 0] + sides[:, 2]) / np.maximum(sides[:, 1] + sides[:, 3], 1e-9)
    ratio = np.maximum(ratio, 1.0 / np.maximum(ratio, 1e-9))
    plausible = (
        (np.abs(q).max(axis=(1, 2)) < 3 * max(h, w))
        & (sides.min(axis=1) > min_side)
        & (np.abs(area2) / 2 > MIN_AREA_FRACTION * h * w)
        & (ratio > 1.15)
        & (ratio < 2.3)
    )
    q = q[plausible]
    if len(q) == 0:
        return []
    dist = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 3)
    t = np.linspace(0.0, 1.0, 24, endpoint=False)
    pts = q[:, :, None, :] + t[None, None, :, None] * (np.roll(q, -1, axis=1) - q)[:, :, None, :]
    pts = pts.reshape(len(q), -1, 2)
    inside = (pts >= 0).all(-1) & (pts[..., 0] < w) & (pts[..., 1] < h)
    px = np.clip(pts, 0, [w - 1, h - 1]).astype(np.int32)
    support = ((dist[px[..., 1], px[..., 0]] < 2.0) & inside).mean(axis=1)
    order = np.argsort(-support)[:keep]
    return [np.asarray(q[k]) + 0.5 for k in order]  # line fits are in pixel-centre coordinates


def _hough(edges: NDArray[np.uint8], votes: int, min_len: float, gap: int) -> NDArray[np.float64]:
    segs = cv2.HoughLinesP(edges, 1, np.pi / 180, votes, minLineLength=min_len, maxLineGap=gap)
    return np.zeros((0, 4)) if segs is None else np.asarray(segs.reshape(-1, 4), np.float64)


def mask_candidates(prob: NDArray[np.float32], small: NDArray[np.uint8] | None = None) -> list[Quad]:
    """Rough quads (working-resolution pixel corners) guided by the learned card mask, best agreement first.

    With the grey working image: edges at a low Canny threshold (a card on a similar desk) but only within _BAND
    px of the mask's outline, so texture and clutter inside and outside drop out while the lines stay the image's
    own. Also the line quads of the mask's outline itself (corners may lie outside the frame) and the 4-corner hull
    of its largest blob. Ranked by intersection over union with the mask.
    """
    binary = np.asarray((prob > 0.5).astype(np.uint8) * 255)
    if binary.mean() < 255 * MIN_AREA_FRACTION:
        return []
    outline = np.asarray(cv2.Canny(binary, 50, 150), np.uint8)
    min_len = 0.06 * min(binary.shape)
    found = line_candidates(_hough(outline, 20, min_len, 10), outline, _MASK_KEEP, borders=True)
    if small is not None:
        band = np.asarray(cv2.dilate(outline, np.ones((2 * _BAND + 1, 2 * _BAND + 1), np.uint8)))
        low = np.asarray(cv2.Canny(cv2.GaussianBlur(small, (5, 5), 0), *_LOW_CANNY), np.uint8)
        edges = np.asarray(np.bitwise_and(low, band), np.uint8)
        segs = _hough(edges, 25, min_len, 8)
        longest = np.argsort(-np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]))[:_MAX_BAND_SEGMENTS]
        found += line_candidates(segs[longest], edges, KEEP, _BAND_LINES, borders=True)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        hull = cv2.convexHull(max(contours, key=cv2.contourArea))
        quad = _simplify(np.asarray(hull, np.int32))
        if quad is not None:
            found.append(clockwise(quad + 0.5))
    found = dedupe(found)
    coarse = prob[::4, ::4]  # ranking only: agreement on a 4x coarser grid is 16x cheaper
    return sorted(found, key=lambda q: -mask_agreement(coarse, q, 0.25))


def mask_agreement(prob: NDArray[np.float32], quad: Quad, scale: float) -> float:
    """Intersection over union of a frame quad (drawn at working resolution) and the learned mask."""
    inside = np.zeros(prob.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(quad * scale * 16 - 8).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    card = prob > 0.5
    union = float(np.count_nonzero(card | (inside > 0)))
    return float(np.count_nonzero(card & (inside > 0))) / max(union, 1.0)
