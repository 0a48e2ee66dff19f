"""Op-table cases for the scene-dressing ops (capture_sim.scene: background, textures, hand, card drop
shadow)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capture_sim.rng import make_rng
from capture_sim.scene.background import BackgroundParams, render_background
from capture_sim.scene.hand import HandParams, card_drop_shadow, render_hand
from capture_sim.scene.textures import fbm_noise

QUAD = np.array([[30.0, 20.0], [90.0, 22.0], [88.0, 60.0], [32.0, 58.0]])  # ~0.7 px/mm card in a 128x80 frame
HAND = HandParams(
    present=True,
    skin_albedo=(0.4, 0.25, 0.18),
    edge="left",
    position=0.5,
    finger_count=3,
    finger_width_mm=18.0,
    overlap_mm=10.0,
    angle_deg=0.0,
    seed=3,
)


def _fbm_noise() -> None:
    noise = fbm_noise(make_rng(0, 0, "case"), 40, 60, (2.0, 30.0), octaves=2)
    assert noise.shape == (40, 60)
    assert noise.dtype == np.float32
    assert np.all(np.isfinite(noise))
    # streaky noise (long features along x) changes much less along x than along y
    assert np.abs(np.diff(noise, axis=1)).mean() < 0.5 * np.abs(np.diff(noise, axis=0)).mean()


def _background() -> None:
    params = BackgroundParams("wood", (0.3, 0.15, 0.07), 10.0, 0.4, 2, 0.3, 5)
    img = render_background(params, 64, 40)
    assert img.shape == (40, 64, 3)
    assert img.dtype == np.float32
    assert img.min() >= 0.0
    assert img.max() <= 0.9
    assert img.std() > 0
    assert render_background(params, 64, 40).tobytes() == img.tobytes()  # deterministic in its parameters


def _hand() -> None:
    rgb, alpha, shadow = render_hand(HAND, QUAD, 60.0 / 85.6, 128, 80)
    assert rgb.shape == (80, 128, 3)
    assert alpha.shape == shadow.shape == (80, 128)
    assert rgb.dtype == alpha.dtype == shadow.dtype == np.float32
    for arr in (rgb, alpha, shadow):
        assert arr.min() >= 0
        assert arr.max() <= 1
    xs = np.nonzero(alpha > 0.5)[1]
    assert xs.mean() < 40  # the hand holds the left edge (x ~ 31), not the right one (x ~ 89)


def _card_drop_shadow() -> None:
    shade = card_drop_shadow(QUAD, 128, 80, (6.0, 4.0), 2.0, 0.5)
    assert shade.shape == (80, 128)
    assert shade.dtype == np.float32
    assert shade[2, 2] == 1.0
    assert abs(shade[45, 65] - 0.5) < 0.02  # none far away, full strength inside
    assert shade[62, 92] < 0.95  # just outside the shifted bottom-right corner


CASES: dict[str, Callable[[], None]] = {
    "scene.fbm_noise": _fbm_noise,
    "scene.background": _background,
    "scene.hand": _hand,
    "scene.card_drop_shadow": _card_drop_shadow,
}
