"""Classical card finder: the ID-1 card's quad in a frame, in the contract's corner order, or None.

Steps (each cheap enough for a phone's preview stream):
1. Candidates at a working resolution (long side WORK_SIDE px): Canny edges at two thresholds, closed with a small
   dilation; the convex hull of every large enough contour, simplified to 4 corners (Douglas-Peucker with a growing
   tolerance).
2. Sub-pixel refinement on the full-resolution grey frame: along each side, the strongest step in a short profile
   normal to the side at many points; a robust line fit per side (iterated Huber fit, outliers such as fingers
   dropped); the corners are the intersections of adjacent lines, so the card's rounded corners do not matter.
3. Checks and orientation: corners ordered clockwise with a long side first; the rectified width/height (homography
   with an assumed phone focal length) within ASPECT_RANGE of ID-1's 1.586; the card warped to 86 x 54 and
   correlated with every template thumbnail at 0 and 180 degrees (`references.py`): the best match decides the
   upright top-left corner and names the template. Candidates below MIN_MATCH are not cards ("no card found").

Decision: a template correlation rather than a learned orientation classifier; it also recognises the document
type, which the glare gate needs to know where the fields are.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.pipeline.quads import (
    Quad,
    clockwise,
    long_side_first,
    quad_area,
    rectified_aspect,
    rectify,
)
from edge_models.pipeline.references import THUMB_SIZE, CardReferences, load_references, normalise_thumb

WORK_SIDE = 640
MIN_AREA_FRACTION = 0.02
ASPECT_RANGE = (1.3, 1.95)
MIN_MATCH = 0.3
_CANNY = (40, 110)
_MAX_LINES = 32
_KEEP = 16
_ROUGH_ASPECT = (1.1, 2.4)
_REFINE_TOP = 3
_SAMPLES_PER_SIDE = 48


@dataclass(frozen=True)
class CardDetection:
    quad: Quad  # (4, 2) clockwise from the card's upright top-left, frame pixels
    template_id: str | None  # best matching template (None below MIN_MATCH: only with accept_unknown)
    match: float  # normalised correlation with that template, -1..1
    aspect: float  # rectified width / height
    edge_support: float  # share of side samples that found a clear edge

    def to_json(self) -> dict[str, object]:
        return {
            "quad": np.round(self.quad, 2).tolist(),
            "template_id": self.template_id,
            "match": round(self.match, 4),
            "aspect": round(self.aspect, 4),
            "edge_support": round(self.edge_support, 4),
        }


def to_grey(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


def _segments(small: NDArray[np.uint8]) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
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


def candidates(small: NDArray[np.uint8], keep: int = _KEEP) -> list[Quad]:
    """Rough quads (working-resolution pixel corners): closed outlines, then line quads by edge support."""
    segs, edges = _segments(small)
    return _dedupe(contour_candidates(edges) + line_candidates(segs, edges, keep))


def _dedupe(quads: list[Quad]) -> list[Quad]:
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


def line_candidates(segs: NDArray[np.float64], edges: NDArray[np.uint8], keep: int) -> list[Quad]:
    """Quads from two pairs of near-parallel edge lines, best edge support first."""
    if len(segs) < 4:
        return []
    lines = _merge_lines(segs)[:_MAX_LINES]
    h, w = edges.shape
    min_side = 0.08 * min(h, w)
    pairs = [
        (i, j)
        for i in range(len(lines))
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
    ok = distinct & (cross_angle > np.radians(50.0))
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


def _profiles(grey: NDArray[np.float32], quad: Quad, radius: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Edge points along the 4 sides: (4, N, 2) positions and a (4, N) mask of clear edges."""
    n = _SAMPLES_PER_SIDE
    steps = np.linspace(-radius, radius, int(2 * radius) + 1)
    t = np.linspace(0.1, 0.9, n)
    a, b = quad, np.roll(quad, -1, axis=0)
    along = b - a
    normal = np.stack([along[:, 1], -along[:, 0]], axis=1) / np.linalg.norm(along, axis=1, keepdims=True)
    base = a[:, None, :] + t[None, :, None] * along[:, None, :]  # (4, n, 2)
    pts = base[:, :, None, :] + steps[None, None, :, None] * normal[:, None, None, :]  # (4, n, S, 2)
    map_x = (pts[..., 0] - 0.5).astype(np.float32).reshape(4 * n, -1)
    map_y = (pts[..., 1] - 0.5).astype(np.float32).reshape(4 * n, -1)
    prof = cv2.remap(grey, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(4, n, -1)
    grad = np.abs(np.diff(prof, axis=2))  # (4, n, S-1): step between steps[i] and steps[i+1]
    best = np.argmax(grad, axis=2)
    peak = np.take_along_axis(grad, best[..., None], axis=2)[..., 0]
    left = np.take_along_axis(grad, np.clip(best - 1, 0, grad.shape[2] - 1)[..., None], axis=2)[..., 0]
    right = np.take_along_axis(grad, np.clip(best + 1, 0, grad.shape[2] - 1)[..., None], axis=2)[..., 0]
    denom = left - 2 * peak + right
    offset = np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    offset = np.clip(offset, -0.5, 0.5)
    d = steps[0] + (best + 0.5 + offset) * (steps[1] - steps[0])
    positions = base + d[..., None] * normal[:, None, :]
    strong = peak > max(4.0, float(np.median(peak)) * 0.35)
    return positions, strong


def _fit_line(points: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Robust line (point, direction) through edge points: Huber fit, drop far points, refit."""
    if len(points) < 6:
        return None
    pts = points.astype(np.float32)
    for _ in range(3):
        vx, vy, x0, y0 = cv2.fitLine(pts, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        resid = np.abs((pts[:, 0] - x0) * vy - (pts[:, 1] - y0) * vx)
        keep = resid < max(1.0, 2.5 * float(np.median(resid)))
        if keep.sum() < 6 or keep.all():
            break
        pts = pts[keep]
    return np.array([x0, y0, vx, vy], np.float64)


def _intersect(l1: NDArray[np.float64], l2: NDArray[np.float64]) -> NDArray[np.float64] | None:
    a = np.array([[l1[2], -l2[2]], [l1[3], -l2[3]]])
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    s = np.linalg.solve(a, l2[:2] - l1[:2])
    return np.asarray(l1[:2] + s[0] * l1[2:])


def refine(grey: NDArray[np.float32], quad: Quad, radii: tuple[float, ...] = (8.0, 3.0)) -> tuple[Quad, float] | None:
    """Sub-pixel quad from edge profiles along each side; None if a side finds no line. Also the edge support."""
    q = clockwise(quad)
    support = 0.0
    for radius in radii:
        positions, strong = _profiles(grey, q, radius * max(1.0, np.sqrt(quad_area(q)) / 300.0))
        lines = [_fit_line(positions[k][strong[k]]) for k in range(4)]
        if any(line is None for line in lines):
            return None
        corners = [_intersect(lines[k - 1], lines[k]) for k in range(4)]  # type: ignore[arg-type]
        if any(c is None for c in corners):
            return None
        q = np.asarray(corners, np.float64)
        support = float(strong.mean())
    return q, support


def orient(
    grey_small: NDArray[np.uint8], quad: Quad, scale: float, refs: CardReferences
) -> tuple[Quad, str | None, float]:
    """Roll the quad so it starts at the card's upright top-left, by template correlation at 0 / 180 degrees."""
    q = long_side_first(clockwise(quad))
    big = rectify(grey_small, q, (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2), scale)
    thumb = normalise_thumb(np.asarray(cv2.resize(big.astype(np.float32), THUMB_SIZE, interpolation=cv2.INTER_AREA)))
    upright = np.tensordot(refs.thumbs, thumb, axes=([1, 2], [0, 1]))
    flipped = np.tensordot(refs.thumbs, thumb[::-1, ::-1], axes=([1, 2], [0, 1]))
    k = int(np.argmax(np.maximum(upright, flipped)))
    if flipped[k] > upright[k]:
        q = np.asarray(np.roll(q, -2, axis=0))
    return q, refs.template_ids[k], float(max(upright[k], flipped[k]))


def _verify(
    grey_f: NDArray[np.float32], small: NDArray[np.uint8], rough: Quad, scale: float, refs: CardReferences
) -> CardDetection | None:
    """Refine a rough full-resolution quad, check its aspect, orient it; None when it is not card-shaped."""
    h, w = grey_f.shape
    refined = refine(grey_f, rough)
    if refined is None:
        return None
    quad, support = refined
    if not np.all(np.isfinite(quad)) or quad_area(quad) < MIN_AREA_FRACTION * w * h:
        return None
    quad = long_side_first(clockwise(quad))
    aspect = rectified_aspect(quad, w, h)
    if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
        return None
    oriented, template, match = orient(small, quad, scale, refs)
    return CardDetection(oriented, template, match, aspect, support)


def _working(frame: NDArray[np.uint8]) -> tuple[NDArray[np.float32], NDArray[np.uint8], float]:
    grey = to_grey(frame)
    h, w = grey.shape
    scale = WORK_SIDE / max(h, w)
    small = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32), np.asarray(small), scale


def find_card(
    frame: NDArray[np.uint8],
    refs: CardReferences | None = None,
    min_match: float = MIN_MATCH,
    previous: Quad | None = None,
) -> CardDetection | None:
    """The best card in an RGB frame, or None when no candidate passes the aspect and template checks.

    `previous`: the card's quad in the preceding frame of a stream; it is refined first (tracking) and the full
    search runs only when it no longer matches.
    """
    refs = refs or load_references()
    grey_f, small, scale = _working(frame)
    h, w = grey_f.shape
    if previous is not None:
        tracked = _verify(grey_f, small, np.asarray(previous, np.float64), scale, refs)
        if tracked is not None and tracked.match >= min_match:
            return tracked
    screened = []
    for rough in candidates(small):
        quad = long_side_first(clockwise(rough / scale))
        if not _ROUGH_ASPECT[0] <= rectified_aspect(quad, w, h) <= _ROUGH_ASPECT[1]:
            continue
        screened.append((orient(small, quad, scale, refs)[2], quad))
    screened.sort(key=lambda v: -v[0])
    best: CardDetection | None = None
    for rough_match, quad in screened[:_REFINE_TOP]:
        if rough_match < 0.5 * min_match:
            break
        found = _verify(grey_f, small, quad, scale, refs)
        if found is not None and found.match >= min_match and (best is None or found.match > best.match):
            best = found
    return best
