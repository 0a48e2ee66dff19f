"""Light transport on planar surfaces: ambient + directional light + area lights, Blinn-Phong laminate glare, OVD
diffraction.

Radiance is relative: 1.0 is the radiance of a white Lambertian surface facing a directional light of unit
strength (plus no ambient). Vectors are in camera coordinates (X right, Y down, Z forward), unit length,
L pointing from the surface to the light, V from the surface to the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from capture_sim.color import blackbody_linear_rgb
from capture_sim.geometry import PlaneFrame, Pose, plane_to_camera
from capture_sim.grating import ANGULAR_SPREAD, EFFICIENCY, Grating, diffracted, plane_axes
from capture_sim.ops import register_op
from capture_sim.validation import check_range

FloatArray = NDArray[np.float32]


TORCH_REFERENCE_MM = 150.0
TORCH_RANGE = (1.0, 4.0)  # a phone LED at 15 cm gives ~1000-3000 lx against ~300-800 lx of room light on a desk


def _direction(azimuth_deg: float, elevation_deg: float) -> NDArray[np.float64]:
    az, el = np.deg2rad([azimuth_deg, elevation_deg])
    return np.array([np.sin(el) * np.cos(az), np.sin(el) * np.sin(az), -np.cos(el)])


@dataclass(frozen=True)
class AreaLight:
    """A secondary source of finite angular size: another ceiling luminaire, a window, a bright wall or monitor.

    Rooms have several. Their extent widens and dims the laminate's highlight, and a grating lit by a broad source
    shows paler colours over a wider range of tilts: area lights wash the hologram out rather than light it up
    (over 100 tilt sweeps of seed 310 they lower the share whose foil visibly changes from 71 % to 58 %).
    """

    azimuth_deg: float
    elevation_deg: float  # as LightParams: angle from the camera's -Z axis (0 = behind the camera)
    strength: float  # irradiance at normal incidence, in the units of LightParams.direct
    radius_rad: float  # angular radius seen from the card

    def __post_init__(self) -> None:
        check_range("area.azimuth_deg", self.azimuth_deg, -180.0, 180.0)
        check_range("area.elevation_deg", self.elevation_deg, 0.0, 85.0)
        check_range("area.strength", self.strength, 0.0, 1.5)
        check_range("area.radius_rad", self.radius_rad, 0.01, 0.7)

    @property
    def direction(self) -> NDArray[np.float64]:
        return _direction(self.azimuth_deg, self.elevation_deg)


@dataclass(frozen=True)
class LightParams:
    """Ambient plus one directional light (a lamp or window far compared with the card) plus area lights."""

    azimuth_deg: float  # direction of the light around the optical axis
    elevation_deg: float  # angle between the light direction and the camera's -Z axis (0 = light behind the camera)
    direct: float  # strength of the directional light
    ambient: float  # strength of the diffuse ambient light
    color_k: float  # correlated colour temperature of the light
    area: tuple[AreaLight, ...] = ()
    torch: float = 0.0  # the phone's LED torch at the camera: irradiance on a facing surface at TORCH_REFERENCE_MM

    def __post_init__(self) -> None:
        check_range("light.azimuth_deg", self.azimuth_deg, -180.0, 180.0)
        check_range("light.elevation_deg", self.elevation_deg, 0.0, 75.0)
        check_range("light.direct", self.direct, 0.0, 3.0)
        check_range("light.ambient", self.ambient, 0.02, 2.0)
        check_range("light.color_k", self.color_k, 2500.0, 9000.0)
        check_range("light.torch", self.torch, 0.0, 8.0)
        if not all(isinstance(a, AreaLight) for a in self.area):
            raise TypeError("light.area must hold AreaLight values")

    @property
    def direction(self) -> NDArray[np.float64]:
        """Unit vector from the scene towards the light (camera coordinates)."""
        return _direction(self.azimuth_deg, self.elevation_deg)

    @property
    def rgb(self) -> FloatArray:
        return _light_rgb(self.color_k)

    def irradiance(self, normal: NDArray[np.float64], distance_mm: float | None = None) -> float:
        """Diffuse irradiance factor of a plane with this unit normal: ambient plus every source's n . L, plus the
        torch when the plane's distance from the camera is given (a far room behind a held card gets none)."""
        level = self.ambient + self.direct * max(float(normal @ self.direction), 0.0)
        for a in self.area:
            level += a.strength * max(float(normal @ a.direction), 0.0)
        if distance_mm is not None:
            level += self.torch_irradiance(distance_mm) * max(-float(normal[2]), 0.0)
        return float(level)

    def torch_irradiance(self, distance_mm: float) -> float:
        """The torch's irradiance on a surface facing the camera at this distance (inverse square law)."""
        return float(self.torch * (TORCH_REFERENCE_MM / max(distance_mm, 1.0)) ** 2)

    def typical_irradiance(self, distance_mm: float | None = None) -> float:
        """Irradiance of a surface that is not modelled in detail (a hand, a far room): sources at ~45 degrees."""
        torch = 0.0 if distance_mm is None else self.torch_irradiance(distance_mm)
        return float(self.ambient + 0.7 * (self.direct + sum(a.strength for a in self.area) + torch))


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


