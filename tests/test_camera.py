"""The camera: optics + pixel integration + Bayer CFA make moire, noise follows Brooks et al. 2019, the ISP
and JPEG keep colours, and everything is deterministic. Physics checks come with negative controls."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from capture_sim.camera import (
    FULL_WELL_WHITE,
    CameraParams,
    add_sensor_noise,
    apply_optics,
    bayer_mosaic,
    decode_jpeg,
    demosaic,
    encode_jpeg,
    integrate_pixels,
    isp_finish,
    optics_kernel,
    photograph,
    sample_camera_params,
    sensor_signal,
)
from capture_sim.isp import DEMOSAIC_METHODS, PHASES, TONES, tone_lut
from capture_sim.polyphase import cfa_signal
from capture_sim.sensor import colour_response
from cardlive.errors import ParameterError

BASE = CameraParams(
    psf_sigma_px=0.3,
    defocus_px=0.0,
    motion_px=0.0,
    motion_angle_deg=0.0,
    exposure=1.0,
    shot_noise=0.0,
    read_noise=0.0,
    wb_gains=(2.0, 1.6),
    illuminant_rgb=(1.0, 1.0, 1.0),
    ccm_strength=0.6,
    tone="srgb",
    sharpen_amount=0.0,
    sharpen_radius_px=1.0,
    jpeg_quality=95,
    video=False,
    demosaic="bilinear",
    bayer_phase="RGGB",
)


def _grating(h: int, w: int, scale: int, cycles_per_px: float, contrast: float = 0.8) -> np.ndarray:
    """Grey sinusoidal grating along x on the supersampled grid, frequency in cycles per SENSOR pixel."""
    x = (np.arange(w * scale) + 0.5) / scale
    row = 0.5 * (1.0 + contrast * np.sin(2.0 * np.pi * cycles_per_px * x))
    return np.repeat(np.repeat(row[None, :, None], h * scale, axis=0), 3, axis=2).astype(np.float32)


def _spectrum(rows: np.ndarray) -> np.ndarray:
    """Mean magnitude spectrum of the rows (frequencies k / n cycles per px), DC removed."""
    rows = rows - rows.mean(axis=1, keepdims=True)
    return np.asarray(np.abs(np.fft.rfft(rows, axis=1)).mean(axis=0))


# ------------------------------------------------------------------------------------- aliasing and moire


def test_grating_above_nyquist_aliases_to_the_difference_frequency() -> None:
    signal = sensor_signal(_grating(8, 240, 4, 0.8), 4, BASE)[:, 20:220, 1]  # 200 px: bin k = k / 200 cycles/px
    spec = _spectrum(signal)
    assert np.argmax(spec) == 40  # |0.8 - 1| = 0.2 cycles/px
    assert spec[40] > 0.02 * 0.4 * 100  # a clear alias: > 2 % of the 0.4 amplitude (expected about 7 %)


def test_a_wide_psf_removes_the_alias() -> None:
    """Negative control: the optics low-pass the grating before the pixels sample it."""
    blurred = replace(BASE, psf_sigma_px=1.5)
    spec = _spectrum(sensor_signal(_grating(8, 240, 4, 0.8), 4, blurred)[:, 20:220, 1])
    sharp = _spectrum(sensor_signal(_grating(8, 240, 4, 0.8), 4, BASE)[:, 20:220, 1])
    assert spec[40] < 0.01 * sharp[40]


def _chroma_over_luma(cycles_per_px: float) -> tuple[float, float]:
    signal = sensor_signal(_grating(16, 240, 4, cycles_per_px), 4, BASE)[:, 20:220]
    rgb = demosaic(bayer_mosaic(signal, "RGGB"), "RGGB", "bilinear")
    chroma_in = float(np.abs(signal[..., 0] - signal[..., 1]).max() + np.abs(signal[..., 2] - signal[..., 1]).max())
    chroma = _spectrum(rgb[2:-2, :, 0] - rgb[2:-2, :, 1]) + _spectrum(rgb[2:-2, :, 2] - rgb[2:-2, :, 1])
    luma = _spectrum(signal[..., 1])
    return chroma_in, float(chroma.max() / luma.max())


def test_bayer_sampling_turns_a_grey_grating_into_colour_moire() -> None:
    chroma_in, ratio = _chroma_over_luma(0.6)  # aliases to 0.4 on the pixels, 0.1 on the 2-px R/B lattices
    assert chroma_in < 1e-6  # the input is grey
    assert ratio > 1.0  # strong false colour (about 1.8 times the grating's own amplitude)


def test_a_coarse_grating_gives_no_colour_moire() -> None:
    """Negative control: below the CFA's Nyquist frequency the demosaic recovers the grey."""
    _, ratio = _chroma_over_luma(0.05)
    assert ratio < 0.1  # only the bilinear interpolation error (about 0.05)


