"""Sub-pixel refinement of a rough card quad on the full-resolution grey frame (the card finder's step 2).

Along each side, the outermost clear step (at least _OUTER_STEP of the strongest) in a short profile normal to the
side at many points, in passes of shrinking profile length (the radii below); a robust line fit per side (iterated
Huber fit, outliers such as fingers dropped); the corners are the intersections of adjacent lines, so the card's
rounded corners do not matter. With the learned mask's guidance the step nearest to the mask's outline is taken
instead of the outermost one (MaskGuide). A side mostly outside the frame keeps its rough line.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from edge_models.pipeline.quads import BORDER_MARGIN, Quad, clockwise, quad_area

TRACK_RADII = (12.0, 4.0)  # refinement passes (profile half-lengths, px per 300 px of card size) when tracking
SEARCH_RADII = (8.0, 4.0, 2.0)  # and for the full search's rougher candidates: one more, narrower pass
CONFIRM_RADII = (4.0, 2.0)  # and for a repaired quad (its slid side is off by the focal-length guess)
_SAMPLES_PER_SIDE = 48
_OUTER_STEP = 0.5
_OFF_FRAME_SIDE = 0.5  # share of a side's sample points inside the frame below which it keeps its rough line


def _clear_steps(grad: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Per profile, the local maxima of the step that are at least _OUTER_STEP times the strongest one."""
    padded = np.pad(grad, ((0, 0), (0, 0), (1, 1)), constant_values=-1.0)
    local = (grad >= padded[..., :-2]) & (grad >= padded[..., 2:])
    return np.asarray(local & (grad >= _OUTER_STEP * grad.max(axis=2, keepdims=True)))


def _outermost(grad: NDArray[np.float32], clear: NDArray[np.bool_]) -> NDArray[np.intp]:
    last = grad.shape[2] - 1 - np.argmax(clear[..., ::-1], axis=2)
    return np.asarray(np.where(clear.any(axis=2), last, np.argmax(grad, axis=2)))


def _outermost_step(grad: NDArray[np.float32]) -> NDArray[np.intp]:
    """Per profile, the outermost clear step (_clear_steps): the card's outline rather than a stronger inner band
    (a dark header strip, a print's frame) just inside it."""
    return _outermost(grad, _clear_steps(grad))


def _nearest_to_mask_edge(grad: NDArray[np.float32], card: NDArray[np.float32]) -> NDArray[np.intp]:
    """Per profile, the clear step nearest to where the learned mask's card probability `card` (sampled between
    the profile's points) falls below one half; the outermost clear step where the profile does not cross the
    mask's outline. Keeps the refinement off a paper sheet's edge or desk texture just outside."""
    clear = _clear_steps(grad)
    inside = (card > 0.5).sum(axis=2)
    crossing = np.clip(inside - 1, 0, grad.shape[2] - 1)
    index = np.arange(grad.shape[2])[None, None, :]
    distance = np.where(clear, np.abs(index - crossing[..., None]), np.iinfo(np.int32).max)
    nearest = np.argmin(distance, axis=2)
    crosses = (inside > 0) & (inside < card.shape[2]) & clear.any(axis=2)
    return np.asarray(np.where(crosses, nearest, _outermost(grad, clear)))


@dataclass(frozen=True)
class MaskGuide:
    """The learned card probability at working resolution and the frame -> working scale."""

    prob: NDArray[np.float32]
    scale: float

    def sample(self, map_x: NDArray[np.float32], map_y: NDArray[np.float32]) -> NDArray[np.float32]:
        """Card probability at frame-pixel sample maps (same shape as the maps)."""
        mx = (map_x + 0.5) * self.scale - 0.5
        my = (map_y + 0.5) * self.scale - 0.5
        return np.asarray(cv2.remap(self.prob, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))


def _profiles(
    grey: NDArray[np.float32], quad: Quad, radius: float, guide: MaskGuide | None = None
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Edge points along the 4 sides: (4, N, 2) positions, a (4, N) mask of clear edges and one of the sample
    points that lie inside the frame."""
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
    if guide is None:
        best = _outermost_step(grad)
    else:
        card = guide.sample(map_x, map_y).reshape(4, n, -1)
        best = _nearest_to_mask_edge(grad, 0.5 * (card[..., 1:] + card[..., :-1]))
    peak = np.take_along_axis(grad, best[..., None], axis=2)[..., 0]
    left = np.take_along_axis(grad, np.clip(best - 1, 0, grad.shape[2] - 1)[..., None], axis=2)[..., 0]
    right = np.take_along_axis(grad, np.clip(best + 1, 0, grad.shape[2] - 1)[..., None], axis=2)[..., 0]
    denom = left - 2 * peak + right
    offset = np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    offset = np.clip(offset, -0.5, 0.5)
    d = steps[0] + (best + 0.5 + offset) * (steps[1] - steps[0])
    positions = base + d[..., None] * normal[:, None, :]
    h, w = grey.shape
    m = BORDER_MARGIN
    inside = (base[..., 0] >= m) & (base[..., 0] <= w - m) & (base[..., 1] >= m) & (base[..., 1] <= h - m)
    strong = (peak > max(4.0, float(np.median(peak)) * 0.35)) & inside
    return positions, strong, inside


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


def _side_line(quad: Quad, k: int) -> NDArray[np.float64]:
    a, b = quad[k], quad[(k + 1) % 4]
    d = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    return np.array([a[0], a[1], d[0], d[1]], np.float64)


def refine(
    grey: NDArray[np.float32], quad: Quad, radii: tuple[float, ...] = TRACK_RADII, guide: MaskGuide | None = None
) -> tuple[Quad, float] | None:
    """Sub-pixel quad from edge profiles along each side; None if a side inside the frame finds no line. A side
    mostly outside the frame (a card running off it) keeps its line. Also the edge support (sides in the frame)."""
    q = clockwise(quad)
    support = 0.0
    for radius in radii:
        positions, strong, inside = _profiles(grey, q, radius * max(1.0, np.sqrt(quad_area(q)) / 300.0), guide)
        lines = [_fit_line(positions[k][strong[k]]) for k in range(4)]
        lines = [
            _side_line(q, k) if line is None and inside[k].mean() < _OFF_FRAME_SIDE else line
            for k, line in enumerate(lines)
        ]
        if any(line is None for line in lines):
            return None
        corners = [_intersect(lines[k - 1], lines[k]) for k in range(4)]  # type: ignore[arg-type]
        if any(c is None for c in corners):
            return None
        q = np.asarray(corners, np.float64)
        support = float(strong.sum() / max(int(inside.sum()), 1))
    return q, support
