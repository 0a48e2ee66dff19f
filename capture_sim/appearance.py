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
from capture_sim.color import linear_to_srgb_u8, srgb_to_linear
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, Pose
from capture_sim.grating import Grating
from capture_sim.lighting import LightParams, environment_lobes, grating_radiance, surface_geometry

FloatArray = NDArray[np.float32]
CARD_TEXTURE_WIDTH = 1400
_SHADING_STEP = 4  # shading is smooth: computed on a grid 4x coarser than the artwork, then interpolated


@lru_cache(maxsize=12)
def _artwork(template_id: str, identity_seed: int, width_px: int) -> CardArtwork:
    return render_card(template_id, identity_seed, width_px)


def card_artwork(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> CardArtwork:
    """The card's printed artwork (cached: the variants and frames of a pair share it)."""
    return _artwork(template_id, identity_seed, width_px)


_FOIL_ABSORPTION = 0.35  # the OVD foil's metal layer takes this share of the light reaching the print below


@lru_cache(maxsize=12)
def _albedo(template_id: str, identity_seed: int, width_px: int) -> FloatArray:
    art = card_artwork(template_id, identity_seed, width_px)
    albedo = srgb_to_linear(art.rgb) * (1.0 - _FOIL_ABSORPTION * art.ovd_mask)[..., None]
    albedo.flags.writeable = False
    return albedo


def albedo_linear(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> FloatArray:
    """Linear-light albedo of the printed artwork as seen through the laminate (dimmed under the OVD foil)."""
    return _albedo(template_id, identity_seed, width_px)


@lru_cache(maxsize=12)
def _foil_box(template_id: str, identity_seed: int, width_px: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(card_artwork(template_id, identity_seed, width_px).ovd_mask > 0.0)
    if ys.size == 0:
        return 0, 0, 0, 0
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def foil_box(template_id: str, identity_seed: int, width_px: int = CARD_TEXTURE_WIDTH) -> tuple[int, int, int, int]:
    """Bounding box (y0, y1, x0, x1) of the OVD foil in texels; empty (0, 0, 0, 0) when there is none."""
    return _foil_box(template_id, identity_seed, width_px)


def clear_caches() -> None:
    """Forget every card's artwork and what is derived from it (benchmarks time a cold pair)."""
    for cached in (_artwork, _albedo, _foil_box, _foil_texels, scan_content):
        cached.cache_clear()


def _shading_grid(w: int, h: int) -> tuple[int, int]:
    return max(8, w // _SHADING_STEP), max(8, h // _SHADING_STEP)


def _linear_taps(n_out: int, n_in: int) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
    """Source indices and weight of the second one for each output of cv2.resize's INTER_LINEAR (n_in -> n_out)."""
    pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(pos).astype(np.intp)
    frac = (pos - i0).astype(np.float32)
    frac[i0 < 0] = 0.0
    frac[i0 >= n_in - 1] = 0.0
    i0 = np.clip(i0, 0, n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), frac


@dataclass(frozen=True)
class _FoilTexels:
    """The texels the OVD foil covers (mask > 0), with what they need from the artwork and the shading grid."""

    index: NDArray[np.intp]  # flat texel index row * w + column
    mask: FloatArray  # (n, 1) foil coverage
    grating: Grating  # (n,) per texel
    taps: tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]  # shading-grid cells
    fx: FloatArray  # (n, 1) bilinear weights of the right and lower cells
    fy: FloatArray


@lru_cache(maxsize=12)
def _foil_texels(template_id: str, identity_seed: int, width_px: int) -> _FoilTexels:
    art = card_artwork(template_id, identity_seed, width_px)
    h, w = art.ovd_mask.shape
    gw, gh = _shading_grid(w, h)
    rows, cols = np.nonzero(art.ovd_mask > 0.0)
    col0, col1, col_frac = _linear_taps(w, gw)
    row0, row1, row_frac = _linear_taps(h, gh)
    x0, x1, fx = col0[cols], col1[cols], col_frac[cols]
    y0, y1, fy = row0[rows], row1[rows], row_frac[rows]
    return _FoilTexels(
        index=rows * w + cols,
        mask=art.ovd_mask[rows, cols][:, None],
        grating=Grating.of(art.grating_angle[rows, cols], art.grating_period_nm[rows, cols]),
        taps=(y0 * gw + x0, y0 * gw + x1, y1 * gw + x0, y1 * gw + x1),
        fx=fx[:, None],
        fy=fy[:, None],
    )


def _bilinear(grid: FloatArray, foil: _FoilTexels) -> FloatArray:
    """cv2.resize(grid, artwork size, INTER_LINEAR) at the foil's texels only: (n, channels)."""
    flat = grid.reshape(-1, grid.shape[-1])
    i00, i01, i10, i11 = foil.taps
    one = np.float32(1.0)
    top = flat[i00] * (one - foil.fx) + flat[i01] * foil.fx
    bottom = flat[i10] * (one - foil.fx) + flat[i11] * foil.fx
    return top * (one - foil.fy) + bottom * foil.fy


@dataclass(frozen=True)
class CardRadiance:
    rgbs: FloatArray  # (h, w, 4): linear radiance relative to diffuse white under a unit light, then the specular
    diffuse_level: float  # irradiance factor of the card's diffuse print, for normalisation

    @property
    def radiance(self) -> FloatArray:
        """(h, w, 3) linear radiance (a view)."""
        return self.rgbs[..., :3]

    @property
    def specular(self) -> FloatArray:
        """(h, w) laminate + foil specular part (what a person calls glare; a view)."""
        return self.rgbs[..., 3]


def card_radiance(
    artwork: CardArtwork,
    albedo: FloatArray,
    pose: Pose,
    light: LightParams,
    shininess: float,
    f0: float,
    with_glare: bool = True,
) -> CardRadiance:
    """Radiance of the laminated card over its artwork grid, seen from `pose` (camera at the origin).

    The diffuse print and the glare are evaluated everywhere, the foil's diffraction and sheen only at the texels
    the foil covers (it adds nothing elsewhere)."""
    h, w = albedo.shape[:2]
    gw, gh = _shading_grid(w, h)
    geometry = surface_geometry(pose, light, CARD_WIDTH_MM, CARD_HEIGHT_MM, gw, gh)
    diffuse, (specular, foil_sheen) = environment_lobes(geometry, light, ((shininess, f0), (60.0, 0.5)))
    diffuse_level = float(diffuse.mean())
    if with_glare:
        specular_full = np.asarray(cv2.resize(specular, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    else:
        specular_full = np.zeros((h, w), dtype=np.float32)
    rgb = [float(c) for c in light.rgb]
    mix = np.zeros((4, 4), dtype=np.float32)
    mix[0:3, 0:3] = np.diag([diffuse_level * c for c in rgb])
    mix[0:3, 3] = rgb
    mix[3, 3] = 1.0
    rgbs = np.asarray(cv2.transform(cv2.merge([albedo, specular_full]), mix), dtype=np.float32)
    y0, y1, _, _ = foil_box(artwork.template_id, artwork.identity_seed, w)
    if y1 > y0:
        foil = _foil_texels(artwork.template_id, artwork.identity_seed, w)
        coarse = _bilinear(np.concatenate([geometry.view, foil_sheen[..., None]], axis=-1), foil)
        view = np.ascontiguousarray(coarse[:, :3])
        view /= np.sqrt(np.einsum("ij,ij->i", view, view))[:, None]
        colours = grating_radiance(
            view, light, geometry.normal, foil.grating, pose.rotation[:, 0], float(np.linalg.norm(pose.translation))
        )
        colours += np.float32(0.5) * coarse[:, 3:]
        colours *= foil.mask * light.rgb
        flat = rgbs.reshape(-1, 4)
        flat[foil.index, :3] += colours
    return CardRadiance(rgbs, diffuse_level)


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
    scan = linear_to_srgb_u8(reflectance)
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
    photo = linear_to_srgb_u8(exposed)
    photo.flags.writeable = False  # cached and shared
    return photo
