"""How the physical card looks from a given pose under a given light, in card texture space.

The card's radiance is computed per texel of its artwork: diffuse print under ambient, directional, area lights
and the torch, the laminate's specular glare (Blinn-Phong per light, moves with pose), and the OVD foil's
diffraction colours (grating equation, per light).
The same function renders the content an attacker shows or prints: a flat scan, or a photo of the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.cards import CardArtwork, render_card
from capture_sim.color import linear_to_srgb, srgb_to_linear
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, Pose
from capture_sim.lighting import LightParams, environment_diffraction, environment_shading, surface_geometry

FloatArray = NDArray[np.float32]
CARD_TEXTURE_WIDTH = 1400
_SHADING_STEP = 4  # shading is smooth: computed on a grid 4x coarser than the artwork, then interpolated


@lru_cache(maxsize=12)
def card_artwork(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> CardArtwork:
    """The card's printed artwork (cached: the variants and frames of a pair share it)."""
    return render_card(template_id, identity_seed, width_px)


_FOIL_ABSORPTION = 0.35  # the OVD foil's metal layer takes this share of the light reaching the print below


@lru_cache(maxsize=12)
def albedo_linear(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> FloatArray:
    """Linear-light albedo of the printed artwork as seen through the laminate (dimmed under the OVD foil)."""
    art = card_artwork(template_id, identity_seed, width_px)
    albedo = srgb_to_linear(art.rgb) * (1.0 - _FOIL_ABSORPTION * art.ovd_mask)[..., None]
    albedo.flags.writeable = False
    return albedo


@lru_cache(maxsize=12)
def foil_box(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> tuple[int, int, int, int]:
    """Bounding box (y0, y1, x0, x1) of the OVD foil in texels; empty (0, 0, 0, 0) when there is none."""
    ys, xs = np.nonzero(card_artwork(template_id, identity_seed, width_px).ovd_mask > 0.0)
    if ys.size == 0:
        return 0, 0, 0, 0
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


@dataclass(frozen=True)
class CardRadiance:
    radiance: FloatArray  # (h, w, 3) linear, relative to diffuse white under a unit light
    specular: FloatArray  # (h, w) laminate + foil specular part (what a person calls glare)
    diffuse_level: float  # irradiance factor of the card's diffuse print, for normalisation


def card_radiance(
    artwork: CardArtwork,
    albedo: FloatArray,
    pose: Pose,
    light: LightParams,
    shininess: float,
    f0: float,
    with_glare: bool = True,
) -> CardRadiance:
    """Radiance of the laminated card over its artwork grid, seen from `pose` (camera at the origin)."""
    h, w = albedo.shape[:2]
    gw, gh = max(8, w // _SHADING_STEP), max(8, h // _SHADING_STEP)
    geometry = surface_geometry(pose, light, CARD_WIDTH_MM, CARD_HEIGHT_MM, gw, gh)
    diffuse, specular = environment_shading(geometry, light, shininess, f0)
    _, foil_sheen = environment_shading(geometry, light, 60.0, 0.5, ambient=False)
    diffuse_level = float(diffuse.mean())
    specular_full = cv2.resize(specular, (w, h), interpolation=cv2.INTER_LINEAR) if with_glare else None
    foil = artwork.ovd_mask
    radiance = albedo * np.float32(diffuse_level)
    y0, y1, x0, x1 = foil_box(artwork.template_id, artwork.identity_seed, w)
    if y1 > y0:
        view = np.asarray(cv2.resize(geometry.view, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)[y0:y1, x0:x1]
        view /= np.linalg.norm(view, axis=-1, keepdims=True)
        colours = environment_diffraction(
            view,
            light,
            geometry.normal,
            artwork.grating_angle[y0:y1, x0:x1],
            artwork.grating_period_nm[y0:y1, x0:x1],
            pose.rotation[:, 0],
            float(np.linalg.norm(pose.translation)),
        )
        sheen = cv2.resize(foil_sheen, (w, h), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
        m = foil[y0:y1, x0:x1, None]
        radiance[y0:y1, x0:x1] += m * (colours + 0.5 * sheen[..., None])
    if specular_full is not None:
        radiance += specular_full[..., None]
        spec_out = specular_full
    else:
        spec_out = np.zeros((h, w), dtype=np.float32)
    radiance *= light.rgb
    return CardRadiance(radiance.astype(np.float32), spec_out.astype(np.float32), diffuse_level)


_SCANNER_POSE = Pose(0.0, 0.0, 0.0, 0.0, 0.0, 400.0)
_SCANNER_LIGHT = LightParams(azimuth_deg=-90.0, elevation_deg=25.0, direct=1.0, ambient=0.05, color_k=6500.0)


@lru_cache(maxsize=12)
def scan_content(template_id: str, identity_seed: int) -> NDArray[np.uint8]:
    """A flat-bed scan of the card: frontal view, lamp at 25 degrees, no specular glare; the OVD frozen as scanned."""
    artwork = card_artwork(template_id, identity_seed)
    rad = card_radiance(
        artwork, albedo_linear(template_id, identity_seed), _SCANNER_POSE, _SCANNER_LIGHT, 500.0, 0.04, False
    )
    reflectance = rad.radiance / np.float32(rad.diffuse_level)
    reflectance = np.asarray(cv2.GaussianBlur(reflectance, (0, 0), 0.6), dtype=np.float32)
    scan = np.round(linear_to_srgb(reflectance) * 255.0).astype(np.uint8)
    scan.flags.writeable = False  # cached and shared
    return scan


@lru_cache(maxsize=16)
def photo_content(
    template_id: str, identity_seed: int, pose: Pose, light: LightParams, shininess: float, f0: float
) -> NDArray[np.uint8]:
    """A photo of the genuine card (glare and the OVD's state at that pose baked in), rectified to the card."""
    artwork = card_artwork(template_id, identity_seed)
    rad = card_radiance(artwork, albedo_linear(template_id, identity_seed), pose, light, shininess, f0)
    exposed = rad.radiance / np.float32(rad.diffuse_level * 1.1)
    exposed = np.asarray(cv2.GaussianBlur(exposed, (0, 0), 1.0), dtype=np.float32)
    photo = np.round(linear_to_srgb(exposed) * 255.0).astype(np.uint8)
    photo.flags.writeable = False  # cached and shared
    return photo