def test_fast_sensor_signal_equals_psf_then_pixel_integration() -> None:
    rng = np.random.default_rng(3)
    blurs = [(0.0, 0.0), (0.8, 1.5), (2.5, 7.0)]  # separable, direct polyphase, Fourier polyphase
    for scale in (1, 2, 3):
        radiance = rng.random((30 * scale, 42 * scale, 3), dtype=np.float32) * 2.0
        for defocus, motion in blurs:
            params = replace(BASE, psf_sigma_px=0.6, defocus_px=defocus, motion_px=motion, motion_angle_deg=30.0)
            ref = integrate_pixels(apply_optics(radiance, params, scale), scale) * FULL_WELL_WHITE
            fast = sensor_signal(radiance, scale, params)
            m = 12 if defocus > 2 else 6  # the borders differ (mirroring on different grids)
            np.testing.assert_allclose(fast[m:-m, m:-m], ref[m:-m, m:-m], atol=2e-5)


def test_optics_kernel_is_normalised_and_motion_blur_is_directional() -> None:
    params = replace(BASE, psf_sigma_px=0.5, motion_px=6.0, motion_angle_deg=90.0)
    k = optics_kernel(params, 2).astype(np.float64)
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]] - k.shape[0] // 2
    assert (k * yy**2).sum() > 10.0 * (k * xx**2).sum()  # 90 degrees: along the columns
    still = optics_kernel(replace(params, motion_px=0.0), 2).astype(np.float64)
    ys, xs = np.mgrid[: still.shape[0], : still.shape[1]] - still.shape[0] // 2
    assert (still * ys**2).sum() == pytest.approx((still * xs**2).sum(), rel=1e-3)  # control: round


# ------------------------------------------------------------------------------------- Bayer and demosaic


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
def test_a_flat_colour_patch_survives_mosaic_and_demosaic(phase: str, method: str) -> None:
    colour = np.array([0.6, 0.3, 0.15], dtype=np.float32)
    rgb = np.broadcast_to(colour, (16, 16, 3)).astype(np.float32)
    out = demosaic(bayer_mosaic(rgb, phase), phase, method)[3:-3, 3:-3]
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), colour, atol=0.01)
    assert np.abs(out - colour).max() < 0.02


@pytest.mark.parametrize("phase", PHASES)
def test_a_red_scene_comes_back_red(phase: str) -> None:
    rgb = np.zeros((8, 8, 3), dtype=np.float32)
    rgb[..., 0] = 0.7
    out = demosaic(bayer_mosaic(rgb, phase), phase, "ea")[2:-2, 2:-2]
    assert out[..., 0].min() > 0.65
    assert out[..., 1:].max() < 0.02


@pytest.mark.parametrize(("phase", "wrong"), [("RGGB", "BGGR"), ("GRBG", "GBRG"), ("RGGB", "GRBG")])
def test_demosaicking_with_the_wrong_phase_changes_the_colour(phase: str, wrong: str) -> None:
    """Negative control for the phase bookkeeping."""
    colour = np.array([0.6, 0.3, 0.15], dtype=np.float32)
    rgb = np.broadcast_to(colour, (16, 16, 3)).astype(np.float32)
    out = demosaic(bayer_mosaic(rgb, phase), wrong, "bilinear")[3:-3, 3:-3]
    assert np.abs(out.reshape(-1, 3).mean(axis=0) - colour).max() > 0.1


# ------------------------------------------------------------------------------------- noise


