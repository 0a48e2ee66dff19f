"""Op-table cases for the card artwork ops (capture_sim.cards)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from capture_sim.cards import render_card
from capture_sim.cards.linework import guilloche_coverage, rainbow_ink
from capture_sim.cards.ovd import OvdSpec, ovd_foil
from capture_sim.cards.portrait import ghost_portrait, render_portrait, sample_portrait_params
from capture_sim.cards.render import encode_srgb
from capture_sim.cards.text import microprint_strip
from capture_sim.color import linear_to_srgb
from capture_sim.rng import make_rng


def _guilloche_case() -> None:
    # one horizontal line at y = 2 mm across a 10 x 4 mm patch at 14 px/mm (1200 px card width)
    ppm = 1200 / 85.6
    line = np.stack([np.linspace(0.5, 9.5, 200), np.full(200, 2.0)], axis=1)
    cov = guilloche_coverage([line], 56, 140, ppm)
    assert cov.shape == (56, 140)
    assert cov.dtype == np.float32
    assert 0.0 <= cov.min() <= cov.max() <= 1.0
    width_px = cov[:, 20:120].sum(axis=0)  # ink per column = line width in px
    assert np.all((width_px > 0.8) & (width_px < 2.2)), width_px.min()
    assert cov[:20].max() == 0.0  # nothing away from the line


def _rainbow_case() -> None:
    red, blue = (0.8, 0.1, 0.1), (0.1, 0.1, 0.8)
    ink = rainbow_ink(12, 40, [red, blue], "x", 40 / 85.6)
    assert ink.shape == (12, 40, 3)
    assert ink.dtype == np.float32
    assert 0.0 <= ink.min() <= ink.max() <= 1.0
    assert ink[6, 0, 0] > ink[6, 20, 0] > ink[6, -1, 0]  # red fades out along x
    assert ink[6, 0, 2] < ink[6, 20, 2] < ink[6, -1, 2]


def _microprint_case() -> None:
    strip = microprint_strip("UTOPIA", 300, 3.5)
    assert strip.dtype == np.float32
    assert strip.shape[1] == 300
    assert strip.shape[0] <= 8  # a 0.25 mm line at 14 px/mm
    assert 0.0 <= strip.min() <= strip.max() <= 1.0
    profile = strip.mean(axis=0)
    assert 0.1 < strip.mean() < 0.6
    assert np.ptp(profile) > 0.1  # letters and gaps alternate along the line


def _ovd_case() -> None:
    spec = OvdSpec("seal", (5.0, 5.0), (6.0, 6.0), "sectors", 0.0, (1000.0, 2000.0))
    mask, angle, period = ovd_foil((spec,), 40, 40, 4.0)
    for arr in (mask, angle, period):
        assert arr.shape == (40, 40)
        assert arr.dtype == np.float32
    assert mask.min() >= 0.0
    assert mask.max() == 1.0
    on = mask > 0
    assert np.all((period[on] >= 1000.0) & (period[on] <= 2000.0))
    assert np.all((angle[on] >= 0.0) & (angle[on] < np.pi))
    assert np.all(period[~on] == 0.0)
    assert np.all(angle[~on] == 0.0)
    assert np.unique(np.round(angle[mask == 1.0], 3)).size >= 6  # a sector design, not one uniform grating
    assert ((mask > 0) & (mask < 1)).any()  # anti-aliased edge


def _portrait_case() -> None:
    params = sample_portrait_params(make_rng(1, 0, "test"), "M")
    img = render_portrait(params, 28, 22)
    assert img.shape == (28, 22, 3)
    assert img.dtype == np.float32
    assert 0.0 <= img.min() <= img.max() <= 1.0
    assert img[14, 11].mean() != img[2, 2].mean()  # a face in front of the backdrop


def _ghost_case() -> None:
    portrait = np.ones((28, 22, 3), np.float32)
    portrait[8:20, 6:16] = 0.05  # a dark face on a light backdrop
    cov = ghost_portrait(portrait, 13, 10, 0.4)
    assert cov.shape == (13, 10)
    assert cov.dtype == np.float32
    assert cov.min() >= 0.0
    assert cov.max() <= 0.4 + 1e-6
    assert cov[6, 5] > cov[0, 0]  # more ink where the portrait is dark


def _encode_case() -> None:
    ramp = np.linspace(-0.1, 1.2, 3 * 500, dtype=np.float32).reshape(1, 500, 3)
    out = encode_srgb(ramp)
    assert out.shape == (1, 500, 3)
    assert out.dtype == np.uint8
    exact = np.round(linear_to_srgb(ramp) * 255.0)
    assert np.abs(out.astype(np.int16) - exact).max() <= 1  # table vs IEC 61966-2-1 formula
    assert out[0, 0, 0] == 0
    assert out[0, -1, 2] == 255


def _render_case() -> None:
    art = render_card("tpl00", 1, 600)
    assert art.rgb.shape == (378, 600, 3)
    assert art.rgb.dtype == np.uint8
    assert art.ovd_mask.dtype == np.float32
    assert 0.0 <= art.ovd_mask.min() <= art.ovd_mask.max() <= 1.0
    assert art.field_masks["mrz"].any()
    again = render_card("tpl00", 1, 600)
    assert again.rgb.tobytes() == art.rgb.tobytes()  # deterministic


CASES: dict[str, Callable[[], None]] = {
    "cards.guilloche": _guilloche_case,
    "cards.rainbow": _rainbow_case,
    "cards.microprint": _microprint_case,
    "cards.ovd_foil": _ovd_case,
    "cards.portrait": _portrait_case,
    "cards.ghost_portrait": _ghost_case,
    "cards.encode_srgb": _encode_case,
    "cards.render": _render_case,
}
