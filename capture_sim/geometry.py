"""Scene geometry: the ID-1 card as a plane in 3D, a pinhole camera, homographies and quads.

Coordinates
- plane (card) coordinates: millimetres, origin at the card's top-left corner, x to the right, y down;
- camera coordinates: millimetres, X right, Y down, Z forward (into the scene);
- frame coordinates: pixels, origin at the top-left corner of the top-left pixel (pixel centres at +0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capture_sim.validation import check_range

CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98
CARD_THICKNESS_MM = 0.76
CARD_CORNER_RADIUS_MM = 3.18

Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class Camera:
    """Pinhole camera: frame size in pixels and focal length in pixels; principal point at the frame centre."""

    width: int
    height: int
    focal_px: float

    def __post_init__(self) -> None:
        check_range("camera.width", self.width, 64, 8192)
        check_range("camera.height", self.height, 64, 8192)
        check_range("camera.focal_px", self.focal_px, 10.0, 20000.0)

    @property
    def matrix(self) -> Float64Array:
        return np.array(
            [[self.focal_px, 0.0, self.width / 2.0], [0.0, self.focal_px, self.height / 2.0], [0.0, 0.0, 1.0]]
        )


@dataclass(frozen=True)
class Pose:
    """Pose of a plane: rotations in degrees (roll about the optical axis, tilts about the plane's x and y axes),
    the plane centre's camera-space position in millimetres."""

    roll_deg: float
    tilt_x_deg: float
    tilt_y_deg: float
    center_x_mm: float
    center_y_mm: float
    distance_mm: float

    def __post_init__(self) -> None:
        check_range("pose.roll_deg", self.roll_deg, -180.0, 180.0)
        check_range("pose.tilt_x_deg", self.tilt_x_deg, -60.0, 60.0)
        check_range("pose.tilt_y_deg", self.tilt_y_deg, -60.0, 60.0)
        # 10 mm, not a card's ~30 mm: a screen replay's display plane is the card plane scaled about the camera
        # centre by the shown card's size (down to ~0.7), so it can sit closer than any card is held.
        check_range("pose.distance_mm", self.distance_mm, 10.0, 3000.0)

    @property
    def rotation(self) -> Float64Array:
        a, b, c = np.deg2rad([self.roll_deg, self.tilt_x_deg, self.tilt_y_deg])
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
        return np.asarray(rz @ rx @ ry)

    @property
    def translation(self) -> Float64Array:
        return np.array([self.center_x_mm, self.center_y_mm, self.distance_mm])

    @property
    def normal(self) -> Float64Array:
        """Unit normal of the plane's front face, pointing towards the camera side."""
        return np.asarray(self.rotation @ np.array([0.0, 0.0, -1.0]))


@dataclass(frozen=True)
class PlaneFrame:
    """A plane's rotation and centre in camera space, without Pose's range checks: for reference points that are not
    a held object's pose, such as the centre of a large print sheet around the card, which can lie next to or
    behind the camera while the part of the sheet in view is an ordinary distance away."""

    rotation: Float64Array
    translation: Float64Array

    @property
    def normal(self) -> Float64Array:
        return np.asarray(self.rotation @ np.array([0.0, 0.0, -1.0]))


def plane_to_camera(
    pose: Pose | PlaneFrame, x_mm: NDArray[np.floating], y_mm: NDArray[np.floating], width_mm: float, height_mm: float
) -> Float64Array:
    """Camera-space points (..., 3) of plane points, the plane centred at the pose's centre."""
    local = np.stack([x_mm - width_mm / 2.0, y_mm - height_mm / 2.0, np.zeros_like(x_mm)], axis=-1)
    return np.asarray(local @ pose.rotation.T + pose.translation)


def project(camera: Camera, points_cam: NDArray[np.floating]) -> Float64Array:
    """Pinhole projection of camera-space points (..., 3) to frame pixels (..., 2)."""
    z = points_cam[..., 2:3]
    if np.any(z <= 1.0):
        raise ValueError("a point lies behind or too close to the camera")
    return np.asarray(points_cam[..., :2] / z * camera.focal_px + np.array([camera.width, camera.height]) / 2.0)


def plane_homography(pose: Pose, camera: Camera, width_mm: float, height_mm: float) -> Float64Array:
    """3x3 homography from plane millimetres (top-left origin) to frame pixels."""
    r = pose.rotation
    offset = np.array([[1.0, 0.0, -width_mm / 2.0], [0.0, 1.0, -height_mm / 2.0], [0.0, 0.0, 1.0]])
    h = camera.matrix @ np.column_stack([r[:, 0], r[:, 1], pose.translation]) @ offset
    return np.asarray(h / h[2, 2])


def plane_corners_mm(width_mm: float, height_mm: float) -> Float64Array:
    """The plane's corners clockwise from top-left."""
    return np.array([[0.0, 0.0], [width_mm, 0.0], [width_mm, height_mm], [0.0, height_mm]])


def plane_quad(pose: Pose, camera: Camera, width_mm: float, height_mm: float) -> Float64Array:
    """Frame-pixel corners (4, 2) of a plane, clockwise from the top-left of its content."""
    corners = plane_corners_mm(width_mm, height_mm)
    return project(camera, plane_to_camera(pose, corners[:, 0], corners[:, 1], width_mm, height_mm))


def card_quad(pose: Pose, camera: Camera) -> Float64Array:
    """Frame-pixel corners of the ID-1 card (sharp-corner rectangle), clockwise from top-left."""
    return plane_quad(pose, camera, CARD_WIDTH_MM, CARD_HEIGHT_MM)


def apply_homography(
    h: NDArray[np.floating], x: NDArray[np.floating], y: NDArray[np.floating]
) -> tuple[Float64Array, Float64Array]:
    """Map point arrays through a homography."""
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w


def homography_jacobian_scale(
    h_inv: NDArray[np.floating], x: NDArray[np.floating], y: NDArray[np.floating]
) -> Float64Array:
    """Local linear scale |det J|^(1/2) of the map frame -> plane at frame points: plane units per frame pixel."""
    eps = 0.5
    x0, y0 = apply_homography(h_inv, x, y)
    x1, y1 = apply_homography(h_inv, x + eps, y)
    x2, y2 = apply_homography(h_inv, x, y + eps)
    det = ((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / (eps * eps)
    return np.asarray(np.sqrt(np.abs(det)))