def sample_torch(rng: np.random.Generator) -> float:
    """Strength of the phone's torch when the capture turns it on."""
    return float(rng.uniform(*TORCH_RANGE))


def sample_area_lights(rng: np.random.Generator) -> tuple[AreaLight, ...]:
    """Two to five secondary sources, mostly above the card, weaker than the main light, 2-23 degrees in radius."""
    lights = []
    for _ in range(int(rng.integers(2, 6))):
        lights.append(
            AreaLight(
                azimuth_deg=float(rng.uniform(-160.0, -20.0) if rng.random() < 0.7 else rng.uniform(-180.0, 180.0)),
                elevation_deg=float(rng.uniform(0.0, 80.0)),
                strength=float(rng.uniform(0.05, 0.45)),
                radius_rad=float(np.exp(rng.uniform(np.log(0.04), np.log(0.4)))),
            )
        )
    return tuple(lights)


@dataclass(frozen=True)
class SurfaceGeometry:
    """Per-texel unit vectors of a plane seen by the camera, on a (h, w) grid over the plane."""

    normal: NDArray[np.float64]  # (3,)
    view: FloatArray  # (h, w, 3) towards the camera
    light: NDArray[np.float64]  # (3,) towards the light
    distance_mm: FloatArray  # (h, w) from the camera (the torch's inverse-square falloff)


def surface_geometry(
    pose: Pose | PlaneFrame, light: LightParams, width_mm: float, height_mm: float, grid_w: int, grid_h: int
) -> SurfaceGeometry:
    """View vectors over a grid of texel centres covering the plane."""
    xs = (np.arange(grid_w) + 0.5) * (width_mm / grid_w)
    ys = (np.arange(grid_h) + 0.5) * (height_mm / grid_h)
    gx, gy = np.meshgrid(xs, ys)
    points = plane_to_camera(pose, gx, gy, width_mm, height_mm)
    distance = np.linalg.norm(points, axis=-1)
    view = -points / distance[..., None]
    return SurfaceGeometry(
        normal=pose.normal, view=view.astype(np.float32), light=light.direction, distance_mm=distance.astype(np.float32)
    )


def _power(x: FloatArray, exponent: float) -> FloatArray:
    """x ** exponent for x in [0, 1] as exp(exponent log x): numpy vectorises exp and log, not pow."""
    with np.errstate(divide="ignore"):
        out = np.log(x)
    out *= np.float32(exponent)
    return np.exp(out, out=out)


def _pow5(x: FloatArray) -> FloatArray:
    x2 = x * x
    x2 *= x2
    x2 *= x
    return x2