@pytest.mark.parametrize("level", [0.05, 0.3, 0.8])
def test_noise_variance_is_shot_times_signal_plus_read(level: float) -> None:
    params = replace(BASE, shot_noise=0.01, read_noise=2e-4)
    raw = np.full((512, 512), level, dtype=np.float32)
    noisy = add_sensor_noise(raw, params, np.random.default_rng(0))
    expected = 0.01 * level + 2e-4
    assert noisy.var() == pytest.approx(expected, rel=0.15)
    assert noisy.mean() == pytest.approx(level, abs=3e-3)  # unbiased (no clipping at these levels)


def test_zero_noise_parameters_leave_the_raw_unchanged() -> None:
    raw = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    np.testing.assert_array_equal(add_sensor_noise(raw, BASE, np.random.default_rng(0)), raw)


def test_sampled_noise_follows_brooks_et_al() -> None:
    rng = np.random.default_rng(5)
    draws = [sample_camera_params(rng, video=bool(i % 2)) for i in range(3000)]
    log_shot = np.log([d.shot_noise for d in draws])
    log_read = np.log([d.read_noise for d in draws])
    assert log_shot.min() >= math.log(1e-4)
    assert log_shot.max() <= math.log(0.012)
    assert log_shot.mean() == pytest.approx((math.log(1e-4) + math.log(0.012)) / 2.0, abs=0.1)  # log-uniform
    residual = log_read - (2.18 * log_shot + 1.20)
    assert abs(residual.mean()) < 0.03
    assert residual.std() == pytest.approx(0.26, abs=0.03)
    assert all(75 <= d.jpeg_quality <= 95 for d in draws[::2])
    assert all(50 <= d.jpeg_quality <= 75 for d in draws[1::2])


# ------------------------------------------------------------------------------------- ISP and JPEG


def _grey_raw(value: float, params: CameraParams) -> np.ndarray:
    raw = np.full((16, 16, 3), value, dtype=np.float32)
    raw[..., 0] /= params.wb_gains[0]
    raw[..., 2] /= params.wb_gains[1]
    return raw


def test_white_balance_neutralises_grey_and_the_illuminant_casts_colour() -> None:
    grey = photograph(np.full((16, 16, 3), 0.5, dtype=np.float32), 1, BASE, np.random.default_rng(0))[0]
    assert np.abs(grey.reshape(-1, 3).mean(axis=0) - grey.mean()).max() < 2.0
    warm = replace(BASE, illuminant_rgb=(1.25, 1.0, 0.8))  # control: an illuminant the AWB did not remove
    cast = photograph(np.full((16, 16, 3), 0.5, dtype=np.float32), 1, warm, np.random.default_rng(0))[0]
    mean = cast.reshape(-1, 3).mean(axis=0)
    assert mean[0] > mean[1] + 10
    assert mean[2] < mean[1] - 10


def test_clipped_highlights_stay_neutral() -> None:
    glare = photograph(np.full((16, 16, 3), 8.0, dtype=np.float32), 1, BASE, np.random.default_rng(0))[0]
    assert glare.min() >= 253


@pytest.mark.parametrize("tone", TONES)
def test_tone_curves_are_monotone_from_black_to_white(tone: str) -> None:
    lut = tone_lut(tone).astype(int)
    assert lut[0] == 0
    assert lut[-1] == 255
    assert np.all(np.diff(lut) >= 0)
    assert 150 < lut[int(FULL_WELL_WHITE * 65535)] < 250  # diffuse white is bright but not clipped


def test_sharpening_overshoots_at_edges() -> None:
    raw = _grey_raw(0.1, BASE)
    raw[:, 8:] = _grey_raw(0.4, BASE)[:, 8:]
    flat = isp_finish(raw, BASE)[8].astype(int)
    sharp = isp_finish(raw, replace(BASE, sharpen_amount=1.5))[8].astype(int)
    assert sharp[9, 1] > flat[9:, 1].max() + 5  # a bright halo beside the edge
    assert sharp[6, 1] < flat[:8, 1].min() - 5  # and a dark one
    assert flat[9, 1] - flat[-1, 1] <= 1  # control: no halo without sharpening


