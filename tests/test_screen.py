"""Screen-replay display physics: subpixel apertures, prefiltering, display transfer, PWM banding."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from capture_sim.color import linear_to_srgb
from capture_sim.presentation.screen import (
    SCREEN_FAMILIES,
    PanelParams,
    card_size_display_px,
    framebuffer,
    panel_size_px,
    predicted_moire_period_px,
    pwm_row_gain,
    sample_panel_params,
    screen_emission,
    white_emission,
)
from capture_sim.presentation.subpixels import subpixel_aperture
from capture_sim.rng import make_rng
from cardlive.errors import ParameterError

EXAMPLES_PNG = Path("/tmp/screen_examples.png")
LAYOUT_FAMILY = {
    "rgb_stripe": "laptop_lcd_rgb",
    "bgr_stripe": "monitor_lcd_bgr",
    "pentile_diamond": "phone_oled_pentile",
}


def _panel(family: str = "laptop_lcd_rgb", **changes: Any) -> PanelParams:
    panel = sample_panel_params(make_rng(7, 0, "screen-test"), family)
    return dataclasses.replace(panel, **changes)


def _white_fb(shape: tuple[int, int], panel: PanelParams) -> np.ndarray:
    return framebuffer(np.full((*shape, 3), 255, np.uint8), panel, (shape[1], shape[0]))


def _grid(x0: float, y0: float, step: float, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a grid of nx x ny cells of side `step` from (x0, y0); the cells tile the region."""
    u, v = np.meshgrid(x0 + (np.arange(nx) + 0.5) * step, y0 + (np.arange(ny) + 0.5) * step)
    return u.astype(np.float32), v.astype(np.float32)


def _flat_white(layout: str, step: float, footprint: float, n: int, x0: float = 10.0) -> np.ndarray:
    panel = _panel(LAYOUT_FAMILY[layout], subpixel_fill=0.6, white_point_k=6504.0, peak_luminance=1.0)
    fb = _white_fb((200, 200), panel)
    u, v = _grid(x0, 10.0, step, n, n)
    return screen_emission(fb, u, v, footprint, panel)


def _spectrum(image: np.ndarray) -> np.ndarray:
    """|2D FFT| normalised by the mean (DC = 1) of one channel."""
    return np.abs(np.fft.fft2(image)) / (image.size * max(float(image.mean()), 1e-12))


# --- spectral structure of the prefiltered emission ---------------------------------------------------------
# 16 x 16 display px at 0.1 px steps: FFT bin k <-> k / 16 cycles per display pixel.
BIN_1 = 16  # 1 cycle / px
BIN_HALF = 8  # 0.5 cycle / px


def test_rgb_stripe_has_its_fundamental_at_one_cycle_per_pixel_horizontally() -> None:
    e = _flat_white("rgb_stripe", 0.1, 0.1, 160)
    for c in range(3):
        spec = _spectrum(e[..., c])
        assert spec[0, BIN_1] > 0.3, "per-channel stripe pattern repeats once per pixel horizontally"
        assert spec[0, BIN_HALF] < 1e-3, "no half-pixel-frequency structure in a stripe panel"
        assert spec[BIN_HALF, BIN_HALF] < 1e-3
        assert spec[BIN_1, 0] > 0.05, "the row gaps (fill < 1) give a vertical fundamental at 1 cycle/px"
        assert spec[BIN_1, 0] < spec[0, BIN_1], "vertically only the fill gap, much weaker than the stripes"
    white = e.sum(axis=2)
    spec_w = _spectrum(white)
    assert spec_w[0, 3 * BIN_1] > 0.15, "R+G+B together repeat every third of a pixel"
    assert spec_w[0, BIN_1] < 0.02
    # negative control: a constant emission has no peaks at all
    spec_c = _spectrum(np.full_like(e[..., 0], float(e[..., 0].mean())))
    assert spec_c[0, BIN_1] < 1e-6
    assert spec_c[BIN_1, 0] < 1e-6