@dataclass(frozen=True)
class _ViewTerms:
    """What every source's lobe needs of a surface's view vectors: V.N and V.V per texel."""

    view: FloatArray
    normal: FloatArray
    v_dot_n: FloatArray
    v_dot_v: FloatArray

    @classmethod
    def of(cls, geometry: SurfaceGeometry) -> _ViewTerms:
        n = geometry.normal.astype(np.float32)
        view = geometry.view
        return cls(view, n, view @ n, np.einsum("...i,...i->...", view, view))

    def half_terms(self, lvec: NDArray[np.float32]) -> tuple[float, FloatArray, FloatArray]:
        """N.L, and per texel N.H and V.H of the half vector H = (V + L) / |V + L| (dot products expanded)."""
        l_dot_n = float(self.normal @ lvec)
        v_dot_l = self.view @ lvec
        length = v_dot_l * np.float32(2.0)
        length += self.v_dot_v
        length += np.float32(lvec @ lvec)
        np.sqrt(length, out=length)
        n_dot_h = self.v_dot_n + np.float32(l_dot_n)
        n_dot_h /= length
        v_dot_l += self.v_dot_v
        v_dot_l /= length
        np.clip(n_dot_h, 0.0, 1.0, out=n_dot_h)
        np.clip(v_dot_l, 0.0, 1.0, out=v_dot_l)
        return max(l_dot_n, 0.0), n_dot_h, v_dot_l


def _lobe(strength: float, n_dot_h: FloatArray, v_dot_h: FloatArray, shininess: float, f0: float) -> FloatArray:
    """strength x energy-normalised Blinn-Phong lobe x Schlick's Fresnel term."""
    fresnel = _pow5(np.float32(1.0) - v_dot_h)
    fresnel *= np.float32(1.0 - f0)
    fresnel += np.float32(f0)
    fresnel *= np.float32(strength * (shininess + 8.0) / 8.0)
    fresnel *= _power(n_dot_h, shininess)
    return fresnel


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
    n_dot_l, n_dot_h, v_dot_h = _ViewTerms.of(geometry).half_terms(geometry.light.astype(np.float32))
    specular = _lobe(direct * n_dot_l, n_dot_h, v_dot_h, shininess, f0)
    diffuse = np.full(n_dot_h.shape, ambient + direct * n_dot_l, dtype=np.float32)
    return diffuse, specular


def area_shininess(shininess: float, radius_rad: float) -> float:
    """Blinn-Phong exponent of a highlight lit by a source of this angular radius instead of a point.

    The lobe n.h^s is close to a Gaussian of variance 1/s in the half-vector angle; a disc source of radius r
    spreads the light direction with variance r^2/4 per axis, the half vector with a quarter of that.
    """
    return float(1.0 / (1.0 / shininess + radius_rad**2 / 16.0))


def _torch_terms(terms: _ViewTerms, distance_mm: FloatArray, torch: float) -> tuple[FloatArray, FloatArray]:
    cos_i = np.clip(terms.v_dot_n, 0.0, 1.0)
    irradiance = np.float32(torch) * (np.float32(TORCH_REFERENCE_MM) / distance_mm) ** 2 * cos_i
    return irradiance.astype(np.float32, copy=False), cos_i


def _torch_lobe(irradiance: FloatArray, cos_i: FloatArray, shininess: float, f0: float) -> FloatArray:
    """The torch's specular lobe: light at the lens, so H = V and N.H = cos_i; Fresnel at normal incidence (f0)."""
    return irradiance * np.float32((shininess + 8.0) / 8.0 * f0) * _power(cos_i, shininess)


@register_op("lighting.torch_shading")
def torch_shading(
    geometry: SurfaceGeometry, torch: float, shininess: float, f0: float
) -> tuple[FloatArray, FloatArray]:
    """Diffuse irradiance and Blinn-Phong specular radiance from a point light at the camera (the phone's torch).

    L = V at every texel, so the half vector is V: the highlight sits where the surface faces the lens, Fresnel is
    at normal incidence (f0), and the irradiance falls off with the square of the distance.
    """
    check_range("shininess", shininess, 1.0, 20000.0)
    irradiance, cos_i = _torch_terms(_ViewTerms.of(geometry), geometry.distance_mm, torch)
    return irradiance, _torch_lobe(irradiance, cos_i, shininess, f0).astype(np.float32, copy=False)


