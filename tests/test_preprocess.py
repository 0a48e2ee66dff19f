"""The preprocessing contract: exact integer crops, the documented global-view matrix, the spec."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from cardlive.errors import ParameterError
from edge_models.preprocess import (
    ID1_SIZE_MM,
    InputSpec,
    card_homography,
    clamp_origins,
    extract_patches,
    global_view,
    global_view_matrix,
    patch_origins,
    preprocess,
)

W_MM, H_MM = ID1_SIZE_MM
SPEC = InputSpec()
P = SPEC.patch_size


def coord_frame(width: int = 1280, height: int = 720) -> np.ndarray:
    """A frame whose pixels say where they are: R = x % 256, G = y % 256, B = x // 256 + 16 * (y // 256)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x % 256, y % 256, x // 256 + 16 * (y // 256)], axis=-1).astype(np.uint8)


def axis_quad(x0: float, y0: float, px_per_mm: float) -> np.ndarray:
    x1, y1 = x0 + px_per_mm * W_MM, y0 + px_per_mm * H_MM
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


PERSPECTIVE_QUAD = np.array([[300.3, 200.7], [1100.2, 250.1], [1050.9, 660.4], [280.5, 620.2]])
ROTATED_QUAD = np.array([[420.25, 90.5], [1060.75, 330.0], [880.5, 810.0], [240.0, 570.5]])


