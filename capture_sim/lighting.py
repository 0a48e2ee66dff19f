"""Light transport on planar surfaces: ambient + directional light, Blinn-Phong laminate glare, OVD diffraction.

Radiance is relative: 1.0 is the radiance of a white Lambertian surface facing a directional light of unit
strength (plus no ambient). Vectors are in camera coordinates (X right, Y down, Z forward), unit length,
L pointing from the surface to the light, V from the surface to the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from capture_sim.color import blackbody_linear_rgb, wavelength_to_linear_rgb
from capture_sim.geometry import PlaneFrame, Pose, plane_to_camera
from capture_sim.ops import register_op
from capture_sim.validation import check_range

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class LightParams:
    """Ambient plus one directional light (a lamp or window far compared with the card)."""

    azimuth_deg: float  # direction of the light around the optical axis
    elevation_deg: float  # angle between the light direction and the camera's -Z axis (0 = light behind the camera)
    direct: float  # strength of the directional light
    ambient: float  # strength of the diffuse ambient light
    color_k: float  # correlated colour temperature of the light

    def __post_init__(self) -> None:
        check_range("light.azimuth_deg", self.azimuth_deg, -180.0, 180.0)
        check_range("light.elevation_deg", self.elevation_deg, 0.0, 75.0)
        check_range("light.direct", self.direct, 0.0, 3.0)
        check_range("light.ambient", self.ambient, 0.02, 2.0)
        check_range("light.color_k", self.color_k, 2500.0, 9000.0)

    @property
    def direction(self) -> NDArray[np.float64]:
        """Unit vector from the scene towards the light (camera coordinates)."""
        az, el = np.deg2rad([self.azimuth_deg, self.elevation_deg])
        return np.array([np.sin(el) * np.cos(az), np.sin(el) * np.sin(az), -np.cos(el)])

    @property
    def rgb(self) -> FloatArray:
        return _light_rgb(self.color_k)


@lru_cache(maxsize=256)
def _light_rgb(color_k: float) -> FloatArray:
    rgb = blackbody_linear_rgb(color_k)
    rgb.flags.writeable = False
    return rgb


def sample_light_params(rng: np.random.Generator) -> LightParams:
    """Indoor lighting: a ceiling lamp or window, mostly above (negative Y) and in front of the card."""
    return LightParams(
        azimuth_deg=float(rng.uniform(-150.0, -30.0) if rng.random() < 0.8 else rng.uniform(-180.0, 180.0)),
        elevation_deg=float(rng.uniform(5.0, 60.0)),
        direct=float(rng.uniform(0.3, 1.6)),
        ambient=float(rng.uniform(0.25, 0.8)),
        color_k=float(rng.uniform(2800.0, 6800.0)),
    )


@dataclass(frozen=True)
class SurfaceGeometry:
    """Per-texel unit vectors of a plane seen by the camera, on a (h, w) grid over the plane."""

    normal: NDArray[np.float64]  # (3,)
    view: FloatArray  # (h, w, 3) towards the camera
    light: NDArray[np.float64]  # (3,) towards the light


def surface_geometry(
    pose: Pose | PlaneFrame, light: LightParams, width_mm: float, height_mm: float, grid_w: int, grid_h: int
) -> SurfaceGeometry:
    """View vectors over a grid of texel centres covering the plane."""
    xs = (np.arange(grid_w) + 0.5) * (width_mm / grid_w)
    ys = (np.arange(grid_h) + 0.5) * (height_mm / grid_h)
    gx, gy = np.meshgrid(xs, ys)
    points = plane_to_camera(pose, gx, gy, width_mm, height_mm)
    view = -points / np.linalg.norm(points, axis=-1, keepdims=True)
    return SurfaceGeometry(normal=pose.normal, view=view.astype(np.float32), light=light.direction)


@register_op("lighting.blinn_phong")
def blinn_phong(
    geometry: SurfaceGeometry, direct: float, ambient: float, shininess: float, f0: float
) -> tuple[FloatArray, FloatArray]:
    """Diffuse irradiance factor and energy-normalised Blinn-Phong specular radiance with Schlick's Fresnel term.

    Returns (diffuse, specular), both (h, w) float32: radiance = albedo * diffuse + specular (times the light colour).
    A glossy laminate (shininess ~ 300-3000, f0 = 0.04) gives a small highlight many times brighter than diffuse white.
    """
    check_range("shininess", shininess, 1.0, 20000.0)
    check_range("f0", f0, 0.0, 1.0)
    n = geometry.normal.astype(np.float32)
    lvec = geometry.light.astype(np.float32)
    n_dot_l = max(float(n @ lvec), 0.0)
    half = geometry.view + lvec
    half /= np.linalg.norm(half, axis=-1, keepdims=True)
    n_dot_h = np.clip(half @ n, 0.0, 1.0)
    v_dot_h = np.clip((geometry.view * half).sum(axis=-1), 0.0, 1.0)
    fresnel = f0 + (1.0 - f0) * (1.0 - v_dot_h) ** 5
    norm = (shininess + 8.0) / 8.0
    specular = direct * n_dot_l * norm * fresnel * n_dot_h**shininess
    diffuse = np.full(n_dot_h.shape, ambient + direct * n_dot_l, dtype=np.float32)
    return diffuse, specular.astype(np.float32)


@lru_cache(maxsize=1)
def _wavelength_lut() -> FloatArray:
    """Linear RGB of 0..1023 nm in 1 nm steps."""
    return wavelength_to_linear_rgb(np.arange(1024, dtype=np.float64))


@register_op("lighting.ovd_diffraction")
def ovd_diffraction(
    view: FloatArray,
    light: NDArray[np.float64],
    normal: NDArray[np.float64],
    grating_angle: FloatArray,
    grating_period_nm: FloatArray,
    in_plane_x: NDArray[np.float64],
    direct: float,
    angular_spread: float = 0.18,
    efficiency: float = 2.5,
) -> FloatArray:
    """Radiance diffracted towards the camera by a reflection grating (the OVD foil), per texel.

    Grating equation: the first orders m = 1, 2 reach the viewer at lambda_m = d * |T . (L + V)| / m, where T is the
    unit grating vector in the card plane and d the period. Light leaves in the plane spanned by T and the normal,
    so the component of (L + V) along B = N x T must be small: a Gaussian of width `angular_spread` models the lamp's
    extent and the foil's micro-curvature. view: (h, w, 3); grating arrays (h, w); in_plane_x: the plane's x axis.
    """
    check_range("angular_spread", angular_spread, 0.01, 1.0)
    n = normal.astype(np.float32)
    ex = in_plane_x.astype(np.float32)
    ey = np.cross(n, ex).astype(np.float32)
    s = view + light.astype(np.float32)  # L + V
    sx = s @ ex
    sy = s @ ey
    cos_t = np.cos(grating_angle)
    sin_t = np.sin(grating_angle)
    along = np.abs(sx * cos_t + sy * sin_t)
    across = -sx * sin_t + sy * cos_t
    spread = np.exp(-0.5 * (across / angular_spread) ** 2).astype(np.float32)
    lut = _wavelength_lut()
    out = np.zeros((*view.shape[:2], 3), dtype=np.float32)
    for order, weight in ((1, 1.0), (2, 0.35)):
        lam = np.clip(grating_period_nm * along / order, 0, 1023).astype(np.int32)
        out += lut[lam] * (weight * spread)[..., None]
    return (out * np.float32(direct * efficiency)).astype(np.float32)
