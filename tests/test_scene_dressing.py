"""Scene dressing: desk backgrounds with clutter, the hand holding the card, the card's drop shadow."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from capture_sim.geometry import CARD_WIDTH_MM, Camera, Pose, card_quad
from capture_sim.rng import make_rng
from capture_sim.scene.background import (
    BACKGROUND_KINDS,
    BackgroundParams,
    add_clutter,
    lamp_falloff,
    render_background,
    sample_background_params,
)
from capture_sim.scene.hand import HAND_EDGES, HandParams, card_drop_shadow, render_hand, sample_hand_params
from cardlive.errors import ParameterError

SIZES = [(96, 64), (64, 96)]  # landscape and portrait


def _params(kind: str, seed: int = 7, **changes: object) -> BackgroundParams:
    rng = make_rng(seed, 0, f"test.{kind}")
    params = sample_background_params(rng)
    while params.kind != kind:
        params = sample_background_params(rng)
    return replace(params, **changes)  # type: ignore[arg-type]


# --- backgrounds ---
@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_background_every_kind_has_shape_dtype_and_albedo_range(kind: str, width: int, height: int) -> None:
    img = render_background(_params(kind, clutter_count=3), width, height)
    assert img.shape == (height, width, 3)
    assert img.dtype == np.float32
    assert np.all(np.isfinite(img))
    assert img.min() >= 0.0
    assert img.max() <= 0.9
    assert img.std() > 1e-3  # a textured desk, not a flat fill


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_background_is_deterministic_and_depends_on_its_seed(kind: str) -> None:
    params = _params(kind, clutter_count=2)
    first = render_background(params, 80, 48)
    assert render_background(params, 80, 48).tobytes() == first.tobytes()
    assert render_background(replace(params, seed=params.seed + 1), 80, 48).tobytes() != first.tobytes()


def test_sampler_draws_every_kind_with_valid_parameters() -> None:
    rng = make_rng(1, 0, "test.sampler")
    kinds = {sample_background_params(rng).kind for _ in range(200)}
    assert kinds == set(BACKGROUND_KINDS)


def test_lamp_falloff_spans_the_requested_vignette() -> None:
    for vignette in (0.1, 0.3, 0.5):
        light = lamp_falloff(make_rng(3, 0, "lamp"), 120, 80, vignette)
        assert light.max() == pytest.approx(1.0, abs=0.02)
        assert light.min() == pytest.approx(1.0 - vignette, abs=0.03)
    # negative control: no vignette, no falloff
    assert np.all(lamp_falloff(make_rng(3, 0, "lamp"), 120, 80, 0.0) == 1.0)


def test_clutter_casts_contact_shadows_on_the_desk() -> None:
    """Objects darken the desk just around them (their shadow); without objects the desk is untouched."""
    height, width = 120, 160
    planes = [np.full((height, width), 0.5, np.float32) for _ in range(3)]
    lit = np.ones((height, width), np.float32)
    add_clutter(planes, lit, make_rng(4, 0, "clutter"), 4, 1.2)
    desk = np.stack(planes, axis=2)
    changed = np.any(desk != 0.5, axis=2)
    assert changed.any()
    grey = np.abs(desk - desk[..., :1]).max(axis=2) < 1e-6
    shadowed = grey & (desk[..., 0] < 0.49)  # desk-coloured (grey) yet darker: a shadow, not an object
    assert shadowed.sum() > 50
    untouched = [np.full((height, width), 0.5, np.float32) for _ in range(3)]
    add_clutter(untouched, lit, make_rng(4, 0, "clutter"), 0, 1.2)  # negative control
    assert all(np.all(p == 0.5) for p in untouched)


# --- hands ---
def _card(width: int = 320, height: int = 200, tilt: float = 0.0) -> tuple[np.ndarray, float]:
    camera = Camera(width, height, focal_px=400.0)
    pose = Pose(
        roll_deg=8.0,
        tilt_x_deg=tilt,
        tilt_y_deg=-tilt / 2,
        center_x_mm=0.0,
        center_y_mm=0.0,
        distance_mm=400.0 * CARD_WIDTH_MM / (0.5 * width),
    )
    quad = card_quad(pose, camera)
    px_per_mm = float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2 / CARD_WIDTH_MM
    return quad, px_per_mm


def _hand(edge: str = "left", **changes: object) -> HandParams:
    base = HandParams(True, (0.35, 0.2, 0.14), edge, 0.5, 3, 18.0, 8.0, 0.0, 11)
    return replace(base, **changes)  # type: ignore[arg-type]


_EDGE_CORNERS = {"top": (0, 1), "right": (1, 2), "bottom": (2, 3), "left": (3, 0)}


def _card_mask(quad: np.ndarray, width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(quad * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255


def _edge_distance(point: np.ndarray, quad: np.ndarray, edge: str) -> float:
    a, b = quad[list(_EDGE_CORNERS[edge])]
    direction = (b - a) / np.linalg.norm(b - a)
    rel = point - a
    return float(abs(rel[0] * direction[1] - rel[1] * direction[0]))


def _grips(alpha: np.ndarray, quad: np.ndarray, edge: str, overlap_px: float) -> bool:
    """The hand's coverage on the card lies along `edge`: its centroid is within the thumb's reach of that
    edge and nearer to it than to any other edge."""
    on_card = alpha * _card_mask(quad, alpha.shape[1], alpha.shape[0])
    ys, xs = np.mgrid[: alpha.shape[0], : alpha.shape[1]]
    centroid = np.array([(on_card * xs).sum(), (on_card * ys).sum()]) / on_card.sum()
    distances = {e: _edge_distance(centroid, quad, e) for e in _EDGE_CORNERS}
    return distances[edge] < overlap_px and min(distances, key=distances.__getitem__) == edge


@pytest.mark.parametrize("edge", HAND_EDGES)
@pytest.mark.parametrize("tilt", [0.0, 25.0])
def test_hand_grips_the_requested_edge(edge: str, tilt: float) -> None:
    quad, ppm = _card(tilt=tilt)
    _, alpha, _ = render_hand(_hand(edge), quad, ppm, 320, 200)
    assert _grips(alpha, quad, edge, 8.0 * ppm)
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[edge]
    assert not _grips(alpha, quad, opposite, 8.0 * ppm)  # negative control: the check tells the edges apart


def _reach_mm(alpha: np.ndarray, quad: np.ndarray, ppm: float, edge: str, position: float) -> float:
    """How far (mm) the hand covers the card along the inward normal from the grip point."""
    a, b = quad[list(_EDGE_CORNERS[edge])]
    start = a + (b - a) * (position if edge in ("top", "right") else 1 - position)
    inward = quad.mean(axis=0) - start
    direction = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
    direction *= np.sign(direction @ inward)
    steps = np.arange(0.0, 30.0 * ppm, 0.25)
    pts = start + steps[:, None] * direction
    values = cv2.remap(
        alpha, pts[:, 0].astype(np.float32) - 0.5, pts[:, 1].astype(np.float32) - 0.5, cv2.INTER_LINEAR
    ).ravel()
    covered = np.nonzero(values < 0.5)[0]
    return float(steps[covered[0]] / ppm) if covered.size else 30.0


@pytest.mark.parametrize("overlap", [4.0, 8.0, 14.0])
@pytest.mark.parametrize("edge", HAND_EDGES)
def test_thumb_reaches_overlap_mm_onto_the_card(overlap: float, edge: str) -> None:
    quad, ppm = _card()
    _, alpha, _ = render_hand(_hand(edge, overlap_mm=overlap), quad, ppm, 320, 200)
    reach = _reach_mm(alpha, quad, ppm, edge, 0.5)
    assert reach == pytest.approx(overlap, abs=1.5)
    # negative control: on the opposite edge the thumb reaches nowhere near the requested overlap there
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[edge]
    assert _reach_mm(alpha, quad, ppm, opposite, 0.5) < 1.0


def test_fingers_behind_the_card_are_hidden_by_it() -> None:
    quad, ppm = _card()
    _, alpha, _ = render_hand(_hand("bottom", finger_count=4, overlap_mm=6.0), quad, ppm, 320, 200)
    card = _card_mask(quad, 320, 200)
    deep = cv2.erode((card > 0.99).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(9 * ppm)) > 0
    assert alpha[deep].max() == 0.0  # only the thumb (<= 6 mm onto the card) covers the card
    assert alpha[card == 0].sum() > alpha[card > 0].sum()  # most of the hand is outside the card


def test_absent_hand_is_empty_and_casts_no_shadow() -> None:
    quad, ppm = _card()
    rgb, alpha, shadow = render_hand(sample_hand_params(make_rng(0, 0, "hand"), holding=False), quad, ppm, 320, 200)
    assert not rgb.any()
    assert not alpha.any()
    assert np.all(shadow == 1.0)


def test_hand_outputs_are_in_range_deterministic_and_seeded() -> None:
    quad, ppm = _card(tilt=20.0)
    params = sample_hand_params(make_rng(5, 0, "hand"), holding=True)
    rgb, alpha, shadow = render_hand(params, quad, ppm, 320, 200)
    assert rgb.dtype == alpha.dtype == shadow.dtype == np.float32
    assert rgb.shape == (200, 320, 3)
    assert alpha.shape == shadow.shape == (200, 320)
    for arr in (rgb, alpha, shadow):
        assert arr.min() >= 0.0
        assert arr.max() <= 1.0
    ratio = np.median(rgb[alpha > 0.5], axis=0) / np.array(params.skin_albedo)  # skin albedo x shading (<= 1)
    assert np.all((ratio > 0.3) & (ratio < 1.05))
    again = render_hand(params, quad, ppm, 320, 200)
    assert all(a.tobytes() == b.tobytes() for a, b in zip((rgb, alpha, shadow), again, strict=True))
    other = render_hand(replace(params, seed=params.seed + 1), quad, ppm, 320, 200)[1]
    assert other.tobytes() != alpha.tobytes()


def test_hand_shadow_falls_next_to_the_thumb_only() -> None:
    quad, ppm = _card()
    _, alpha, shadow = render_hand(_hand("right"), quad, ppm, 320, 200)
    near = cv2.dilate((alpha > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(3 * ppm)) > 0
    assert shadow[near & (alpha < 0.5)].min() < 0.9
    far = ~(cv2.dilate(near.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(40 * ppm)) > 0)
    assert np.all(shadow[far] == 1.0)


def test_sampled_hands_span_light_to_dark_skin() -> None:
    rng = make_rng(2, 0, "skins")
    reds = [sample_hand_params(rng, True).skin_albedo[0] for _ in range(300)]
    assert min(reds) < 0.1
    assert max(reds) > 0.45


# --- card drop shadow ---
def test_drop_shadow_is_one_far_away_and_darker_just_outside_the_offset_edge() -> None:
    quad, _ = _card()
    offset = (8.0, 6.0)
    shade = card_drop_shadow(quad, 320, 200, offset, 3.0, 0.5)
    assert shade.dtype == np.float32
    assert shade.shape == (200, 320)
    assert shade[0, 0] == 1.0
    assert shade[199, 319] == 1.0
    right = quad[[1, 2]].mean(axis=0)  # middle of the card's right edge
    outward = right - quad.mean(axis=0)
    probe = right + outward / np.linalg.norm(outward) * 3.0 + offset  # just beyond the shifted right edge
    x, y = int(probe[0]), int(probe[1])
    assert shade[y, x] < 0.95
    unshifted = card_drop_shadow(quad, 320, 200, (0.0, 0.0), 3.0, 0.5)
    assert unshifted[y, x] > 0.99  # negative control: without the lift's offset no shadow reaches there
    centre = quad.mean(axis=0).astype(int)
    assert shade[centre[1], centre[0]] == pytest.approx(0.5, abs=0.01)


# --- parameter checks ---
@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (
            lambda: _params("wood", texture_scale_px=300.0),
            r"texture_scale_px=300.0 is outside the allowed range \[4.0, 200.0\]",
        ),
        (lambda: _params("wood", texture_contrast=0.9), r"\[0.0, 0.6\]"),
        (lambda: _params("wood", clutter_count=7), r"clutter_count=7 .*\[0, 6\]"),
        (lambda: _params("wood", vignette=-0.1), r"\[0.0, 0.5\]"),
        (lambda: _params("wood", base_color=(0.5, 0.95, 0.5)), r"base_color.g=0.95 .*\[0.02, 0.9\]"),
        (lambda: replace(_params("wood"), kind="carpet"), r"expected one of"),
        (lambda: _hand(overlap_mm=20.0), r"overlap_mm=20.0 .*\[3.0, 15.0\]"),
        (lambda: _hand(finger_count=5), r"finger_count=5 .*\[1, 4\]"),
        (lambda: _hand(angle_deg=50.0), r"\[-35.0, 35.0\]"),
        (lambda: _hand(finger_width_mm=10.0), r"\[14.0, 22.0\]"),
        (lambda: _hand(edge="middle"), r"expected one of"),
        (lambda: _hand(skin_albedo=(0.9, 0.2, 0.1)), r"skin_albedo.r=0.9 .*\[0.04, 0.6\]"),
        (
            lambda: card_drop_shadow(_card()[0], 320, 200, (1.0, 1.0), 2.0, 0.9),
            r"strength=0.9 .*\[0.0, 0.7\]",
        ),
        (lambda: card_drop_shadow(np.zeros((3, 2)), 320, 200, (1.0, 1.0), 2.0, 0.3), r"\(4, 2\)"),
    ],
)
def test_bad_parameters_raise_parameter_errors_naming_the_range(build: object, needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        build()  # type: ignore[operator]
