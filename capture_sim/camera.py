"""The phone camera: optics PSF, pixel integration, Bayer CFA, sensor noise (capture_sim.sensor), then the ISP
(capture_sim.isp).

Physical order (so the moire of screens and halftones arises from sampling, never from painting):
radiance on the supersampled grid -> optics PSF (Gaussian * defocus disk * motion line) -> pixel aperture
(s x s box average) -> colour response (spectral crosstalk, channel sensitivities, illuminant cast) -> Bayer
CFA sampling -> shot + read noise (Brooks et al. 2019 "Unprocessing") -> clip at full well -> demosaic -> WB
-> CCM -> tone -> noise reduction -> sharpen -> 8 bit -> JPEG.

Units: radiance is linear, 1.0 = diffuse white under the reference light; sensor signal and raw values are
fractions of the full-well capacity (0..1); lengths are in SENSOR pixels unless named otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.isp import (
    DEMOSAIC_METHODS,
    PHASES,
    TONES,
    bayer_mosaic,
    decode_jpeg,
    demosaic,
    demosaic_u16,
    encode_jpeg,
    encode_jpeg_bgr,
    isp_finish,
    isp_finish_u16,
)
from capture_sim.ops import register_op
from capture_sim.polyphase import BORDER, cfa_signal, composite_signal, gaussian_half, separable_signal
from capture_sim.sensor import add_sensor_noise, colour_response
from capture_sim.sensor import standard_normal as standard_normal
from capture_sim.validation import check_choice, check_int_range, check_range
from cardlive.errors import ParameterError

__all__ = [
    "CameraParams",
    "add_sensor_noise",
    "apply_optics",
    "bayer_mosaic",
    "decode_jpeg",
    "demosaic",
    "encode_jpeg",
    "integrate_pixels",
    "isp_finish",
    "optics_kernel",
    "photograph",
    "photograph_jpeg",
    "sample_camera_params",
    "sensor_signal",
]

FloatArray = NDArray[np.float32]

FULL_WELL_WHITE = 0.55  # sensor signal of diffuse white at exposure 1, as a fraction of full well


@dataclass(frozen=True)
class CameraParams:
    """One phone camera + ISP setting. Lengths in sensor pixels; noise in units of full well (0..1)."""

    psf_sigma_px: float  # Gaussian optics PSF sigma, 0.3-1.5
    defocus_px: float  # defocus disk radius, 0-4
    motion_px: float  # motion blur length, 0-12
    motion_angle_deg: float  # direction of the motion, 0-180 (0 = along the sensor rows)
    exposure: float  # scene radiance -> sensor signal scale, 0.3-1.5 (1: diffuse white at 0.55 of full well)
    shot_noise: float  # noise variance per unit signal, 0-0.012 (Brooks: log-uniform 1e-4..0.012)
    read_noise: float  # read noise VARIANCE, 0-0.01 (Brooks: log read = 2.18 log shot + 1.20 + N(0, 0.26))
    wb_gains: tuple[float, float]  # AWB gains (red, blue) relative to green, 1.2-2.6
    illuminant_rgb: tuple[float, float, float]  # illuminant cast the AWB leaves, 0.3-2.0 each
    ccm_strength: float  # 0-1 blend of a typical sensor->sRGB colour matrix (sensor crosstalk it undoes)
    tone: str  # "srgb", "filmic" (S-curve) or "flat" (log-like)
    sharpen_amount: float  # unsharp mask amount, 0-1.5
    sharpen_radius_px: float  # unsharp mask Gaussian sigma, 0.5-2.0
    jpeg_quality: int  # 50-95 (phone video frames 50-75, stills 75-95)
    video: bool  # video frame: 4:2:0 chroma subsampling and stronger denoise
    demosaic: str  # "bilinear", "ea" (OpenCV edge-aware) or "vng"
    bayer_phase: str  # colour of the 2x2 CFA cell in reading order: "RGGB", "BGGR", "GRBG" or "GBRG"

    def __post_init__(self) -> None:
        check_range("camera.psf_sigma_px", self.psf_sigma_px, 0.3, 1.5)
        check_range("camera.defocus_px", self.defocus_px, 0.0, 4.0)
        check_range("camera.motion_px", self.motion_px, 0.0, 12.0)
        check_range("camera.motion_angle_deg", self.motion_angle_deg, 0.0, 180.0)
        check_range("camera.exposure", self.exposure, 0.3, 1.5)
        check_range("camera.shot_noise", self.shot_noise, 0.0, 0.012)
        check_range("camera.read_noise", self.read_noise, 0.0, 0.01)
        if len(self.wb_gains) != 2:
            raise ParameterError(f"camera.wb_gains={self.wb_gains!r} must be (red, blue) gains in [1.2, 2.6]")
        for name, gain in zip(("red", "blue"), self.wb_gains, strict=True):
            check_range(f"camera.wb_gains.{name}", gain, 1.2, 2.6)
        if len(self.illuminant_rgb) != 3:
            raise ParameterError(f"camera.illuminant_rgb={self.illuminant_rgb!r} needs 3 values in [0.3, 2.0]")
        for name, value in zip("rgb", self.illuminant_rgb, strict=True):
            check_range(f"camera.illuminant_rgb.{name}", value, 0.3, 2.0)
        check_range("camera.ccm_strength", self.ccm_strength, 0.0, 1.0)
        check_choice("camera.tone", self.tone, TONES)
        check_range("camera.sharpen_amount", self.sharpen_amount, 0.0, 1.5)
        check_range("camera.sharpen_radius_px", self.sharpen_radius_px, 0.5, 2.0)
        check_int_range("camera.jpeg_quality", self.jpeg_quality, 50, 95)
        check_choice("camera.video", self.video, (True, False))
        check_choice("camera.demosaic", self.demosaic, DEMOSAIC_METHODS)
        check_choice("camera.bayer_phase", self.bayer_phase, PHASES)


def sample_camera_params(rng: np.random.Generator, video: bool) -> CameraParams:
    """Draw a phone camera setting. Noise follows Brooks et al. 2019; video frames get lower JPEG quality."""
    log_shot = rng.uniform(math.log(1e-4), math.log(0.012))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    defocus = float(rng.uniform(0.2, 2.5)) if rng.random() < 0.4 else 0.0
    motion_max = 6.0 if video else 3.0
    motion = float(rng.uniform(0.3, motion_max)) if rng.random() < (0.5 if video else 0.3) else 0.0
    tint = np.exp(rng.normal(0.0, 0.06, size=2))
    return CameraParams(
        psf_sigma_px=float(rng.uniform(0.3, 0.75)),
        defocus_px=defocus,
        motion_px=motion,
        motion_angle_deg=float(rng.uniform(0.0, 180.0)),
        exposure=float(math.exp(rng.uniform(math.log(0.5), math.log(1.2)))),
        shot_noise=float(math.exp(log_shot)),
        read_noise=float(min(math.exp(log_read), 0.01)),
        wb_gains=(float(rng.uniform(1.9, 2.4)), float(rng.uniform(1.5, 1.9))),  # Brooks et al. ranges
        illuminant_rgb=(float(tint[0]), 1.0, float(tint[1])),
        ccm_strength=float(rng.uniform(0.3, 1.0)),
        tone=str(rng.choice(TONES, p=[0.4, 0.45, 0.15])),
        sharpen_amount=float(rng.uniform(0.2, 1.2)),
        sharpen_radius_px=float(rng.uniform(0.6, 1.5)),
        jpeg_quality=int(rng.integers(50, 76) if video else rng.integers(75, 96)),
        video=video,
        demosaic=str(rng.choice(DEMOSAIC_METHODS, p=[0.2, 0.35, 0.45])),  # VNG: closest to phone ISPs
        bayer_phase=str(rng.choice(PHASES)),
    )


# ---------------------------------------------------------------------------------------------------- optics


def _has_extra_blur(params: CameraParams) -> bool:
    return params.defocus_px > 0.0 or params.motion_px > 0.0


def _disk(radius: float, half: int) -> NDArray[np.float64]:
    """Uniform disk of the given radius (grid px), area-sampled 8 x 8 per pixel, on a (2 half + 1)^2 grid."""
    sub = (np.arange(8) + 0.5) / 8.0 - 0.5
    coords = (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel()
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2
    n = 2 * half + 1
    disk = inside.reshape(n, 8, n, 8).mean(axis=(1, 3))
    if disk.sum() == 0.0:  # radius below the sampling: a point
        disk[half, half] = 1.0
    return np.asarray(disk / disk.sum())


def _line(length: float, angle_deg: float, half: int) -> NDArray[np.float64]:
    """A centred line segment (uniform exposure along the motion path), bilinearly splatted."""
    n = 2 * half + 1
    out = np.zeros((n, n), dtype=np.float64)
    count = max(math.ceil(length * 4.0) + 1, 2)
    t = np.linspace(-length / 2.0, length / 2.0, count)
    x = half + t * math.cos(math.radians(angle_deg))
    y = half + t * math.sin(math.radians(angle_deg))
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dy, dx, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (0, 1, fx * (1 - fy)),
        (1, 0, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(out, (np.clip(y0 + dy, 0, n - 1), np.clip(x0 + dx, 0, n - 1)), w)
    return out / out.sum()


def optics_kernel(params: CameraParams, scale: int) -> FloatArray:
    """The optics PSF on the supersampled grid (odd square, sum 1): Gaussian * defocus disk * motion line."""
    check_int_range("scale", scale, 1, 4)
    sigma = params.psf_sigma_px * scale
    radius = params.defocus_px * scale
    length = params.motion_px * scale
    half = gaussian_half(sigma) + math.ceil(radius + length / 2.0)
    g = cv2.getGaussianKernel(2 * half + 1, sigma, cv2.CV_64F)
    kernel = np.asarray(g @ g.T, dtype=np.float64)
    # 'same'-size convolutions of centred kernels (disk and line are symmetric under a 180 degree rotation)
    if radius > 0.0:
        kernel = np.asarray(cv2.filter2D(kernel, -1, _disk(radius, half), borderType=cv2.BORDER_CONSTANT))
    if length > 0.0:
        line = _line(length, params.motion_angle_deg, half)
        kernel = np.asarray(cv2.filter2D(kernel, -1, line, borderType=cv2.BORDER_CONSTANT))
    return (kernel / kernel.sum()).astype(np.float32)


@register_op("camera.apply_optics")
def apply_optics(radiance: FloatArray, params: CameraParams, scale: int) -> FloatArray:
    """Blur the supersampled radiance (sH, sW, 3) by the optics PSF (reference filter at full resolution)."""
    image = _as_float_image(radiance)
    if not _has_extra_blur(params):
        sigma = params.psf_sigma_px * scale
        size = 2 * gaussian_half(sigma) + 1
        return np.asarray(cv2.GaussianBlur(image, (size, size), sigma, borderType=BORDER))
    return np.asarray(cv2.filter2D(image, -1, optics_kernel(params, scale), borderType=BORDER))


@register_op("camera.integrate_pixels")
def integrate_pixels(radiance: FloatArray, scale: int) -> FloatArray:
    """Pixel aperture: average each s x s block of the supersampled grid (sH, sW, 3) -> (H, W, 3)."""
    check_int_range("scale", scale, 1, 4)
    image = _as_float_image(radiance)
    _check_multiple(image, scale)
    if scale == 1:
        return image.copy()
    h, w = image.shape[0] // scale, image.shape[1] // scale
    return np.asarray(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))


@register_op("camera.sensor_signal")
def sensor_signal(radiance: FloatArray, scale: int, params: CameraParams, exposure_gain: float = 1.0) -> FloatArray:
    """Optics + pixel integration + exposure: the (H, W, 3) signal in fractions of full well (no CFA).

    exposure_gain scales the radiance (auto-exposure); it is folded into the filter weights."""
    check_int_range("scale", scale, 1, 4)
    image = _as_float_image(radiance)
    _check_multiple(image, scale)
    gain = FULL_WELL_WHITE * params.exposure * exposure_gain
    if _has_extra_blur(params):
        return composite_signal(image, optics_kernel(params, scale).astype(np.float64), scale, gain)
    return separable_signal(image, params.psf_sigma_px * scale, scale, gain)


@register_op("camera.photograph")
def photograph(
    radiance: FloatArray, scale: int, params: CameraParams, rng: np.random.Generator, exposure_gain: float = 1.0
) -> tuple[NDArray[np.uint8], bytes]:
    """The whole camera: supersampled radiance (sH, sW, 3) times exposure_gain -> (decoded uint8 RGB (H, W, 3),
    JPEG bytes)."""
    data = photograph_jpeg(radiance, scale, params, rng, exposure_gain)
    return decode_jpeg(data), data


@register_op("camera.photograph_jpeg")
def photograph_jpeg(
    radiance: FloatArray, scale: int, params: CameraParams, rng: np.random.Generator, exposure_gain: float = 1.0
) -> bytes:
    """photograph without decoding: the JPEG file the phone writes (what a dataset stores)."""
    colour = colour_response(params)
    image = _as_float_image(radiance)
    even = image.shape[0] % (2 * scale) == 0 and image.shape[1] % (2 * scale) == 0
    if _has_extra_blur(params) and even:  # only the colour each photosite keeps (polyphase.cfa_signal)
        gain = FULL_WELL_WHITE * params.exposure * exposure_gain
        kernel = optics_kernel(params, scale).astype(np.float64)
        mosaic = cfa_signal(image, kernel, scale, gain, colour, params.bayer_phase)
    else:
        signal = sensor_signal(image, scale, params, exposure_gain)
        mosaic = bayer_mosaic(np.asarray(cv2.transform(signal, colour), np.float32), params.bayer_phase)
    raw = add_sensor_noise(mosaic, params, rng)
    frame_bgr = isp_finish_u16(demosaic_u16(raw, params.bayer_phase, params.demosaic), params, bgr=True)
    return encode_jpeg_bgr(frame_bgr, params.jpeg_quality, params.video)


def _f32(array: object) -> FloatArray:
    return np.asarray(array, dtype=np.float32)


def _as_float_image(image: NDArray[np.floating]) -> FloatArray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ParameterError(f"expected an (H, W, 3) image, got shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.float32)


def _check_multiple(image: FloatArray, scale: int) -> None:
    if image.shape[0] % scale or image.shape[1] % scale:
        raise ParameterError(
            f"radiance size {image.shape[1]}x{image.shape[0]} is not a multiple of the supersampling scale {scale}"
        )
