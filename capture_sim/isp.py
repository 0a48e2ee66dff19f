"""The phone ISP: Bayer CFA, demosaic, white balance, colour matrix, tone curve, denoise, sharpening, JPEG.

Raw values are fractions of full well (0..1); internally the demosaicked image is carried as uint16
(0..65535 = 0..1), so white balance and colour correction clip at full scale the way a fixed-point ISP does.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.color import linear_to_srgb
from capture_sim.ops import register_op
from capture_sim.validation import check_choice, check_int_range
from cardlive.errors import ParameterError

if TYPE_CHECKING:
    from capture_sim.camera import CameraParams

FloatArray = NDArray[np.float32]

PHASES = ("RGGB", "BGGR", "GRBG", "GBRG")
TONES = ("srgb", "filmic", "flat")
DEMOSAIC_METHODS = ("bilinear", "ea", "vng")

# A typical phone sensor -> linear sRGB colour matrix (rows sum to 1, so grey stays grey).
CCM_TYPICAL = np.array([[1.78, -0.63, -0.15], [-0.24, 1.52, -0.28], [0.02, -0.55, 1.53]], dtype=np.float64)

# OpenCV >= 4.5 has Bayer codes named by the 2x2 cell in reading order (COLOR_BayerRGGB2RGB is its old
# COLOR_BayerBG2RGB); tests/test_camera.py checks that a pure red scene comes back red for every phase.
_DEMOSAIC_CODES = {
    "RGGB": (cv2.COLOR_BayerRGGB2RGB, cv2.COLOR_BayerRGGB2RGB_EA, cv2.COLOR_BayerRGGB2RGB_VNG),
    "BGGR": (cv2.COLOR_BayerBGGR2RGB, cv2.COLOR_BayerBGGR2RGB_EA, cv2.COLOR_BayerBGGR2RGB_VNG),
    "GRBG": (cv2.COLOR_BayerGRBG2RGB, cv2.COLOR_BayerGRBG2RGB_EA, cv2.COLOR_BayerGRBG2RGB_VNG),
    "GBRG": (cv2.COLOR_BayerGBRG2RGB, cv2.COLOR_BayerGBRG2RGB_EA, cv2.COLOR_BayerGBRG2RGB_VNG),
}
_CHANNEL = {"R": 0, "G": 1, "B": 2}
_U16 = 65535.0


def blended_ccm(strength: float) -> NDArray[np.float64]:
    """(1 - strength) I + strength CCM_TYPICAL: the ISP's colour matrix (inverse: sensor crosstalk)."""
    return np.asarray((1.0 - strength) * np.eye(3) + strength * CCM_TYPICAL)


@register_op("camera.bayer_mosaic")
def bayer_mosaic(rgb: FloatArray, phase: str) -> FloatArray:
    """One colour per photosite: (H, W, 3) -> (H, W) float32 CFA; phase = the 2x2 cell in reading order."""
    check_choice("bayer_phase", phase, PHASES)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ParameterError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    for k, letter in enumerate(phase):
        dy, dx = divmod(k, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, _CHANNEL[letter]]
    return out


def _to_u16(x: FloatArray) -> NDArray[np.uint16]:
    """[0, 1] float -> uint16 0..65535 (rounded, saturated)."""
    return np.asarray(cv2.addWeighted(x, _U16, x, 0.0, 0.0, dtype=cv2.CV_16U))


@functools.lru_cache(maxsize=1)
def _vng_expand_lut() -> NDArray[np.uint16]:
    return np.round(_U16 * (np.arange(256) / 255.0) ** 2).astype(np.uint16)


def demosaic_u16(raw: FloatArray, phase: str, method: str) -> NDArray[np.uint16]:
    """Demosaic a [0, 1] CFA to uint16 RGB (65535 = full well): OpenCV's bilinear, edge-aware or VNG method.

    OpenCV's VNG accepts 8-bit data only: the raw is square-root companded to 8 bits for it (as some cameras
    store raw files) and expanded afterwards.
    """
    check_choice("bayer_phase", phase, PHASES)
    check_choice("demosaic", method, DEMOSAIC_METHODS)
    if raw.ndim != 2:
        raise ParameterError(f"expected an (H, W) CFA image, got shape {raw.shape}")
    raw32 = np.asarray(raw, dtype=np.float32)
    code = _DEMOSAIC_CODES[phase][DEMOSAIC_METHODS.index(method)]
    if method != "vng":
        return np.asarray(cv2.cvtColor(_to_u16(raw32), code))
    root = cv2.sqrt(cv2.max(raw32, 0.0))
    companded = cv2.addWeighted(root, 255.0, root, 0.0, 0.0, dtype=cv2.CV_8U)
    return np.asarray(cv2.LUT(cv2.cvtColor(companded, code), _vng_expand_lut()))


@register_op("camera.demosaic")
def demosaic(raw: FloatArray, phase: str, method: str) -> FloatArray:
    """Demosaic a [0, 1] CFA (H, W) to linear float32 RGB (H, W, 3) in [0, 1] (see demosaic_u16)."""
    return np.asarray(demosaic_u16(raw, phase, method), dtype=np.float32) * np.float32(1.0 / _U16)


_ROLLOFF = 1.5  # highlight roll-off exponent of the ISP's digital gain (slope 1.5 at black, 1 at full well)