def environment_lobes(
    geometry: SurfaceGeometry, light: LightParams, lobes: tuple[tuple[float, float], ...], ambient: bool = True
) -> tuple[FloatArray, list[FloatArray]]:
    """Diffuse factor and one specular radiance per (shininess, f0) lobe, summed over the main light, every area
    light (each with its broadened lobe) and the torch. The lobes share each source's half vectors."""
    for shininess, f0 in lobes:
        check_range("shininess", shininess, 1.0, 20000.0)
        check_range("f0", f0, 0.0, 1.0)
    terms = _ViewTerms.of(geometry)
    n_dot_l, n_dot_h, v_dot_h = terms.half_terms(light.direction.astype(np.float32))
    base = (light.ambient if ambient else 0.0) + light.direct * n_dot_l
    diffuse = np.full(n_dot_h.shape, base, dtype=np.float32)
    specular = [_lobe(light.direct * n_dot_l, n_dot_h, v_dot_h, s, f0) for s, f0 in lobes]
    for area in light.area:
        n_dot_l, n_dot_h, v_dot_h = terms.half_terms(area.direction.astype(np.float32))
        diffuse += np.float32(area.strength * n_dot_l)
        for out, (s, f0) in zip(specular, lobes, strict=True):
            out += _lobe(area.strength * n_dot_l, n_dot_h, v_dot_h, area_shininess(s, area.radius_rad), f0)
    if light.torch > 0.0:
        irradiance, cos_i = _torch_terms(terms, geometry.distance_mm, light.torch)
        diffuse += irradiance
        for out, (s, f0) in zip(specular, lobes, strict=True):
            out += _torch_lobe(irradiance, cos_i, s, f0)
    return diffuse, specular


def environment_shading(
    geometry: SurfaceGeometry, light: LightParams, shininess: float, f0: float, ambient: bool = True
) -> tuple[FloatArray, FloatArray]:
    """blinn_phong summed over the main light and every area light (each with its broadened lobe), plus the torch."""
    diffuse, (specular,) = environment_lobes(geometry, light, ((shininess, f0),), ambient)
    return diffuse, specular


@register_op("lighting.ovd_diffraction")
def ovd_diffraction(
    view: FloatArray,
    light: NDArray[np.floating],
    normal: NDArray[np.float64],
    grating_angle: FloatArray,
    grating_period_nm: FloatArray,
    in_plane_x: NDArray[np.float64],
    direct: float,
    angular_spread: float = ANGULAR_SPREAD,
    efficiency: float = EFFICIENCY,
    source_radius: float = 0.0,
) -> FloatArray:
    """Radiance diffracted towards the camera by a reflection grating (the OVD foil), per texel.

    Grating equation: the orders m = 1, 2, 3 reach the viewer at lambda_m = d * |T . (L + V)| / m, where T is the
    unit grating vector in the card plane and d the period. Light leaves in the plane spanned by T and the normal,
    so the component of (L + V) along B = N x T must be small: a Gaussian of width `angular_spread` models a
    compact lamp's extent and the foil's micro-curvature. A source of angular radius `source_radius` widens that
    Gaussian (same diffracted power, lower peak) and mixes the wavelengths of its extent along T (paler colours).
    view: (..., 3); light: (3,) or per texel (..., 3); grating arrays (...); in_plane_x: the plane's x axis.
    """
    check_range("angular_spread", angular_spread, 0.01, 1.0)
    check_range("source_radius", source_radius, 0.0, 1.0)
    grating = Grating.of(grating_angle, grating_period_nm)
    axes = plane_axes(normal, in_plane_x)
    return diffracted(view, light, axes, grating, direct, angular_spread, efficiency, source_radius)


def grating_radiance(
    view: FloatArray,
    light: LightParams,
    normal: NDArray[np.float64],
    grating: Grating,
    in_plane_x: NDArray[np.float64],
    distance_mm: float,
) -> FloatArray:
    """ovd_diffraction summed over the main light, every area light and the torch (L = V at every texel)."""
    axes = plane_axes(normal, in_plane_x)
    out = diffracted(view, light.direction, axes, grating, light.direct)
    for area in light.area:
        out += diffracted(view, area.direction, axes, grating, area.strength, source_radius=area.radius_rad)
    if light.torch > 0.0:
        out += diffracted(view, view, axes, grating, light.torch_irradiance(distance_mm))
    return out
