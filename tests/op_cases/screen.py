"""Op-table cases for the screen-replay display ops (capture_sim.presentation.screen / subpixels)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capture_sim.presentation.screen import (
    PanelParams,
    framebuffer,
    pwm_row_gain,
    screen_emission,
    white_emission,
)
from capture_sim.presentation.subpixels import subpixel_aperture


def _panel() -> PanelParams:
    return PanelParams(
        family="laptop_lcd_rgb", layout="rgb_stripe", ppi=150.0, subpixel_fill=0.75, gamma=2.2,
        white_point_k=6500.0, peak_luminance=1.2, black_level=0.002, pwm_hz=1200.0, pwm_duty=0.5,
        glass_reflectance=0.01, matte_haze=0.6, screen_width_mm=300.0, screen_height_mm=190.0, bezel_mm=5.0,
        content_scale=1.0, content_source="scan",
    )  # fmt: skip


def _grid(step: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(2.0 + (np.arange(n) + 0.5) * step, 2.0 + (np.arange(n) + 0.5) * step)
    return u.astype(np.float32), v.astype(np.float32)


def _framebuffer_case() -> None:
    img = np.zeros((8, 12, 3), np.uint8)
    img[:, 6:] = 255
    fb = framebuffer(img, _panel(), (6, 4))
    assert fb.shape == (4, 6, 3)
    assert fb.dtype == np.float32
    assert fb.min() >= 0.0
    np.testing.assert_allclose(fb[0, 5], white_emission(_panel()), rtol=1e-5)  # code 255 -> full white
    np.testing.assert_allclose(fb[0, 0], 0.002 * white_emission(_panel()), rtol=1e-5)  # code 0 -> black level


def _emission_case() -> None:
    fb = framebuffer(np.full((4, 4, 3), 255, np.uint8), _panel(), (8, 8))
    u, v = _grid(0.25, 16)  # tiles [2, 6) x [2, 6) display px
    e = screen_emission(fb, u, v, 0.25, _panel())
    assert e.shape == (16, 16, 3)
    assert e.dtype == np.float32
    assert e.min() >= 0.0
    np.testing.assert_allclose(e.reshape(-1, 3).mean(axis=0), white_emission(_panel()), rtol=0.01)


def _pwm_case() -> None:
    gain = pwm_row_gain(np.arange(100), _panel(), exposure_s=1e-4, line_time_s=1e-5, phase=0.0)
    assert gain.shape == (100,)
    assert gain.dtype == np.float32
    assert 0.0 <= gain.min() <= gain.max() <= 2.0 + 1e-5
    assert np.ptp(gain) > 0.5  # 1200 Hz PWM bands every 83 rows


def _aperture_case() -> None:
    u, v = _grid(0.1, 20)
    a = subpixel_aperture(u, v, 0.1, "pentile_diamond", 0.5, (100, 100))
    assert a.shape == (20, 20, 3)
    assert a.dtype == np.float32
    assert a.min() >= 0.0
    assert a.max() <= 3.0 / 0.5 + 1e-3
    np.testing.assert_allclose(a.reshape(-1, 3).mean(axis=0), 1.0, atol=1e-3)  # 2 x 2 pixels tiled


CASES: dict[str, Callable[[], None]] = {
    "screen.framebuffer": _framebuffer_case,
    "screen.emission": _emission_case,
    "screen.pwm_row_gain": _pwm_case,
    "screen.subpixel_aperture": _aperture_case,
}