def reference_origins(quad: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Independent route: a float64 DLT solve, cv2.perspectiveTransform and explicit round-half-up."""
    src = np.array([[0, 0], [W_MM, 0], [W_MM, H_MM], [0, H_MM]], dtype=np.float64)
    h = np.linalg.solve(*_dlt(src, quad))  # float64 DLT solve, independent of the closed form
    hm = np.append(h, 1.0).reshape(3, 3)
    pts = np.asarray(spec.patch_centres_mm)
    mapped = cv2.perspectiveTransform(pts[None], hm)[0]
    return np.floor(mapped + 0.5).astype(np.int64) - spec.patch_size // 2


def _dlt(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.array(rows), np.array(rhs)


# ---- spec ----


def test_spec_json_round_trip_is_exact() -> None:
    spec = InputSpec(patch_size=32, global_margin_mm=2.5, patch_centres_mm=((0.1, 0.2), (85.6, 53.98)))
    for s in (SPEC, spec):
        back = InputSpec.from_json(s.to_json())
        assert back == s
        assert back.to_json() == s.to_json()
        assert back.digest() == s.digest()
    assert SPEC.num_patches == 8
    assert spec.digest() != SPEC.digest()


def test_spec_normalises_lists_and_ints() -> None:
    lists: dict = {"patch_centres_mm": [[10, 20]], "global_size": [96, 64]}
    spec = InputSpec(global_margin_mm=2, **lists)
    assert spec.patch_centres_mm == ((10.0, 20.0),)
    assert spec.global_size == (96, 64)
    assert InputSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("extra_key", 1, "unknown"),
        ("patch_size", 64.0, "patch_size"),
        ("patch_size", "64", "patch_size"),
        ("patch_size", 63, "even"),
        ("patch_size", True, "patch_size"),
        ("global_size", [128], "pair"),
        ("global_interpolation", "area", "linear"),
        ("channel_order", "BGR", "RGB"),
        ("value_range", [0, 1], "uint8"),
        ("card_size_mm", [85.0, 54.0], "85.6"),
        ("patch_centres_mm", [[90.0, 10.0]], "off the card"),
        ("patch_centres_mm", [["a", 1.0]], "finite number"),
        ("global_margin_mm", -1.0, "range"),
        ("version", "", "version"),
    ],
)
def test_tampered_spec_json_is_refused(key: str, value: object, match: str) -> None:
    data = json.loads(SPEC.to_json())
    data[key] = value
    with pytest.raises(ParameterError, match=match):
        InputSpec.from_json(json.dumps(data))


def test_spec_json_missing_key_and_garbage_are_refused() -> None:
    data = json.loads(SPEC.to_json())
    del data["patch_size"]
    with pytest.raises(ParameterError, match="missing"):
        InputSpec.from_json(json.dumps(data))
    with pytest.raises(ParameterError, match="JSON"):
        InputSpec.from_json("{not json")
    with pytest.raises(ParameterError):
        InputSpec.from_json(SPEC.to_json().replace("3.0", "NaN"))


# ---- patches ----


def test_card_homography_matches_an_independent_solve() -> None:
    for quad in (PERSPECTIVE_QUAD, ROTATED_QUAD, axis_quad(100.5, 60.5, 10.0)):
        h = card_homography(quad)
        src = np.array([[0, 0], [W_MM, 0], [W_MM, H_MM], [0, H_MM]], dtype=np.float64)
        ref = np.append(np.linalg.solve(*_dlt(src, quad)), 1.0).reshape(3, 3)
        np.testing.assert_allclose(h / h[2, 2], ref, rtol=1e-9, atol=1e-9)


def test_axis_aligned_patches_are_the_exact_frame_slices() -> None:
    frame = coord_frame()
    quad = axis_quad(100.25, 60.75, 12.0)
    origins = patch_origins(quad, SPEC)
    x = 100.25 + np.asarray(SPEC.patch_centres_mm)[:, 0] / W_MM * (12.0 * W_MM)
    y = 60.75 + np.asarray(SPEC.patch_centres_mm)[:, 1] / H_MM * (12.0 * H_MM)
    np.testing.assert_array_equal(origins, np.stack([np.floor(x + 0.5), np.floor(y + 0.5)], 1) - P // 2)
    patches = extract_patches(frame, quad, SPEC)
    assert patches.shape == (8, P, P, 3)
    assert patches.dtype == np.uint8
    for k, (x0, y0) in enumerate(origins):
        assert np.array_equal(patches[k], frame[y0 : y0 + P, x0 : x0 + P])
        # the content itself says where it came from: native resolution, no shift, no resampling
        np.testing.assert_array_equal(patches[k, 0, :, 0], (x0 + np.arange(P)) % 256)
        np.testing.assert_array_equal(patches[k, :, 0, 1], (y0 + np.arange(P)) % 256)


@pytest.mark.parametrize("quad", [PERSPECTIVE_QUAD, ROTATED_QUAD], ids=["perspective", "rotated"])
def test_perspective_patches_are_exact_slices_at_independent_origins(quad: np.ndarray) -> None:
    frame = coord_frame(1280, 900)
    out = preprocess(frame, quad, SPEC)
    np.testing.assert_array_equal(out.patch_origins, reference_origins(quad, SPEC))
    assert not out.clamped.any()
    for k, (x0, y0) in enumerate(out.patch_origins):
        assert np.array_equal(out.patches[k], frame[y0 : y0 + P, x0 : x0 + P])


def test_half_pixel_ties_round_up_and_bankers_rounding_is_detected() -> None:
    # centres mapped exactly to .5 positions: (0, 0) mm -> (100.5, 60.5); card centre -> x = 528.5 (y = 330.4)
    spec = replace(SPEC, patch_centres_mm=((0.0, 0.0), (W_MM / 2, H_MM / 2)))
    quad = axis_quad(100.5, 60.5, 10.0)
    frame = coord_frame()
    origins = patch_origins(quad, spec)
    np.testing.assert_array_equal(origins, [[101 - 32, 61 - 32], [529 - 32, 330 - 32]])
    bankers = np.round(np.array([[100.5, 60.5], [528.5, 330.4]])).astype(np.int64) - 32  # round half to even
    assert not np.array_equal(bankers, origins)  # negative control: the test sees the wrong rounding
    patches = extract_patches(frame, quad, spec)
    wrong = np.stack([frame[y : y + 32 * 2, x : x + 32 * 2] for x, y in bankers])
    assert not np.array_equal(wrong, patches)


def test_resampled_or_subpixel_crops_are_detected() -> None:
    frame = coord_frame()
    quad = axis_quad(100.25, 60.75, 12.0)
    patches = extract_patches(frame, quad, SPEC)
    x0, y0 = patch_origins(quad, SPEC)[0]
    exact = frame[y0 : y0 + P, x0 : x0 + P]
    assert np.array_equal(patches[0], exact)
    # negative controls: a resize round trip, an area-resampled slightly larger window, a sub-pixel crop
    resized = cv2.resize(cv2.resize(exact, (P // 2, P // 2), interpolation=cv2.INTER_AREA), (P, P))
    area = cv2.resize(frame[y0 : y0 + P + 2, x0 : x0 + P + 2], (P, P), interpolation=cv2.INTER_AREA)
    centre = (100.25 + 14.0 * 12.0 - 0.5, 60.75 + 24.0 * 12.0 - 0.5)  # OpenCV pixel-centre coordinates
    subpix = cv2.getRectSubPix(frame, (P, P), centre)
    for wrong in (resized, area, subpix):
        assert wrong.shape == exact.shape
        assert not np.array_equal(wrong, patches[0])


def test_windows_are_clamped_inside_the_frame_and_reported() -> None:
    frame = coord_frame(1000, 600)
    quad = axis_quad(-150.0, 20.0, 10.0)  # card hangs over the left edge
    raw = patch_origins(quad, SPEC)
    out = preprocess(frame, quad, SPEC)
    left = raw[:, 0] < 0
    assert left.any()
    assert not left.all()
    np.testing.assert_array_equal(out.clamped, left)
    np.testing.assert_array_equal(out.patch_origins[left, 0], 0)
    np.testing.assert_array_equal(out.patch_origins[~left], raw[~left])
    assert out.patches.shape == (8, P, P, 3)
    for k, (x0, y0) in enumerate(out.patch_origins):
        assert np.array_equal(out.patches[k], frame[y0 : y0 + P, x0 : x0 + P])
    # negative control: slicing at the raw (negative) origin does not give a full patch
    x0, y0 = raw[np.argmax(left)]
    assert frame[y0 : y0 + P, x0 : x0 + P].shape != (P, P, 3)
    # right / bottom edges clamp to W - P, H - P
    origins, clamped = clamp_origins(np.array([[990, 590], [10, 10]]), 1000, 600, P)
    np.testing.assert_array_equal(origins, [[1000 - P, 600 - P], [10, 10]])
    np.testing.assert_array_equal(clamped, [True, False])


# ---- global view ----


def canonical_quad(spec: InputSpec) -> np.ndarray:
    """The card quad in a frame that IS the canonical global view (card + margin at spec.global_size)."""
    (w, h), m = spec.global_size, spec.global_margin_mm
    sx, sy = w / (W_MM + 2 * m), h / (H_MM + 2 * m)
    return np.array(
        [
            [m * sx, m * sy],
            [(W_MM + m) * sx, m * sy],
            [(W_MM + m) * sx, (H_MM + m) * sy],
            [m * sx, (H_MM + m) * sy],
        ]
    )


def test_global_view_of_the_canonical_frame_is_unchanged() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (80, 128, 3), dtype=np.uint8)
    view = global_view(frame, canonical_quad(SPEC), SPEC)
    assert view.shape == (80, 128, 3)
    assert view.dtype == np.uint8
    assert np.abs(view.astype(int) - frame).max() <= 1
    # negative control: the same frame with a quad shifted by half a pixel is resampled
    shifted = global_view(frame, canonical_quad(SPEC) + 0.5, SPEC)
    assert np.abs(shifted.astype(int) - frame).mean() > 10


def test_documented_matrix_matches_an_independent_construction_and_the_warp() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (900, 1280, 3), dtype=np.uint8)
    (w, h), m = SPEC.global_size, SPEC.global_margin_mm
    sx, sy = w / (W_MM + 2 * m), h / (H_MM + 2 * m)
    dst_card = np.array(
        [
            [m * sx, m * sy],
            [(W_MM + m) * sx, m * sy],
            [(W_MM + m) * sx, (H_MM + m) * sy],
            [m * sx, (H_MM + m) * sy],
        ]
    )
    ref = np.append(np.linalg.solve(*_dlt(dst_card - 0.5, PERSPECTIVE_QUAD - 0.5)), 1.0).reshape(3, 3)
    mat = global_view_matrix(PERSPECTIVE_QUAD, SPEC)
    np.testing.assert_allclose(mat / mat[2, 2], ref, rtol=1e-9, atol=1e-9)
    manual = cv2.warpPerspective(frame, ref, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    view = global_view(frame, PERSPECTIVE_QUAD, SPEC)
    assert np.abs(view.astype(int) - manual).max() <= 1


def test_global_view_undoes_the_perspective_and_keeps_channel_order() -> None:
    rng = np.random.default_rng(3)
    coarse = rng.integers(0, 256, (10, 16, 3), dtype=np.uint8)
    canon = cv2.resize(coarse, (128, 80), interpolation=cv2.INTER_CUBIC)
    # place the canonical view into a frame with the inverse of the documented map
    to_frame = global_view_matrix(PERSPECTIVE_QUAD, SPEC)  # view pixel -> frame pixel: the forward map here
    frame = cv2.warpPerspective(canon, to_frame, (1280, 900), flags=cv2.INTER_LINEAR)
    view = global_view(frame, PERSPECTIVE_QUAD, SPEC)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(view[inner].astype(int) - canon[inner]).mean() < 2.0
    # negative control: the quad started at the wrong corner (rotated by one) gives a different view
    wrong = global_view(frame, np.roll(PERSPECTIVE_QUAD, 1, axis=0), SPEC)
    assert np.abs(wrong[inner].astype(int) - canon[inner]).mean() > 20.0
    # negative control for channel order: BGR input is not silently turned back into RGB
    bgr_view = global_view(frame[:, :, ::-1], PERSPECTIVE_QUAD, SPEC)
    assert not np.array_equal(bgr_view, view)
    np.testing.assert_array_equal(bgr_view, view[:, :, ::-1])


# ---- validation ----


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((600, 800, 3), np.float32), "uint8"),
        (np.zeros((600, 800, 4), np.uint8), "HxWx3"),
        (np.zeros((600, 800), np.uint8), "HxWx3"),
        ([[0]], "numpy array"),
        (np.zeros((40, 800, 3), np.uint8), "smaller than one"),
    ],
)
def test_bad_frames_are_refused(frame: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        preprocess(frame, axis_quad(10.0, 10.0, 8.0), SPEC)


@pytest.mark.parametrize(
    ("quad", "match"),
    [
        (axis_quad(10.0, 10.0, 8.0)[::-1], "counter-clockwise"),
        (np.array([[10, 10], [500, 10], [500, 10], [10, 300]]), "degenerate"),
        (np.array([[10, 10], [500, 10], [10, 300], [500, 300]]), "not convex"),
        (np.array([[10, 10], [500, 10], [200, 60], [10, 300]]), "not convex"),
        (np.array([[10, 10], [500, 10], [500, np.nan], [10, 300]]), "finite"),
        (np.zeros((3, 2)), "shape"),
        ("abc", "corners"),
        (axis_quad(10.0, 10.0, 1.4), "card too small for the patch spec"),
    ],
)
def test_bad_quads_are_refused(quad: object, match: str) -> None:
    frame = np.zeros((600, 800, 3), np.uint8)
    with pytest.raises(ParameterError, match=match):
        preprocess(frame, quad, SPEC)


def test_extreme_perspective_margin_is_refused() -> None:
    quad = np.array([[100.0, 100.0], [110.0, 100.0], [700.0, 500.0], [-500.0, 500.0]])
    with pytest.raises(ParameterError, match="perspective too extreme"):
        global_view(np.zeros((600, 800, 3), np.uint8), quad, SPEC)


def exact_bilinear(frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The documented formula in float64 (what an app implements): zero outside, round half up to uint8."""
    w, h = size
    j, i = np.mgrid[0:h, 0:w].astype(np.float64)
    den = matrix[2, 0] * i + matrix[2, 1] * j + matrix[2, 2]
    xs = (matrix[0, 0] * i + matrix[0, 1] * j + matrix[0, 2]) / den
    ys = (matrix[1, 0] * i + matrix[1, 1] * j + matrix[1, 2]) / den
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    fh, fw = frame.shape[:2]

    def sample(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (xx >= 0) & (xx < fw) & (yy >= 0) & (yy < fh)
        px = frame[np.clip(yy, 0, fh - 1), np.clip(xx, 0, fw - 1)].astype(np.float64)
        return np.where(inside[..., None], px, 0.0)

    top = (1 - fx) * sample(y0, x0) + fx * sample(y0, x0 + 1)
    bottom = (1 - fx) * sample(y0 + 1, x0) + fx * sample(y0 + 1, x0 + 1)
    return np.clip(np.floor((1 - fy) * top + fy * bottom + 0.5), 0, 255).astype(np.uint8)


def test_global_view_matches_the_documented_bilinear_formula_within_one_level() -> None:
    rng = np.random.default_rng(4)
    noise = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)  # worst case for sample-position errors
    quad = PERSPECTIVE_QUAD * 0.8
    mat = global_view_matrix(quad, SPEC)
    view = global_view(noise, quad, SPEC)
    diff = np.abs(view.astype(int) - exact_bilinear(noise, mat, SPEC.global_size))
    assert diff.max() <= 1
    assert diff.mean() < 0.05
    # negative control: the same formula without the half-pixel shift S (corner vs centre convention mixed up)
    unshifted = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]) @ mat
    wrong = exact_bilinear(noise, unshifted, SPEC.global_size)
    assert np.abs(view.astype(int) - wrong).mean() > 20