def test_pentile_red_and_blue_form_a_two_pixel_checkerboard() -> None:
    e = _flat_white("pentile_diamond", 0.1, 0.1, 160)
    for c in (0, 2):
        spec = _spectrum(e[..., c])
        assert spec[BIN_HALF, BIN_HALF] > 0.2, "checkerboard fundamental at (0.5, 0.5) cycles/px"
        assert spec[0, BIN_HALF] < 1e-3, "a checkerboard has no pure-horizontal half-pixel frequency"
    spec_g = _spectrum(e[..., 1])
    assert spec_g[0, BIN_1] > 0.3
    assert spec_g[BIN_HALF, BIN_HALF] < 1e-3, "green is on every pixel: no 2-pixel period"
    # red and blue sit in opposite squares: they are in antiphase at (0.5, 0.5)
    fr, fb_ = np.fft.fft2(e[..., 0])[BIN_HALF, BIN_HALF], np.fft.fft2(e[..., 2])[BIN_HALF, BIN_HALF]
    assert abs(np.angle(fr / fb_)) == pytest.approx(np.pi, abs=1e-3)
    # negative control: the stripe layout has no checkerboard component
    stripe = _flat_white("rgb_stripe", 0.1, 0.1, 160)
    assert _spectrum(stripe[..., 0])[BIN_HALF, BIN_HALF] < 1e-3


def test_bgr_is_the_mirror_image_of_rgb() -> None:
    size = (200, 200)
    u, v = _grid(20.0, 20.0, 0.05, 120, 40)  # covers [20, 26] px horizontally
    mirrored_u = (46.0 - u).astype(np.float32)  # mirror about u = 23 (a pixel boundary)
    rgb = subpixel_aperture(u, v, 0.05, "rgb_stripe", 0.7, size)
    bgr = subpixel_aperture(mirrored_u, v, 0.05, "bgr_stripe", 0.7, size)
    np.testing.assert_allclose(bgr, rgb, atol=2e-3)
    # same place, channels swapped: B of BGR sits where R of RGB does
    bgr_here = subpixel_aperture(u, v, 0.05, "bgr_stripe", 0.7, size)
    np.testing.assert_allclose(bgr_here[..., 0], rgb[..., 2], atol=2e-3)
    # negative control: RGB is not its own mirror image
    rgb_mirrored = subpixel_aperture(mirrored_u, v, 0.05, "rgb_stripe", 0.7, size)
    assert np.abs(rgb_mirrored - rgb).max() > 1.0


# --- prefiltering -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["rgb_stripe", "bgr_stripe", "pentile_diamond"])
def test_large_footprint_prefilter_gives_the_flat_white_mean(layout: str) -> None:
    step = 8.37  # a coarse grid: several display pixels per sample, incommensurate with the pixel pitch
    prefiltered = _flat_white(layout, step, step, 20, x0=3.1)
    point = _flat_white(layout, step, 0.0, 20, x0=3.1)
    mean = prefiltered.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(mean, 1.0, rtol=0.01)  # white point 6504 K, peak 1 -> (1, 1, 1)
    assert (prefiltered.reshape(-1, 3).std(axis=0) / mean).max() < 0.05
    # negative control: point samples on the same grid see emitters or gaps, far from constant
    assert (point.reshape(-1, 3).std(axis=0) / point.reshape(-1, 3).mean(axis=0).clip(1e-6)).min() > 0.5


@pytest.mark.parametrize("family", SCREEN_FAMILIES)
def test_full_white_mean_emission_is_white_point_times_peak(family: str) -> None:
    panel = _panel(family)
    fb = _white_fb((100, 100), panel)
    target = white_emission(panel)
    for step in (0.1, 0.25, 1.0):
        n = round(8 / step)
        u, v = _grid(20.0, 20.0, step, n, n)  # cells tile exactly 8 x 8 display pixels
        mean = screen_emission(fb, u, v, step, panel).reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean, target, rtol=0.01)
    # negative control: point samples at pixel corners all fall between emitters and see no light
    u, v = _grid(19.5, 19.5, 1.0, 8, 8)
    corner = screen_emission(fb, u, v, 0.0, panel).reshape(-1, 3).mean(axis=0)
    assert corner.max() < 0.5 * target.min()


