"""Plane surfaces in the rendered frame: outlines, clipping, shading, slab edges and compositing."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.geometry import CARD_WIDTH_MM, Camera, PlaneFrame, Pose, apply_homography, plane_homography
from capture_sim.lighting import environment_shading, surface_geometry
from capture_sim.planes import BLOCK_ROWS, Roi, polygon_mask, unit_levels, visible_outline
from capture_sim.sampler import SceneParams

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class Drawn:
    """What drawing a presentation leaves for the rest of the frame."""

    roi: Roi  # the supersampled region it was drawn in
    specular: FloatArray  # its specular radiance over the ROI (for the glare mask)
    hold_quad: NDArray[np.float64] | None  # the 4 corners a hand would hold (supersampled pixels), or None
    hold_width_mm: float = CARD_WIDTH_MM  # physical width of the held object (top edge of hold_quad)


@dataclass(frozen=True)
class Surface:
    """A rectangular plane region in plane millimetres (card origin) with its outline shape."""

    x0: float
    y0: float
    x1: float
    y1: float
    corner_mm: float


def outline_points(h: NDArray[np.float64], s: Surface) -> NDArray[np.float64]:
    """The surface rectangle's corners projected (may lie far outside the frame)."""
    xs = np.array([s.x0, s.x1, s.x1, s.x0])
    ys = np.array([s.y0, s.y0, s.y1, s.y1])
    px, py = apply_homography(h, xs, ys)
    return np.stack([px, py], axis=1)


def visible(h: NDArray[np.float64], s: Surface, camera: Camera) -> NDArray[np.float64]:
    """The part of the surface rectangle the camera sees, as a frame polygon (empty when none)."""
    rect = np.array([[s.x0, s.y0], [s.x1, s.y0], [s.x1, s.y1], [s.x0, s.y1]])
    return visible_outline(rect, h, Roi(0, 0, camera.width, camera.height))


def back_outline(
    pose: Pose, camera: Camera, s: Surface, width: float, height: float, depth: float
) -> NDArray[np.float64]:
    """Outline of the back face of a slab (depth mm behind the front), projected."""
    centre = pose.translation - pose.normal * depth
    back = Pose(pose.roll_deg, pose.tilt_x_deg, pose.tilt_y_deg, float(centre[0]), float(centre[1]), float(centre[2]))
    return visible(plane_homography(back, camera, width, height), s, camera)


def shading(
    pose: Pose, scene: SceneParams, s: Surface, width: float, height: float, shininess: float, f0: float
) -> tuple[FloatArray, FloatArray]:
    """Diffuse factor and specular radiance on a coarse grid over the surface rectangle."""
    gw, gh = 160, 100
    geo = surface_geometry(surface_pose(pose, s, width, height), scene.light, s.x1 - s.x0, s.y1 - s.y0, gw, gh)
    diffuse, spec = environment_shading(geo, scene.light, shininess, f0)
    return diffuse, spec


def surface_pose(pose: Pose, s: Surface, width: float, height: float) -> PlaneFrame:
    """Frame of the surface rectangle's own centre, given the pose of the card rectangle [0, width] x [0, height].

    A PlaneFrame, not a Pose: a print sheet's centre may lie closer than any held card (seed 410 capture 296: 6 mm).
    """
    offset = np.array([(s.x0 + s.x1 - width) / 2.0, (s.y0 + s.y1 - height) / 2.0, 0.0])
    centre = pose.translation + pose.rotation @ offset
    return PlaneFrame(pose.rotation, np.array([float(centre[0]), float(centre[1]), float(centre[2])]))


def composite(dst: FloatArray, layer: FloatArray, alpha: FloatArray) -> None:
    """dst <- alpha * layer + (1 - alpha) * dst, in place. `layer` is consumed (used as scratch).

    Blocks of rows keep the three passes in cache."""
    for r0 in range(0, dst.shape[0], BLOCK_ROWS):
        d, lay = dst[r0 : r0 + BLOCK_ROWS], layer[r0 : r0 + BLOCK_ROWS]
        np.subtract(lay, d, out=lay)
        lay *= planes3(alpha[r0 : r0 + BLOCK_ROWS])
        d += lay


def planes3(plane: FloatArray) -> FloatArray:
    """A (h, w) plane repeated over 3 channels: multiplying by it is much faster than numpy's broadcast of
    plane[..., None], with the same values."""
    return np.asarray(cv2.merge([plane, plane, plane]), dtype=plane.dtype)


def slab_edge(
    radiance: FloatArray,
    pose: Pose,
    cam_s: Camera,
    surf: Surface,
    depth: float,
    albedo: float,
    level: float,
    roi: Roi,
    light_rgb: FloatArray,
    width: float,
    height: float,
) -> None:
    """Draw the visible side of a slab (card thickness, device body) behind its front face."""
    back = back_outline(pose, cam_s, surf, width, height, depth)
    front = visible(plane_homography(pose, cam_s, width, height), surf, cam_s)
    if len(back) < 3 or len(front) < 3:
        return
    hull = cv2.convexHull(np.concatenate([back, front]).astype(np.float32))[:, 0, :].astype(np.float64)
    # the side visible beside the front face: where the hull covers more than the front (level / 255 is monotone)
    hull_levels, front_levels = polygon_mask(hull, roi), polygon_mask(front, roi)
    found = cv2.findNonZero(cv2.compare(hull_levels, front_levels, cv2.CMP_GT))  # (x, y) in row-major order
    if found is None:
        return
    xs, ys = found.reshape(-1, 2).T
    region = radiance[roi.slices()]
    band = unit_levels(hull_levels[ys, xs]) - unit_levels(front_levels[ys, xs])
    a = np.clip(band, 0.0, 1.0)[:, None]
    region[ys, xs] = region[ys, xs] * (1.0 - a) + a * (np.float32(albedo * level) * light_rgb)


def align(roi: Roi, cam_s: Camera, scene: SceneParams) -> Roi:
    s = cam_s.width // scene.width
    x0, y0 = roi.x0 // s * s, roi.y0 // s * s
    x1 = min(cam_s.width, -(-roi.x1 // s) * s)
    y1 = min(cam_s.height, -(-roi.y1 // s) * s)
    return Roi(x0, y0, max(x0, x1), max(y0, y1))