def _chart() -> np.ndarray:
    y, x = np.mgrid[0:64, 0:64]
    return np.stack([x * 3, y * 3, 255 - (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)


def test_jpeg_quality_orders_the_error_and_keeps_rgb_order() -> None:
    image = _chart()
    err95 = np.abs(decode_jpeg(encode_jpeg(image, 95, False)).astype(int) - image).mean()
    err50 = np.abs(decode_jpeg(encode_jpeg(image, 50, False)).astype(int) - image).mean()
    assert err95 < 1.5
    assert err50 > err95 * 1.3
    red = np.zeros((16, 16, 3), dtype=np.uint8)
    red[..., 0] = 220
    back = decode_jpeg(encode_jpeg(red, 75, True))
    assert back[8, 8, 0] > 200
    assert back[8, 8, 2] < 20


def test_video_jpeg_subsamples_chroma() -> None:
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[:, ::2] = (200, 40, 40)
    image[:, 1::2] = (40, 40, 200)  # one-pixel red / blue columns
    still = np.abs(decode_jpeg(encode_jpeg(image, 90, False)).astype(int) - image).mean()
    video = np.abs(decode_jpeg(encode_jpeg(image, 90, True)).astype(int) - image).mean()
    assert video > 3.0 * still


# ------------------------------------------------------------------------------------- whole chain


def _scene() -> np.ndarray:
    radiance = _grating(24, 32, 2, 0.6)
    radiance[:, :24] *= np.array([1.0, 0.5, 0.2], dtype=np.float32)
    return radiance


def test_photograph_is_deterministic_per_seed() -> None:
    params = sample_camera_params(np.random.default_rng(11), video=False)
    frame, first = photograph(_scene(), 2, params, np.random.default_rng(4))
    _, again = photograph(_scene(), 2, params, np.random.default_rng(4))
    _, other = photograph(_scene(), 2, params, np.random.default_rng(5))
    assert frame.shape == (24, 32, 3)
    assert frame.dtype == np.uint8
    assert first == again
    assert first != other


def test_bad_parameters_name_the_allowed_range() -> None:
    with pytest.raises(ParameterError, match=r"psf_sigma_px.*\[0\.3, 1\.5\]"):
        replace(BASE, psf_sigma_px=3.0)
    with pytest.raises(ParameterError, match=r"jpeg_quality.*\[50, 95\]"):
        replace(BASE, jpeg_quality=99)
    with pytest.raises(ParameterError, match=r"wb_gains\.blue.*\[1\.2, 2\.6\]"):
        replace(BASE, wb_gains=(2.0, 3.0))
    with pytest.raises(ParameterError, match="RGGB"):
        replace(BASE, bayer_phase="RGBG")
    with pytest.raises(ParameterError, match="vng"):
        replace(BASE, demosaic="ahd")


def test_a_radiance_size_that_is_not_a_multiple_of_the_scale_is_rejected() -> None:
    with pytest.raises(ParameterError, match="multiple of the supersampling scale 3"):
        photograph(np.zeros((31, 30, 3), dtype=np.float32), 3, BASE, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="scale"):
        sensor_signal(np.zeros((32, 32, 3), dtype=np.float32), 5, BASE)


def test_cfa_signal_equals_mosaic_of_the_full_colour_signal() -> None:
    """The photosite-only path (camera.photograph with extra blur) against bayer_mosaic(colour @ sensor_signal)."""
    rng = np.random.default_rng(8)
    for scale in (1, 2):
        radiance = rng.random((40 * scale, 56 * scale, 3), dtype=np.float32) * 2.0
        for phase in PHASES:
            params = replace(BASE, psf_sigma_px=0.6, defocus_px=1.2, motion_px=2.5, bayer_phase=phase)
            kernel = optics_kernel(params, scale).astype(np.float64)
            colour = colour_response(params)
            fast = cfa_signal(radiance, kernel, scale, FULL_WELL_WHITE, colour, phase)
            ref = bayer_mosaic(np.asarray(cv2.transform(sensor_signal(radiance, scale, params), colour)), phase)
            np.testing.assert_allclose(fast[8:-8, 8:-8], ref[8:-8, 8:-8], atol=2e-5)
            swapped = cfa_signal(radiance, kernel, scale, FULL_WELL_WHITE, colour, phase[::-1])
            assert np.abs(swapped[8:-8, 8:-8] - ref[8:-8, 8:-8]).max() > 1e-2  # control: the wrong CFA differs