def test_outside_the_framebuffer_shows_black_level_and_outside_the_panel_nothing() -> None:
    panel = _panel("laptop_lcd_rgb", black_level=0.01)
    fb = _white_fb((10, 10), panel)
    width, _ = panel_size_px(panel)
    u, v = _grid(50.0, 50.0, 0.25, 32, 32)  # panel area, framebuffer at the origin does not reach
    black = screen_emission(fb, u, v, 0.25, panel).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(black, 0.01 * white_emission(panel), rtol=0.01)
    outside = screen_emission(fb, u + np.float32(width + 5), v, 0.25, panel)
    assert not outside.any()
    shifted = screen_emission(fb, u, v, 0.25, panel, fb_origin_px=(49.0, 49.0))  # covers [49, 59)
    np.testing.assert_allclose(shifted.reshape(-1, 3).mean(axis=0), white_emission(panel), rtol=0.01)


def test_moire_period_matches_box_sampling_of_the_pixel_grid() -> None:
    panel = _panel("laptop_lcd_rgb")
    fb = _white_fb((400, 400), panel)
    for f, expected in ((1.1, 10.0), (0.8, 5.0)):
        assert predicted_moire_period_px(panel, f) == pytest.approx(expected)
        # a row of sensor pixels, each f display px wide and integrating its own box
        n = 200
        u = ((np.arange(n, dtype=np.float64) + 0.5) * f + 10.0).astype(np.float32)[None, :]
        v = np.full_like(u, 50.5)
        g = screen_emission(fb, u, v, f, panel)[0, :, 1]
        spec = np.abs(np.fft.rfft(g - g.mean()))
        assert n / np.argmax(spec) == pytest.approx(expected, rel=0.05)
    assert predicted_moire_period_px(panel, 2.0) == float("inf")
    # negative control: a sensor pitch of exactly one display pixel integrates whole periods -> no moire
    u = ((np.arange(200, dtype=np.float64) + 0.5) + 10.0).astype(np.float32)[None, :]
    flat = screen_emission(fb, u, np.full_like(u, 50.5), 1.0, panel)[0, :, 1]
    assert flat.std() < 1e-3 * flat.mean()


