"""Op-table cases for the camera and ISP ops (capture_sim.camera, capture_sim.isp)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from capture_sim.camera import (
    CameraParams,
    add_sensor_noise,
    apply_optics,
    bayer_mosaic,
    decode_jpeg,
    demosaic,
    encode_jpeg,
    integrate_pixels,
    isp_finish,
    photograph,
    photograph_jpeg,
    sensor_signal,
)

PARAMS = CameraParams(
    psf_sigma_px=0.5,
    defocus_px=0.0,
    motion_px=0.0,
    motion_angle_deg=0.0,
    exposure=1.0,
    shot_noise=1e-3,
    read_noise=1e-5,
    wb_gains=(2.0, 1.6),
    illuminant_rgb=(1.0, 1.0, 1.0),
    ccm_strength=0.5,
    tone="srgb",
    sharpen_amount=0.5,
    sharpen_radius_px=1.0,
    jpeg_quality=90,
    video=False,
    demosaic="ea",
    bayer_phase="RGGB",
)


def _step(h: int, w: int) -> np.ndarray:
    img = np.full((h, w, 3), 0.1, dtype=np.float32)
    img[:, w // 2 :] = 0.9
    return img


def _apply_optics_case() -> None:
    out = apply_optics(_step(24, 32), replace(PARAMS, defocus_px=1.0, motion_px=2.0), 2)
    assert out.shape == (24, 32, 3)
    assert out.dtype == np.float32
    assert 0.1 - 1e-5 <= out.min() <= out.max() <= 0.9 + 1e-5
    assert 0.1 < out[12, 16, 0] < 0.9  # the edge is blurred
    np.testing.assert_allclose(out.mean(), _step(24, 32).mean(), rtol=0.02)  # the PSF keeps the energy


def _integrate_pixels_case() -> None:
    img = np.zeros((8, 12, 3), dtype=np.float32)
    img[::2, ::2] = 4.0  # one bright sample per 2 x 2 block
    out = integrate_pixels(img, 2)
    assert out.shape == (4, 6, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0, atol=1e-6)  # the block average


def _sensor_signal_case() -> None:
    out = sensor_signal(np.full((16, 24, 3), 1.0, dtype=np.float32), 2, PARAMS)
    assert out.shape == (8, 12, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 0.55, atol=1e-5)  # diffuse white at 0.55 of full well at exposure 1


def _bayer_mosaic_case() -> None:
    rgb = np.zeros((4, 6, 3), dtype=np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.8, 0.5, 0.2
    raw = bayer_mosaic(rgb, "GBRG")
    assert raw.shape == (4, 6)
    assert raw.dtype == np.float32
    assert raw[0, 0] == np.float32(0.5)
    assert raw[0, 1] == np.float32(0.2)
    assert raw[1, 0] == np.float32(0.8)


def _add_sensor_noise_case() -> None:
    raw = np.full((32, 32), 0.5, dtype=np.float32)
    out = add_sensor_noise(raw, PARAMS, np.random.default_rng(0))
    assert out.shape == raw.shape
    assert out.dtype == np.float32
    assert 0.0 <= out.min() <= out.max() <= 1.0
    assert 0.5 * 0.0005 < out.var() < 2.0 * 0.0005  # shot * x + read = 5.1e-4


def _demosaic_case() -> None:
    rgb = np.zeros((8, 8, 3), dtype=np.float32)
    rgb[..., 0] = 0.6
    out = demosaic(bayer_mosaic(rgb, "BGGR"), "BGGR", "bilinear")
    assert out.shape == (8, 8, 3)
    assert out.dtype == np.float32
    assert 0.0 <= out.min() <= out.max() <= 1.0
    np.testing.assert_allclose(out[..., 0], 0.6, atol=1e-4)  # a red scene stays red
    assert out[..., 1:].max() < 1e-4


def _isp_finish_case() -> None:
    raw = np.full((8, 8, 3), 0.3, dtype=np.float32)
    raw[..., 0] /= 2.0
    raw[..., 2] /= 1.6  # the raw of a grey under the reference light
    out = isp_finish(raw, PARAMS)
    assert out.shape == (8, 8, 3)
    assert out.dtype == np.uint8
    assert int(out.max()) - int(out.min()) <= 2  # white balance makes it grey


def _encode_jpeg_case() -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    data = encode_jpeg(rgb, 90, False)
    assert isinstance(data, bytes)
    assert data[:2] == b"\xff\xd8"  # a JPEG stream
    assert decode_jpeg(data)[8, 8, 0] > 180


def _decode_jpeg_case() -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 2] = 220
    out = decode_jpeg(encode_jpeg(rgb, 95, True))
    assert out.shape == (16, 16, 3)
    assert out.dtype == np.uint8
    assert out[8, 8, 2] > 200
    assert out[8, 8, 0] < 30  # blue stays blue (RGB order)


def _photograph_case() -> None:
    frame, data = photograph(np.full((32, 48, 3), 1.0, dtype=np.float32), 2, PARAMS, np.random.default_rng(0))
    assert frame.shape == (16, 24, 3)
    assert frame.dtype == np.uint8
    assert isinstance(data, bytes)
    assert 150 < frame.mean() < 250  # diffuse white comes out bright


def _photograph_jpeg_case() -> None:
    radiance = np.full((32, 48, 3), 1.0, dtype=np.float32)
    data = photograph_jpeg(radiance, 2, PARAMS, np.random.default_rng(0))
    assert data == photograph(radiance, 2, PARAMS, np.random.default_rng(0))[1]  # the same file, not decoded
    assert decode_jpeg(data).shape == (16, 24, 3)


CASES: dict[str, Callable[[], None]] = {
    "camera.apply_optics": _apply_optics_case,
    "camera.integrate_pixels": _integrate_pixels_case,
    "camera.sensor_signal": _sensor_signal_case,
    "camera.photograph_jpeg": _photograph_jpeg_case,
    "camera.bayer_mosaic": _bayer_mosaic_case,
    "camera.add_sensor_noise": _add_sensor_noise_case,
    "camera.demosaic": _demosaic_case,
    "camera.isp_finish": _isp_finish_case,
    "camera.encode_jpeg": _encode_jpeg_case,
    "camera.decode_jpeg": _decode_jpeg_case,
    "camera.photograph": _photograph_case,
}
