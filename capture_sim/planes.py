"""Sampling a plane seen through the camera on a supersampled grid: plane coordinates, footprints, coverage."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.geometry import Camera, Pose, apply_homography, plane_homography, plane_to_camera, project
from capture_sim.ops import register_op

FloatArray = NDArray[np.float32]
BLOCK_ROWS = 32  # rows per block of the per-pixel passes (their temporaries stay in cache)
_REMAP_ROWS = 64
_UNIT_LEVELS = np.arange(256, dtype=np.float32) / np.float32(255.0)  # uint8 coverage -> [0, 1]


@dataclass(frozen=True)
class Roi:
    """A rectangle of the supersampled frame: rows y0:y1, columns x0:x1 (multiples of the supersampling factor)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def roi_around(points: NDArray[np.floating], width: int, height: int, scale: int, margin: int = 8) -> Roi:
    """Bounding box of frame points (supersampled pixels), padded, clipped to the frame, aligned to `scale`."""
    lo = np.floor(points.min(axis=0)) - margin * scale
    hi = np.ceil(points.max(axis=0)) + margin * scale
    x0, y0 = (int(max(0, v // scale * scale)) for v in lo)
    x1, y1 = (int(min(lim, -(-v // scale) * scale)) for v, lim in zip(hi, (width, height), strict=True))
    return Roi(x0, y0, max(x0, x1), max(y0, y1))


@dataclass(frozen=True)
class PlaneSamples:
    """For every sample of an ROI: the plane point it sees (mm) and the plane length one sample spans (mm)."""

    x_mm: FloatArray
    y_mm: FloatArray
    footprint_mm: FloatArray


def sample_plane(frame_to_plane: NDArray[np.floating], roi: Roi) -> PlaneSamples:
    """Plane coordinates of sample centres in an ROI, with the local footprint from the homography's Jacobian."""
    h, w = roi.shape
    m = frame_to_plane.astype(np.float64)
    xs = (np.arange(roi.x0, roi.x1, dtype=np.float64) + 0.5)[None, :]
    ys = (np.arange(roi.y0, roi.y1, dtype=np.float64) + 0.5)[:, None]
    # Row/column terms in float64, the full grid in float32 (ulp ~ 3e-5 mm at 300 mm), in blocks of rows.
    col = [(m[r, 0] * xs).astype(np.float32) for r in range(3)]
    row = [(m[r, 1] * ys + m[r, 2]).astype(np.float32) for r in range(3)]
    px, py = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    for r0 in range(0, h, BLOCK_ROWS):
        rows = slice(r0, r0 + BLOCK_ROWS)
        inv = np.float32(1.0) / (col[2] + row[2][rows])
        np.multiply(col[0] + row[0][rows], inv, out=px[rows])
        np.multiply(col[1] + row[1][rows], inv, out=py[rows])
    step = 8
    cx, cy = np.meshgrid(xs[0, ::step], ys[::step, 0])
    x0, y0 = apply_homography(m, cx, cy)
    x1, y1 = apply_homography(m, cx + 1.0, cy)
    x2, y2 = apply_homography(m, cx, cy + 1.0)
    scale = np.sqrt(np.abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0))).astype(np.float32)
    footprint = np.asarray(cv2.resize(scale, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    return PlaneSamples(px, py, footprint)


def rounded_rect_outline(
    x0: float, y0: float, x1: float, y1: float, radius: float, per_corner: int = 10
) -> NDArray[np.float64]:
    """Polygon (N, 2) of a rounded rectangle in plane millimetres, clockwise from the top-left."""
    if radius <= 0:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    arcs = []
    for cx, cy, start in (
        (x1 - radius, y0 + radius, -90.0),
        (x1 - radius, y1 - radius, 0.0),
        (x0 + radius, y1 - radius, 90.0),
        (x0 + radius, y0 + radius, 180.0),
    ):
        t = np.deg2rad(start + np.linspace(0.0, 90.0, per_corner))
        arcs.append(np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], axis=1))
    return np.concatenate(arcs)


@register_op("planes.rounded_rect_coverage")
def rounded_rect_coverage(
    plane_to_frame: NDArray[np.float64], roi: Roi, x0: float, y0: float, x1: float, y1: float, radius: float
) -> FloatArray:
    """Anti-aliased coverage in [0, 1] of a rounded rectangle (plane mm) over an ROI of the (supersampled) frame."""
    outline = rounded_rect_outline(x0, y0, x1, y1, radius)
    visible = visible_outline(outline, plane_to_frame, roi)
    if len(visible) < 3:
        return np.zeros(roi.shape, dtype=np.float32)
    return polygon_coverage(visible, roi)


@register_op("planes.sample_grid")
def sample_grid(
    grid: NDArray[np.float32], samples: PlaneSamples, x0: float, y0: float, x1: float, y1: float
) -> FloatArray:
    """Bilinear lookup of a texture covering the plane rectangle [x0, x1] x [y0, y1] mm at the samples' points.

    The texture's texel centres sit at (i + 0.5) * size / n; outside the rectangle the edge texels repeat.
    """
    return sample_grids([grid], samples, x0, y0, x1, y1)[0]


def sample_grids(
    grids: list[NDArray[np.float32]], samples: PlaneSamples, x0: float, y0: float, x1: float, y1: float
) -> list[FloatArray]:
    """sample_grid of several textures over one rectangle, in blocks of rows: textures of one size share the
    sample maps of a block."""
    shape = samples.x_mm.shape
    out = [np.empty((*shape, *g.shape[2:]), dtype=np.float32) for g in grids]
    for r0 in range(0, shape[0], _REMAP_ROWS):
        rows = slice(r0, r0 + _REMAP_ROWS)
        maps: dict[tuple[int, int], tuple[FloatArray, FloatArray]] = {}
        for grid, dst in zip(grids, out, strict=True):
            n_rows, n_cols = grid.shape[:2]
            if (n_rows, n_cols) not in maps:
                map_x = (samples.x_mm[rows] - x0) * np.float32(n_cols / (x1 - x0)) - np.float32(0.5)
                map_y = (samples.y_mm[rows] - y0) * np.float32(n_rows / (y1 - y0)) - np.float32(0.5)
                maps[n_rows, n_cols] = map_x, map_y
            map_x, map_y = maps[n_rows, n_cols]
            cv2.remap(grid, map_x, map_y, cv2.INTER_LINEAR, dst=dst[rows], borderMode=cv2.BORDER_REPLICATE)
    return out


def polygon_coverage(polygon: NDArray[np.floating], roi: Roi) -> FloatArray:
    """Anti-aliased coverage of a polygon given in supersampled frame pixels, over an ROI."""
    return unit_levels(polygon_mask(polygon, roi))


def polygon_mask(polygon: NDArray[np.floating], roi: Roi) -> NDArray[np.uint8]:
    """polygon_coverage in 8-bit levels (255 = covered)."""
    h, w = roi.shape
    mask = np.zeros((h, w), dtype=np.uint8)
    shift = 4
    pts = np.round((polygon - np.array([roi.x0, roi.y0]) - 0.5) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=shift)
    return mask


def unit_levels(levels: NDArray[np.uint8]) -> FloatArray:
    """8-bit coverage levels as float32 in [0, 1] (level / 255)."""
    return np.asarray(cv2.LUT(levels, _UNIT_LEVELS), dtype=np.float32).reshape(levels.shape)


def _clip_convex(subject: NDArray[np.float64], clip: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sutherland-Hodgman: the part of polygon `subject` inside the convex polygon `clip`."""
    area = 0.5 * np.sum(clip[:, 0] * np.roll(clip[:, 1], -1) - np.roll(clip[:, 0], -1) * clip[:, 1])
    sign = 1.0 if area > 0 else -1.0
    out = subject
    for a, b in zip(clip, np.roll(clip, -1, axis=0), strict=True):
        if len(out) == 0:
            break
        edge = b - a
        side = sign * (edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0]))
        kept = []
        for i in range(len(out)):
            j = (i + 1) % len(out)
            if side[i] >= 0:
                kept.append(out[i])
            if (side[i] >= 0) != (side[j] >= 0):
                t = side[i] / (side[i] - side[j])
                kept.append(out[i] + t * (out[j] - out[i]))
        out = np.array(kept, dtype=np.float64).reshape(-1, 2)
    return out


def visible_outline(
    polygon_mm: NDArray[np.float64], plane_to_frame: NDArray[np.float64], window: Roi
) -> NDArray[np.float64]:
    """Frame polygon of the part of a convex plane polygon that a (slightly enlarged) window of the frame sees.

    Clipping in the plane first keeps points that lie far outside the view (or behind the camera) out of the
    projection. Returns an empty (0, 2) array when nothing is visible.
    """
    to_plane = np.linalg.inv(plane_to_frame)
    w, h = window.x1 - window.x0, window.y1 - window.y0
    for margin in (0.25, 0.0):
        lx, hx = window.x0 - margin * w, window.x1 + margin * w
        ly, hy = window.y0 - margin * h, window.y1 + margin * h
        fx = np.array([lx, hx, hx, lx])
        fy = np.array([ly, ly, hy, hy])
        den = to_plane[2, 0] * fx + to_plane[2, 1] * fy + to_plane[2, 2]
        if np.all(den > 0) or np.all(den < 0):
            break
    else:
        return np.asarray(np.stack(apply_homography(plane_to_frame, polygon_mm[:, 0], polygon_mm[:, 1]), 1))
    px, py = apply_homography(to_plane, fx, fy)
    clipped = _clip_convex(polygon_mm, np.stack([px, py], axis=1))
    if len(clipped) < 3:
        return np.zeros((0, 2))
    qx, qy = apply_homography(plane_to_frame, clipped[:, 0], clipped[:, 1])
    return np.stack([qx, qy], axis=1)


def sample_bent_plane(
    pose: Pose, camera: Camera, width_mm: float, height_mm: float, sag_mm: float, roi: Roi, step: int = 8
) -> PlaneSamples:
    """Like sample_plane, for a sheet bent about its vertical axis: it bulges by `sag_mm` along the normal at
    x = width / 2 and stays in the plane at x = 0 and x = width (so the card's corners do not move).

    The inverse of the bent projection is solved by fixed-point iteration on a grid every `step` samples and
    interpolated, which is exact to well under a sample for the smooth bends of a held sheet.
    """
    h, w = roi.shape
    to_frame = plane_homography(pose, camera, width_mm, height_mm)
    to_plane = np.linalg.inv(to_frame)
    gw, gh = -(-w // step), -(-h // step)
    fx, fy = np.meshgrid(roi.x0 + (np.arange(gw) + 0.5) * step, roi.y0 + (np.arange(gh) + 0.5) * step)
    tx, ty = apply_homography(to_plane, fx, fy)
    x, y = tx.copy(), ty.copy()
    half = width_mm / 2.0
    for _ in range(6):
        bulge = sag_mm * (1.0 - ((x - half) / half) ** 2)
        points = plane_to_camera(pose, x, y, width_mm, height_mm) + bulge[..., None] * pose.normal
        projected = project(camera, points)
        px, py = projected[..., 0], projected[..., 1]
        qx, qy = apply_homography(to_plane, px, py)
        x -= qx - tx
        y -= qy - ty

    def fine(a: NDArray[np.float64]) -> FloatArray:
        up = cv2.resize(a.astype(np.float32), (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(up[:h, :w], dtype=np.float32)

    dxdx, dydx = np.gradient(x, axis=1) / step, np.gradient(y, axis=1) / step
    dxdy, dydy = np.gradient(x, axis=0) / step, np.gradient(y, axis=0) / step
    footprint = np.sqrt(np.abs(dxdx * dydy - dxdy * dydx))
    return PlaneSamples(fine(x), fine(y), fine(footprint))


@register_op("planes.rect_coverage")
def rect_coverage(samples: PlaneSamples, x0: float, y0: float, x1: float, y1: float) -> FloatArray:
    """Anti-aliased coverage of a plane rectangle evaluated at the samples' plane points (any mapping)."""
    cx, cy, hx, hy = (x0 + x1) / 2.0, (y0 + y1) / 2.0, (x1 - x0) / 2.0, (y1 - y0) / 2.0
    sdf = np.maximum(
        np.abs(samples.x_mm - np.float32(cx)) - np.float32(hx), np.abs(samples.y_mm - np.float32(cy)) - np.float32(hy)
    )
    return np.clip(0.5 - sdf / np.maximum(samples.footprint_mm, 1e-6), 0.0, 1.0).astype(np.float32)