# --- PWM banding --------------------------------------------------------------------------------------------
def test_pwm_row_gain_bands_with_the_predicted_period() -> None:
    rows = np.arange(2000)
    panel = _panel("phone_oled_pentile", pwm_hz=250.0, pwm_duty=0.4)
    gain = pwm_row_gain(rows, panel, exposure_s=1e-3, line_time_s=2e-5, phase=3e-4)
    period = round(1.0 / (250.0 * 2e-5))  # 200 rows
    np.testing.assert_allclose(gain[period:], gain[:-period], atol=1e-4)
    assert np.abs(gain[period // 2 :] - gain[: -period // 2]).max() > 0.5
    assert gain.mean() == pytest.approx(1.0, abs=0.01)
    assert gain.min() >= 0.0
    assert gain.max() <= 1.0 / 0.4 + 1e-5
    # an exposure of whole PWM periods averages the flicker out
    whole = pwm_row_gain(rows, panel, exposure_s=2 * 4e-3, line_time_s=2e-5, phase=3e-4)
    np.testing.assert_allclose(whole, 1.0, atol=1e-4)
    # negative control: DC dimming has no bands
    dc = pwm_row_gain(rows, dataclasses.replace(panel, pwm_hz=0.0), 1e-3, 2e-5, 3e-4)
    assert dc.dtype == np.float32
    assert np.array_equal(dc, np.ones(2000, np.float32))


# --- display transfer, parameters, determinism --------------------------------------------------------------
def test_framebuffer_applies_the_panel_gamma_and_white_point() -> None:
    panel = _panel("laptop_lcd_rgb", black_level=0.0, gamma=2.2, white_point_k=6504.0, peak_luminance=1.5)
    img = np.array([[[128, 255, 0]]], np.uint8)
    fb = framebuffer(img, panel, (1, 1))
    assert fb.dtype == np.float32
    assert fb.shape == (1, 1, 3)
    white = white_emission(panel)  # white point (green = 1) * peak luminance
    assert white[1] == pytest.approx(1.5)
    assert fb[0, 0, 0] == pytest.approx((128 / 255) ** 2.2 * white[0], rel=1e-5)
    assert fb[0, 0, 1] == pytest.approx(white[1], rel=1e-5)
    assert fb[0, 0, 2] == 0.0
    lcd = framebuffer(img, dataclasses.replace(panel, black_level=0.005), (1, 1))
    assert lcd[0, 0, 2] == pytest.approx(0.005 * white[2], rel=1e-5)
    warm = framebuffer(img, dataclasses.replace(panel, white_point_k=5000.0), (1, 1))
    assert warm[0, 0, 1] == pytest.approx(1.5, rel=1e-5)  # white point normalised to green = 1
    assert warm[0, 0, 0] / warm[0, 0, 1] > fb[0, 0, 0] / fb[0, 0, 1]


def test_the_same_inputs_give_byte_identical_outputs() -> None:
    a = sample_panel_params(make_rng(3, 5, "screen"), "tablet_lcd")
    b = sample_panel_params(make_rng(3, 5, "screen"), "tablet_lcd")
    assert a == b
    img = (np.arange(48 * 80 * 3) % 251).astype(np.uint8).reshape(48, 80, 3)
    fb1, fb2 = framebuffer(img, a, (60, 38)), framebuffer(img, b, (60, 38))
    assert fb1.tobytes() == fb2.tobytes()
    u, v = _grid(2.0, 2.0, 0.3, 50, 40)
    assert screen_emission(fb1, u, v, 0.3, a).tobytes() == screen_emission(fb2, u, v, 0.3, b).tobytes()


@pytest.mark.parametrize(
    "change",
    [{"ppi": 20.0}, {"layout": "rgbw"}, {"pwm_hz": 30.0}, {"gamma": 3.5}, {"black_level": 0.1},
     {"subpixel_fill": 1.2}, {"family": "crt"}, {"content_source": "drawing"}, {"matte_haze": float("nan")}],
)  # fmt: skip
def test_bad_panel_parameters_raise_parameter_error(change: dict[str, Any]) -> None:
    with pytest.raises(ParameterError, match=r"expected|allowed"):
        _panel(**change)


def test_bad_framebuffer_inputs_raise_parameter_error() -> None:
    panel = _panel()
    with pytest.raises(ParameterError, match="uint8"):
        framebuffer(np.zeros((4, 4, 3), np.float32), panel, (4, 4))
    with pytest.raises(ParameterError, match="card_px"):
        framebuffer(np.zeros((4, 4, 3), np.uint8), panel, (0, 4))
    with pytest.raises(ParameterError):
        sample_panel_params(make_rng(0, 0, "s"), "crt")


@pytest.mark.parametrize("family", SCREEN_FAMILIES)
def test_sampled_panels_follow_their_family(family: str) -> None:
    rng = make_rng(11, 0, "screen-family")
    for _ in range(30):
        p = sample_panel_params(rng, family)
        card_w, card_h = card_size_display_px(p)
        panel_w, panel_h = panel_size_px(p)
        assert card_w <= panel_w + 1
        assert card_h <= panel_h + 1
        if family == "phone_oled_pentile":
            assert p.layout == "pentile_diamond"
            assert p.black_level == 0.0
            assert 380 <= p.ppi <= 520
            assert 240 <= p.pwm_hz <= 480
        elif family == "monitor_lcd_bgr":
            assert p.layout == "bgr_stripe"
            assert p.ppi <= 110
            assert p.matte_haze >= 0.5
        elif family == "laptop_lcd_rgb":
            assert p.pwm_hz == 0.0 or p.pwm_hz >= 1000
        else:
            assert p.matte_haze <= 0.1
            assert 5 <= p.bezel_mm <= 12


# --- a picture to look at -----------------------------------------------------------------------------------
def _card_like_image() -> np.ndarray:
    """A colourful synthetic ID-card-like image (sRGB uint8, 540 x 856)."""
    h, w = 540, 856
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([180 + 60 * np.sin(x / 90), 200 + 40 * np.cos(y / 70), 230 - 50 * (x / w)], axis=2)
    img = img.clip(0, 255).astype(np.uint8)
    cv2.rectangle(img, (40, 120), (300, 460), (90, 60, 40), -1)  # photo area
    cv2.circle(img, (170, 250), 70, (200, 170, 150), -1)  # face
    cv2.ellipse(img, (170, 430), (120, 90), 0, 180, 360, (40, 70, 160), -1)  # shoulders
    cv2.rectangle(img, (0, 0), (w, 80), (30, 60, 150), -1)  # header band
    cv2.putText(img, "IDENTITY CARD", (40, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 3, cv2.LINE_AA)
    for i, text in enumerate(["SURNAME  EXAMPLE", "GIVEN  ALEXANDRA", "BORN  01.02.1990", "NO  X1234567"]):
        cv2.putText(img, text, (340, 170 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2, cv2.LINE_AA)
    cv2.circle(img, (760, 460), 50, (0, 180, 60), -1)
    cv2.circle(img, (700, 470), 35, (220, 30, 30), -1)
    return img


def test_render_examples_show_subpixels_like_a_macro_photo() -> None:
    card = _card_like_image()
    tiles = []
    for family in SCREEN_FAMILIES:
        panel = sample_panel_params(make_rng(1, 0, "screen-example"), family)
        card_px = card_size_display_px(panel)
        fb = framebuffer(card, panel, card_px)
        origin = (12.0, 12.0)
        white = white_emission(panel)
        # the whole card, 320 samples wide, each averaging its footprint (anti-aliased)
        step = card_px[0] / 320
        u, v = _grid(origin[0], origin[1], step, 320, 202)
        full = screen_emission(fb, u, v, step, panel, origin) / white.max()
        # a zoomed crop of 24 x 15 display pixels across the left edge of the face, 0.075 px per sample
        cx, cy = origin[0] + 100 / 856 * card_px[0] - 12, origin[1] + 250 / 540 * card_px[1] - 7.5
        u, v = _grid(cx, cy, 0.075, 320, 202)
        crop = screen_emission(fb, u, v, 0.075, panel, origin) / (white.max() * 3.0 / panel.subpixel_fill)
        assert (crop[..., 0].std() / crop[..., 0].mean()) > 0.8, f"{family}: subpixels not resolved"
        assert full[..., 1].std() > 0.05, f"{family}: card content lost"
        tiles.append(np.concatenate([full, np.ones((202, 6, 3), np.float32), crop], axis=1))
        tiles.append(np.ones((6, tiles[-1].shape[1], 3), np.float32))
    picture = (linear_to_srgb(np.concatenate(tiles[:-1], axis=0)) * 255 + 0.5).astype(np.uint8)
    assert cv2.imwrite(str(EXAMPLES_PNG), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


def test_footprint_may_vary_per_sample() -> None:
    panel = _panel("tablet_lcd")
    fb = framebuffer(_card_like_image(), panel, (120, 76))
    u, v = _grid(1.0, 1.0, 0.37, 300, 180)
    scalar = screen_emission(fb, u, v, 0.37, panel)
    per_sample = screen_emission(fb, u, v, np.full(u.shape, 0.37, np.float32), panel)
    np.testing.assert_allclose(per_sample, scalar, rtol=1e-5, atol=1e-6)
    # large footprints take the content bilinearly: a mixed map agrees with each pure case where it applies
    mixed_fp = np.where(u > 50.0, 2.0, 0.37).astype(np.float32)
    mixed = screen_emission(fb, u, v, mixed_fp, panel)
    coarse = screen_emission(fb, u, v, 2.0, panel)
    right = u > 50.0
    np.testing.assert_allclose(mixed[right], coarse[right], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed[~right], scalar[~right], rtol=1e-5, atol=1e-6)


def test_a_footprint_array_must_match_the_samples() -> None:
    panel = _panel()
    fb = _white_fb((20, 20), panel)
    u, v = _grid(5.0, 5.0, 0.25, 8, 8)
    per_sample = np.full(u.shape, 0.25, dtype=np.float32)
    ok = screen_emission(fb, u, v, per_sample, panel)  # control: the samples' own shape is accepted
    np.testing.assert_allclose(ok, screen_emission(fb, u, v, 0.25, panel))
    with pytest.raises(ParameterError, match="footprint_px has shape"):
        screen_emission(fb, u, v, per_sample[:, :4], panel)
    with pytest.raises(ParameterError, match="footprint_px has shape"):
        subpixel_aperture(u, v, per_sample[:4], panel.layout, panel.subpixel_fill, panel_size_px(panel))
