"""Screen replay: a display showing an image of the card, as the camera sees it.

This module gives the true emission of the display; the renderer places the display plane in 3D, samples it
on a supersampled grid and photographs it (glass reflections, optics PSF, sensor box, Bayer CFA, demosaic,
noise, JPEG). Moire comes out of that camera sampling of the subpixel structure; nothing here paints a moire
pattern.

Units: display pixels for positions on the panel (u right, v down, origin at the top-left corner of the
active area); emission is linear RGB relative to diffuse white paper under the scene's reference light
(1.0); times in seconds. Apertures are box-prefiltered in closed form over each sample's footprint (see
subpixels.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.color import blackbody_linear_rgb
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM
from capture_sim.ops import register_op
from capture_sim.presentation.subpixels import LAYOUTS, aperture_into, check_footprint_shape, half_footprint
from capture_sim.validation import check_choice, check_int_range, check_range
from cardlive.errors import ParameterError

FloatArray = NDArray[np.float32]
SCREEN_FAMILIES = ("phone_oled_pentile", "laptop_lcd_rgb", "monitor_lcd_bgr", "tablet_lcd")
CONTENT_SOURCES = ("scan", "photo", "video")
MM_PER_INCH = 25.4
_CHUNK_ROWS = 32


@dataclass(frozen=True)
class PanelParams:
    """A display panel showing the card. Ranges are checked on construction (ParameterError names them)."""

    family: str  # one of SCREEN_FAMILIES
    layout: str  # "rgb_stripe", "bgr_stripe", "pentile_diamond"
    ppi: float  # pixels per inch, 50-600
    subpixel_fill: float  # aperture ratio: emitting fraction of a subpixel's slot, 0.3-0.95
    gamma: float  # display EOTF exponent applied to code values, 1.8-2.6
    white_point_k: float  # correlated colour temperature of full white, 5000-10000 K
    peak_luminance: float  # full white relative to diffuse white paper under the scene light, 0.3-4.0
    black_level: float  # emission of code 0 relative to white, 0-0.02 (OLED 0, LCD 0.001-0.01)
    pwm_hz: float  # backlight / OLED PWM frequency, 0 = DC dimming, else 60-2000 Hz
    pwm_duty: float  # fraction of each PWM period that is on, 0.1-1.0
    glass_reflectance: float  # specular reflectance of the cover glass, 0.005-0.06
    matte_haze: float  # 0 = glossy glass, 1 = strong anti-glare diffusion
    screen_width_mm: float  # active area width (landscape), 100-700 mm
    screen_height_mm: float  # active area height (landscape), 40-450 mm
    bezel_mm: float  # bezel width, 0-20 mm
    content_scale: float  # size of the shown card relative to the physical card, 0.7-1.6
    content_source: str  # "scan", "photo" or "video"

    def __post_init__(self) -> None:
        check_choice("family", self.family, SCREEN_FAMILIES)
        check_choice("layout", self.layout, LAYOUTS)
        check_range("ppi", self.ppi, 50.0, 600.0)
        check_range("subpixel_fill", self.subpixel_fill, 0.3, 0.95)
        check_range("gamma", self.gamma, 1.8, 2.6)
        check_range("white_point_k", self.white_point_k, 5000.0, 10000.0)
        check_range("peak_luminance", self.peak_luminance, 0.3, 4.0)
        check_range("black_level", self.black_level, 0.0, 0.02)
        check_range("pwm_hz", self.pwm_hz, 0.0, 2000.0)
        if 0.0 < self.pwm_hz < 60.0:
            raise ParameterError(f"pwm_hz={self.pwm_hz!r} is not allowed; expected 0 (DC) or a value in [60, 2000]")
        check_range("pwm_duty", self.pwm_duty, 0.1, 1.0)
        check_range("glass_reflectance", self.glass_reflectance, 0.005, 0.06)
        check_range("matte_haze", self.matte_haze, 0.0, 1.0)
        check_range("screen_width_mm", self.screen_width_mm, 100.0, 700.0)
        check_range("screen_height_mm", self.screen_height_mm, 40.0, 450.0)
        check_range("bezel_mm", self.bezel_mm, 0.0, 20.0)
        check_range("content_scale", self.content_scale, 0.7, 1.6)
        check_choice("content_source", self.content_source, CONTENT_SOURCES)


@dataclass(frozen=True)
class _FamilyRanges:
    layout: str
    ppi: tuple[float, float]
    fill: tuple[float, float]
    gamma: tuple[float, float]
    white_k: tuple[float, float]
    peak: tuple[float, float]
    black: tuple[float, float]
    p_pwm: float  # probability of PWM dimming (else DC)
    pwm_hz: tuple[float, float]
    duty: tuple[float, float]
    glass: tuple[float, float]
    haze: tuple[float, float]
    width_mm: tuple[float, float]
    aspect: tuple[float, float]  # height / width of the active area
    bezel_mm: tuple[float, float]


# Published / datasheet-typical ranges per instrument family.
_FAMILIES: dict[str, _FamilyRanges] = {
    "phone_oled_pentile": _FamilyRanges(
        "pentile_diamond", (380, 520), (0.3, 0.55), (2.1, 2.4), (6300, 7800), (0.6, 3.0), (0.0, 0.0),
        1.0, (240, 480), (0.3, 1.0), (0.03, 0.05), (0.0, 0.05), (140, 160), (0.43, 0.49), (1, 4),
    ),
    "laptop_lcd_rgb": _FamilyRanges(
        "rgb_stripe", (110, 230), (0.6, 0.85), (2.0, 2.4), (6000, 7500), (0.5, 2.0), (0.001, 0.005),
        0.5, (1000, 2000), (0.2, 1.0), (0.005, 0.02), (0.4, 1.0), (290, 345), (0.5625, 0.667), (3, 10),
    ),
    "monitor_lcd_bgr": _FamilyRanges(
        "bgr_stripe", (50, 110), (0.7, 0.9), (2.1, 2.4), (6000, 9300), (0.5, 2.5), (0.001, 0.01),
        0.5, (200, 1000), (0.2, 1.0), (0.005, 0.02), (0.5, 1.0), (520, 600), (0.5625, 0.625), (2, 20),
    ),
    "tablet_lcd": _FamilyRanges(
        "rgb_stripe", (220, 330), (0.6, 0.85), (2.1, 2.3), (6200, 7500), (0.6, 2.5), (0.001, 0.004),
        0.25, (240, 2000), (0.3, 1.0), (0.03, 0.05), (0.0, 0.1), (230, 270), (0.66, 0.75), (5, 12),
    ),
}  # fmt: skip


def sample_panel_params(rng: np.random.Generator, family: str) -> PanelParams:
    """Draw a panel of the named family (one of SCREEN_FAMILIES) from its published ranges."""
    check_choice("family", family, SCREEN_FAMILIES)
    fr = _FAMILIES[family]

    def uni(bounds: tuple[float, float]) -> float:
        return float(rng.uniform(bounds[0], bounds[1]))

    ppi = min(uni(fr.ppi), 600.0)
    width = uni(fr.width_mm)
    height = width * uni(fr.aspect)
    pwm = rng.random() < fr.p_pwm
    pwm_hz = uni(fr.pwm_hz) if pwm else 0.0
    duty = uni(fr.duty) if pwm else 1.0
    # the card is shown no larger than fits the screen (an image viewer's "fit" is the upper end)
    fit = min(width / CARD_WIDTH_MM, height / CARD_HEIGHT_MM, 1.6)
    scale = uni((0.7, max(0.7, fit)))
    source = CONTENT_SOURCES[int(rng.choice(3, p=[0.45, 0.4, 0.15]))]
    return PanelParams(
        family=family,
        layout=fr.layout,
        ppi=ppi,
        subpixel_fill=uni(fr.fill),
        gamma=uni(fr.gamma),
        white_point_k=uni(fr.white_k),
        peak_luminance=uni(fr.peak),
        black_level=uni(fr.black),
        pwm_hz=pwm_hz,
        pwm_duty=duty,
        glass_reflectance=uni(fr.glass),
        matte_haze=uni(fr.haze),
        screen_width_mm=width,
        screen_height_mm=height,
        bezel_mm=uni(fr.bezel_mm),
        content_scale=scale,
        content_source=source,
    )


def panel_size_px(panel: PanelParams) -> tuple[int, int]:
    """Active area (width, height) in display pixels."""
    return (
        max(1, round(panel.screen_width_mm * panel.ppi / MM_PER_INCH)),
        max(1, round(panel.screen_height_mm * panel.ppi / MM_PER_INCH)),
    )


def card_size_display_px(panel: PanelParams) -> tuple[int, int]:
    """(width, height) in display pixels of the card image shown at content_scale times its physical size."""
    px_per_mm = panel.ppi / MM_PER_INCH * panel.content_scale
    return max(1, round(CARD_WIDTH_MM * px_per_mm)), max(1, round(CARD_HEIGHT_MM * px_per_mm))


@lru_cache(maxsize=64)
def _white_rgb(kelvin: float) -> tuple[float, float, float]:
    rgb = blackbody_linear_rgb(kelvin)
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def white_emission(panel: PanelParams) -> FloatArray:
    """Linear RGB emission of full white: white point (green = 1) times peak luminance, float32 (3,)."""
    return np.asarray(_white_rgb(panel.white_point_k), dtype=np.float32) * np.float32(panel.peak_luminance)


def black_emission(panel: PanelParams) -> FloatArray:
    """Linear RGB emission of code 0 (the black level), float32 (3,)."""
    return white_emission(panel) * np.float32(panel.black_level)


@register_op("screen.framebuffer")
def framebuffer(content_srgb: NDArray[np.uint8], panel: PanelParams, card_px: tuple[int, int]) -> FloatArray:
    """The card image as emitted by the display's pixels, float32 (h, w, 3) linear, relative to paper white.

    content_srgb: uint8 (H, W, 3) sRGB code values of the card image; card_px: (width, height) in display
    pixels (see card_size_display_px). The image is resized with area averaging on the code values (as an
    image viewer does), then the display transfer maps code c in [0, 1] to white * (black + (1 - black) * c
    ** gamma).
    """
    if content_srgb.dtype != np.uint8 or content_srgb.ndim != 3 or content_srgb.shape[2] != 3:
        raise ParameterError(
            f"content_srgb must be uint8 (H, W, 3); got {content_srgb.dtype} with shape {content_srgb.shape}"
        )
    width, height = card_px
    check_int_range("card_px width", int(width), 1, 16384)
    check_int_range("card_px height", int(height), 1, 16384)
    codes = cv2.resize(content_srgb, (int(width), int(height)), interpolation=cv2.INTER_AREA)
    eotf = (np.arange(256, dtype=np.float64) / 255.0) ** panel.gamma
    level = panel.black_level + (1.0 - panel.black_level) * eotf
    lut = (level[:, None] * white_emission(panel)[None, :].astype(np.float64)).astype(np.float32)
    out = cv2.LUT(codes.reshape(int(height), int(width), 3), lut.reshape(256, 1, 3))
    return np.asarray(out, dtype=np.float32).reshape(int(height), int(width), 3)


def _content_block(
    fb: FloatArray, mu: FloatArray, mv: FloatArray, near: bool, black: tuple[float, ...], out: FloatArray | None = None
) -> FloatArray:
    """Framebuffer values at map coordinates (nearest: integer pixel indices; bilinear: centre based), written
    into `out` (mu's shape x 3, contiguous) when given."""
    interp = cv2.INTER_NEAREST if near else cv2.INTER_LINEAR
    values = cv2.remap(fb, mu, mv, interp, dst=out, borderMode=cv2.BORDER_CONSTANT, borderValue=black)
    return np.asarray(values, dtype=np.float32).reshape(*mu.shape, 3)


def _big_footprints(foot: float | FloatArray, shape: tuple[int, ...]) -> tuple[bool, bool]:
    """Whether any / all samples span at least one display pixel (half_footprint >= 0.5), from the extremes."""
    if isinstance(foot, float):
        big = float(half_footprint(foot, shape)) >= 0.5
        return big, big
    check_footprint_shape(foot.shape, shape)
    lo, hi = cv2.minMaxLoc(foot)[:2]
    extremes = np.asarray(half_footprint(np.array([[lo, hi]], dtype=np.float32), (1, 2)))
    return bool(extremes[0, 1] >= 0.5), bool(extremes[0, 0] >= 0.5)


@register_op("screen.emission")
def screen_emission(
    fb: FloatArray,
    u: NDArray[np.floating],
    v: NDArray[np.floating],
    footprint_px: NDArray[np.floating] | float,
    panel: PanelParams,
    fb_origin_px: tuple[float, float] = (0.0, 0.0),
) -> FloatArray:
    """Emitted radiance of the display at samples (u, v), float32 (H, W, 3), linear, relative to paper white.

    fb: framebuffer (h, w, 3) from `framebuffer`, its top-left pixel at fb_origin_px (display pixels) on the
    panel; u, v: sample positions in display pixels, (H, W); footprint_px: side of the square area (display
    pixels) each sample covers, scalar or (H, W). Each sample is the framebuffer pixel under it (black level
    where the framebuffer does not cover the panel; bilinear content where the footprint is >= 1 pixel)
    times the closed-form box average of each channel's subpixel aperture over the footprint; outside the
    active area the panel emits 0 (the renderer draws the bezel). Full white averages to white point * peak
    luminance.
    """
    u32 = np.asarray(u, dtype=np.float32)
    v32 = np.asarray(v, dtype=np.float32)
    if u32.shape != v32.shape or u32.ndim != 2:
        raise ParameterError(f"u and v must be 2D arrays of one shape; got {u32.shape} and {v32.shape}")
    if fb.ndim != 3 or fb.shape[2] != 3:
        raise ParameterError(f"fb must be (h, w, 3); got shape {fb.shape}")
    fb32 = np.ascontiguousarray(fb, dtype=np.float32)
    foot = float(footprint_px) if np.ndim(footprint_px) == 0 else np.asarray(footprint_px, dtype=np.float32)
    any_big, all_big = _big_footprints(foot, u32.shape)
    black = (*(float(x) for x in black_emission(panel)), 0.0)
    size = panel_size_px(panel)
    ox, oy = np.float32(fb_origin_px[0]), np.float32(fb_origin_px[1])
    out = np.empty((*u32.shape, 3), dtype=np.float32)
    for r0 in range(0, u32.shape[0], _CHUNK_ROWS):
        rows = slice(r0, r0 + _CHUNK_ROWS)
        ub, vb = u32[rows], v32[rows]
        mu, mv = ub - ox, vb - oy
        hw = half_footprint(foot if isinstance(foot, float) else foot[rows], ub.shape)
        block = out[rows]
        if all_big:
            _content_block(fb32, mu - np.float32(0.5), mv - np.float32(0.5), False, black, block)
        else:
            _content_block(fb32, np.floor(mu), np.floor(mv), True, black, block)
            if any_big:
                smooth = _content_block(fb32, mu - np.float32(0.5), mv - np.float32(0.5), False, black)
                np.copyto(block, smooth, where=(np.asarray(hw) >= 0.5)[..., None])
        aperture_into(block, ub, vb, hw, panel.layout, panel.subpixel_fill, size)
    return out


@register_op("screen.pwm_row_gain")
def pwm_row_gain(
    rows: NDArray[np.integer] | NDArray[np.floating],
    panel: PanelParams,
    exposure_s: float,
    line_time_s: float,
    phase: float,
) -> FloatArray:
    """Rolling-shutter PWM gain per sensor row, float32 of rows' shape, mean ~1 over many PWM periods.

    Row r integrates [t0, t0 + exposure_s] with t0 = phase + r * line_time_s (seconds; phase is the start of
    row 0 relative to the start of an on-phase of the PWM). The gain is the fraction of that window during
    which the square wave (pwm_hz, duty) is on, divided by duty. DC (pwm_hz == 0) or duty 1 gives ones.
    Bands repeat every 1 / (pwm_hz * line_time_s) rows.
    """
    check_range("exposure_s", exposure_s, 0.0, 10.0)
    check_range("line_time_s", line_time_s, 0.0, 1.0)
    r = np.asarray(rows, dtype=np.float64)
    if panel.pwm_hz == 0.0 or panel.pwm_duty >= 1.0:
        return np.ones(r.shape, dtype=np.float32)
    period = 1.0 / panel.pwm_hz
    on = panel.pwm_duty * period
    exposure = max(float(exposure_s), 1e-9)
    t0 = float(phase) + r * float(line_time_s)

    def on_time(t: NDArray[np.float64]) -> NDArray[np.float64]:
        cycles = np.floor(t / period)
        return np.asarray(cycles * on + np.clip(t - cycles * period, 0.0, on))

    gain = (on_time(t0 + exposure) - on_time(t0)) / (exposure * panel.pwm_duty)
    return gain.astype(np.float32)


def predicted_moire_period_px(panel: PanelParams, display_px_per_sensor_px: float) -> float:
    """Period in sensor pixels of the alias of the display's pixel-grid frequency (inf when it aliases to DC).

    display_px_per_sensor_px is the pixel-grid frequency on the sensor in cycles per sensor pixel (the inverse
    of the display pixel pitch measured in sensor pixels). Aliased to |f - round(f)| cycles / px.
    """
    check_range("display_px_per_sensor_px", display_px_per_sensor_px, 1e-6, 1e6)
    f = float(display_px_per_sensor_px)  # every layout (panel.layout) has its pixel grid at 1 cycle per pixel
    alias = abs(f - round(f))
    return float("inf") if alias < 1e-12 else 1.0 / alias