@functools.lru_cache(maxsize=len(TONES))
def tone_lut(tone: str) -> NDArray[np.uint8]:
    """65536-entry tone curve from linear [0, 1] of full well (uint16 code) to 8-bit display values.

    First a digital gain with highlight roll-off, g(x) = 1 - (1 - x)^1.5 (diffuse white at 0.55 of full well
    -> 0.69, mid grey 0.1 -> 0.15, full well -> 1), then: srgb: the sRGB OETF; filmic: the sRGB OETF and the
    smoothstep S-curve 3y^2 - 2y^3 (the tone curve of Brooks et al. 2019); flat: log(1 + 24 g) / log(25).
    """
    check_choice("tone", tone, TONES)
    x = np.arange(65536, dtype=np.float64) / _U16
    g = 1.0 - (1.0 - x) ** _ROLLOFF
    if tone == "flat":
        y = np.log1p(24.0 * g) / np.log(25.0)
    else:
        y = linear_to_srgb(g.astype(np.float32)).astype(np.float64)
        if tone == "filmic":
            y = 3.0 * y**2 - 2.0 * y**3
    return np.round(255.0 * y).astype(np.uint8)


def noise_reduction_sigma(params: CameraParams) -> float:
    """Range sigma (8-bit levels) of the ISP's edge-preserving luma filter: proportional to the raw noise std
    at mid signal (the ISP knows its noise profile); video pipelines denoise more."""
    noise_std = float(np.sqrt(params.shot_noise * 0.3 + params.read_noise))
    return 255.0 * noise_std * (4.5 if params.video else 3.0)


def _denoise_and_sharpen(image: NDArray[np.uint8], params: CameraParams, bgr: bool) -> NDArray[np.uint8]:
    """Phone ISP detail stage in YCrCb: chroma through a half-resolution pyramid step (phones always suppress
    chroma noise); luma through a 5x5 bilateral filter (range sigma from the noise level), then an unsharp
    mask of the luma (halos without colour fringes)."""
    h, w = image.shape[:2]
    ycc = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb if bgr else cv2.COLOR_RGB2YCrCb)
    out = cv2.pyrUp(cv2.pyrDown(ycc), dstsize=(w, h))
    luma = cv2.bilateralFilter(np.ascontiguousarray(ycc[..., 0]), 5, noise_reduction_sigma(params), 1.5)
    amount = params.sharpen_amount
    if amount > 0.0:
        blurred = cv2.GaussianBlur(luma, (0, 0), params.sharpen_radius_px)
        luma = cv2.addWeighted(luma, 1.0 + amount, blurred, -amount, 0.0)
    out[..., 0] = luma
    return np.asarray(cv2.cvtColor(out, cv2.COLOR_YCrCb2BGR if bgr else cv2.COLOR_YCrCb2RGB))


def isp_finish_u16(rgb16: NDArray[np.uint16], params: CameraParams, bgr: bool = False) -> NDArray[np.uint8]:
    """isp_finish on uint16 demosaicked raw (65535 = full well), 8-bit after the tone curve like phone ISPs;
    bgr=True returns the channels in OpenCV's order (the CCM rows permuted: no extra pass for the encoder)."""
    wb = np.diag([params.wb_gains[0], 1.0, params.wb_gains[1]]).astype(np.float32)
    balanced = cv2.transform(rgb16, wb)  # saturates at full scale: clipped highlights stay neutral
    ccm = blended_ccm(params.ccm_strength)[:: -1 if bgr else 1].astype(np.float32)
    corrected = np.asarray(cv2.transform(balanced, ccm), np.uint16)  # clipped to [0, 1]
    toned = np.asarray(cv2.LUT(corrected, tone_lut(params.tone)), np.uint8)  # OpenCV 5: 16-bit LUT index
    return _denoise_and_sharpen(toned, params, bgr)


@register_op("camera.isp_finish")
def isp_finish(rgb_linear: FloatArray, params: CameraParams) -> NDArray[np.uint8]:
    """Demosaicked raw RGB (H, W, 3, [0, 1] of full well) -> white balance -> colour matrix -> tone curve ->
    noise reduction (chroma always, luma by the noise level, more for video) -> luma unsharp mask -> uint8
    RGB."""
    if rgb_linear.ndim != 3 or rgb_linear.shape[2] != 3:
        raise ParameterError(f"expected an (H, W, 3) image, got shape {rgb_linear.shape}")
    return isp_finish_u16(_to_u16(np.asarray(rgb_linear, dtype=np.float32)), params)


@register_op("camera.encode_jpeg")
def encode_jpeg(rgb: NDArray[np.uint8], quality: int, video: bool) -> bytes:
    """Baseline JPEG of a uint8 RGB image; chroma 4:2:0 for video frames, 4:4:4 for stills."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ParameterError(f"expected a uint8 (H, W, 3) RGB image, got {rgb.dtype} {rgb.shape}")
    return encode_jpeg_bgr(np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.uint8), quality, video)


def encode_jpeg_bgr(bgr: NDArray[np.uint8], quality: int, video: bool) -> bytes:
    """encode_jpeg for an image already in OpenCV's BGR channel order."""
    check_int_range("jpeg_quality", quality, 1, 100)
    sampling = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420 if video else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444
    flags = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, buf = cv2.imencode(".jpg", np.asarray(bgr, np.uint8), flags)
    if not ok:
        raise ParameterError("JPEG encoding failed")
    return bytes(buf.tobytes())


@register_op("camera.decode_jpeg")
def decode_jpeg(data: bytes) -> NDArray[np.uint8]:
    """Decode JPEG bytes to uint8 RGB (H, W, 3)."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        raise ParameterError("the bytes are not a decodable JPEG image")
    return np.asarray(image)
