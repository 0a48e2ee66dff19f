"""Print recapture physics: halftone spectra, tone, gamut, prefiltering, determinism and parameter checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from capture_sim.color import linear_to_srgb, srgb_to_linear
from capture_sim.presentation import halftone
from capture_sim.presentation.printing import (
    PIGMENT_INKS,
    PRINT_FAMILIES,
    SHEETS,
    PrintParams,
    card_offset_on_sheet_mm,
    ink_transmittance,
    print_reflectance,
    sample_print_params,
    separate_inks,
    sheet_size_mm,
)
from cardlive.errors import ParameterError

LASER = PrintParams("laser_am", "am", False, lpi=150.0, dot_gain=0.0, yule_nielsen_n=1.7, paper_texture=0.0)
INKJET = PrintParams("inkjet_fm", "fm", False, lpi=150.0, fm_dot_um=30.0, dot_gain=0.0, paper_texture=0.0)
DYESUB = PrintParams("dyesub_photo", "contone", False, lpi=150.0, dot_gain=0.0, yule_nielsen_n=1.0)
GREY = PrintParams("grey_copy", "am", True, lpi=120.0, dot_gain=0.0, yule_nielsen_n=1.0, paper_texture=0.0)


def flat(rgb: tuple[int, int, int]) -> np.ndarray:
    """A card image of one flat colour (flat patches need no resolution)."""
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (54, 86, 3)).copy()


def grid(n: int, foot: float, x0: float = 30.0, y0: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(x0 + np.arange(n, dtype=np.float32) * foot, y0 + np.arange(n, dtype=np.float32) * foot)
    return x.astype(np.float32), y.astype(np.float32)


def single_ink_colour(ink: int, area: float, n: float = 1.7) -> tuple[int, int, int]:
    """The sRGB colour that a calibrated driver prints with only `ink` at dot area `area` (Yule-Nielsen n)."""
    t = PIGMENT_INKS[ink]
    t_main = t[min(ink, 2)]
    amount = n * np.log(1.0 - area * (1.0 - t_main ** (1.0 / n))) / np.log(t_main)
    srgb = linear_to_srgb((t**amount).astype(np.float32))
    return tuple(int(v) for v in np.rint(srgb * 255.0))  # type: ignore[return-value]


def spectrum(channel: np.ndarray, foot: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrum (Hann window, zero-padded x2) and the fx, fy grids in cycles / mm."""
    n = channel.shape[0]
    w = np.hanning(n)
    img = (channel - channel.mean()) * w[:, None] * w[None, :]
    power = np.abs(np.fft.fft2(img, s=(2 * n, 2 * n))) ** 2
    f = np.fft.fftfreq(2 * n, d=foot)
    return power, f[None, :] + 0 * f[:, None], f[:, None] + 0 * f[None, :]


def screen_peak(channel: np.ndarray, foot: float, f0: float) -> tuple[float, float, float]:
    """(angle in page convention mod 90, radius in cycles / mm, share of the AC power near the peak) of the
    strongest spectral peak in the annulus 0.7-1.3 f0."""
    power, fx, fy = spectrum(channel, foot)
    r = np.hypot(fx, fy)
    ring = (r > 0.7 * f0) & (r < 1.3 * f0)
    iy, ix = np.unravel_index(np.argmax(np.where(ring, power, 0.0)), power.shape)
    near = np.hypot(fx - fx[iy, ix], fy - fy[iy, ix]) < 0.06 * f0
    share = float(power[near].sum() / power[r > 0.05 * f0].sum())
    return float(np.degrees(np.arctan2(-fy[iy, ix], fx[iy, ix])) % 90.0), float(r[iy, ix]), share


@pytest.mark.parametrize(("ink", "channel"), [(0, 0), (1, 1), (2, 2), (3, 1)])
def test_am_patch_of_one_ink_peaks_at_its_ruling_and_screen_angle(ink: int, channel: int) -> None:
    foot = 0.01
    x, y = grid(512, foot)
    content = flat(single_ink_colour(ink, 0.4))
    refl = print_reflectance(content, x, y, foot, LASER, seed=3)
    f0 = LASER.lpi / 25.4
    angle, radius, share = screen_peak(refl[..., channel], foot, f0)
    expected = LASER.screen_angles_deg[ink] % 90.0
    assert min(abs(angle - expected), 90.0 - abs(angle - expected)) <= 2.0, (angle, expected)
    assert abs(radius - f0) < 0.04 * f0
    assert share > 0.05
    # negative control: the dye-sub (contone) print of the same patch has no screen peak
    contone = print_reflectance(content, x, y, foot, DYESUB, seed=3)
    assert screen_peak(contone[..., channel], foot, f0)[2] < 0.01


def test_grey_copy_is_k_only_at_45_degrees() -> None:
    foot = 0.01
    x, y = grid(384, foot)
    refl = print_reflectance(flat((150, 120, 90)), x, y, foot, GREY, seed=1)
    assert np.allclose(refl[..., 0] / GREY.paper_white[0], refl[..., 2] / GREY.paper_white[2], atol=0.02)
    angle, _, share = screen_peak(refl[..., 1], foot, GREY.lpi / 25.4)
    assert min(abs(angle - 45.0), 90.0 - abs(angle - 45.0)) <= 2.0
    assert share > 0.05


def low_frequency_share(channel: np.ndarray, foot: float, f_max: float) -> float:
    power, fx, fy = spectrum(channel, foot)
    r = np.hypot(fx, fy)
    ac = r > 0.0
    return float(power[ac & (r < f_max)].sum() / power[ac].sum())


def test_fm_print_has_a_blue_noise_spectrum_without_isolated_peaks() -> None:
    foot, cell = 0.006, INKJET.fm_dot_um / 1000.0
    x, y = grid(512, foot)
    refl = print_reflectance(flat(single_ink_colour(0, 0.5)), x, y, foot, INKJET, seed=5)[..., 0]
    f_cell = 1.0 / cell
    assert screen_peak(refl, foot, 0.6 * f_cell)[2] < 0.01  # no isolated peak where blue noise peaks
    fm_low = low_frequency_share(refl, foot, f_cell / 8.0)
    assert fm_low < 0.01
    # negative control: a white-noise dither of the same printer cells puts far more power at low frequency
    rng = np.random.default_rng(0)
    cells = (rng.random((103, 103)) < 0.5).astype(np.float32)
    white = cells[(np.arange(512) * foot / cell).astype(int)][:, (np.arange(512) * foot / cell).astype(int)]
    assert low_frequency_share(white, foot, f_cell / 8.0) > 5 * fm_low


@pytest.mark.parametrize("area", [0.0, 0.5, 1.0])
def test_flat_patch_mean_matches_the_ink_model(area: float) -> None:
    """Murray-Davies for n = 1 without scattering: mean R = paper * (1 - a (1 - t_K)); the calibrated driver
    chose a so that this equals paper * L of the content."""
    t_k = ink_transmittance(GREY)[3, 1]
    target = 1.0 - area * (1.0 - t_k)
    v = int(np.rint(linear_to_srgb(np.array([target], dtype=np.float32))[0] * 255.0)) if area > 0 else 255
    v = 0 if area == 1.0 else v
    foot = 0.02
    x, y = grid(300, foot)  # 6 mm = 28 screen cells
    refl = print_reflectance(flat((v, v, v)), x, y, foot, GREY, seed=2)
    a = min(1.0, (1.0 - float(srgb_to_linear(np.array([v], dtype=np.uint8))[0])) / (1.0 - t_k))
    expected = np.asarray(GREY.paper_white) * (1.0 - a * (1.0 - ink_transmittance(GREY)[3]))
    assert np.allclose(refl.reshape(-1, 3).mean(axis=0), expected, rtol=0.02, atol=0.003)
    if area == 0.5:  # negative control: mechanical dot gain darkens the same patch beyond the no-gain model
        gained = print_reflectance(flat((v, v, v)), x, y, foot, dataclasses.replace(GREY, dot_gain=0.15), seed=2)
        assert gained.reshape(-1, 3).mean(axis=0)[1] < 0.9 * expected[1]
        a_g = a + 0.15 * np.sin(np.pi * a)  # the gain curve of the model
        assert gained.reshape(-1, 3).mean(axis=0)[1] == pytest.approx(
            GREY.paper_white[1] * (1 - a_g * (1 - t_k)), rel=0.03
        )


def test_optical_dot_gain_is_compensated_by_the_calibrated_driver() -> None:
    """Scattering (n = 2) darkens a 50 % screen; the driver's Yule-Nielsen inverse restores the tone."""
    foot = 0.02
    x, y = grid(300, foot)
    grey2 = dataclasses.replace(GREY, yule_nielsen_n=2.0)
    v = 150
    target = GREY.paper_white[1] * float(srgb_to_linear(np.array([v], dtype=np.uint8))[0])
    mean2 = print_reflectance(flat((v, v, v)), x, y, foot, grey2, seed=2)[..., 1].mean()
    assert mean2 == pytest.approx(target, rel=0.06)
    # negative control: the n = 2 dot areas printed without lateral scattering come out lighter
    no_scatter = dataclasses.replace(grey2, yule_nielsen_n=1.0)
    area2 = separate_inks(flat((v, v, v)), grey2)[0, 0, 3]
    lighter = GREY.paper_white[1] * (1.0 - area2 * (1.0 - ink_transmittance(no_scatter)[3, 1]))
    assert lighter > 1.1 * target


def chroma(linear_rgb: np.ndarray) -> float:
    """CIELAB chroma C*ab (D65) of a linear sRGB colour."""
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.asarray(linear_rgb, dtype=np.float64) / m.sum(axis=1)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return float(np.hypot(500 * (f[0] - f[1]), 200 * (f[1] - f[2])))


@pytest.mark.parametrize("params", [LASER, INKJET, DYESUB], ids=lambda p: p.family)
def test_saturated_primaries_print_less_saturated(params: PrintParams) -> None:
    foot = 0.05
    x, y = grid(64, foot)
    for rgb in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]:
        mean = print_reflectance(flat(rgb), x, y, foot, params, seed=1).reshape(-1, 3).mean(axis=0)
        original = chroma(srgb_to_linear(np.array(rgb, dtype=np.uint8)))
        printed = chroma(mean / np.asarray(params.paper_white))  # relative to the paper, as the eye adapts
        assert printed < 0.85 * original, (rgb, printed, original)
        # negative control: the unprinted colour (or a print that kept it) fails the same check
        assert not chroma(srgb_to_linear(np.array(rgb, dtype=np.uint8))) < 0.85 * original


def test_prefiltered_dots_alias_far_less_than_point_sampled_dots() -> None:
    cell = 25.4 / 150.0
    foot = 0.7 * cell
    x, y = grid(256, foot)
    cov = np.full(x.shape, 0.4, dtype=np.float32)
    filtered = halftone.am_ink_fraction(cov, x, y, foot, 150.0, 15.0)
    point = halftone.am_ink_fraction(cov, x, y, 1e-4, 150.0, 15.0)  # negative control: no prefilter
    nyquist = 0.5 / foot
    alias_f = low_frequency_share(filtered, foot, nyquist / 3) * filtered.var()
    alias_p = low_frequency_share(point, foot, nyquist / 3) * point.var()
    assert alias_f < 0.3 * alias_p
    assert filtered.mean() == pytest.approx(0.4, abs=0.02)


def test_same_seed_same_bytes_other_seed_other_paper_and_fm() -> None:
    x, y = grid(64, 0.01)
    content = flat((120, 160, 200))
    for params in (dataclasses.replace(LASER, paper_texture=0.06), INKJET):
        a = print_reflectance(content, x, y, 0.01, params, seed=7)
        b = print_reflectance(content, x, y, 0.01, params, seed=7)
        c = print_reflectance(content, x, y, 0.01, params, seed=8)
        assert a.tobytes() == b.tobytes()
        assert np.abs(a - c).max() > 0.05


def test_outside_the_card_is_bare_paper_and_output_contract() -> None:
    x, y = grid(32, 0.05, x0=-4.0, y0=10.0)  # x in [-4, -2.4]: off the card
    refl = print_reflectance(flat((0, 0, 0)), x, y, np.full(x.shape, 0.05, np.float32), LASER, seed=1)
    assert refl.dtype == np.float32
    assert refl.shape == (32, 32, 3)
    assert np.allclose(refl, np.asarray(LASER.paper_white, dtype=np.float32), atol=1e-5)
    inside = print_reflectance(flat((0, 0, 0)), x + np.float32(10.0), y, 0.05, LASER, seed=1)
    assert inside.max() < 0.05


def test_footprint_array_matches_scalar_footprint() -> None:
    x, y = grid(96, 0.02)
    content = flat((90, 140, 200))
    a = print_reflectance(content, x, y, 0.02, LASER, seed=4)
    b = print_reflectance(content, x, y, np.full(x.shape, 0.02, np.float32), LASER, seed=4)
    assert np.abs(a - b).max() < 1e-5


@pytest.mark.parametrize("family", PRINT_FAMILIES)
def test_sampled_params_follow_the_family(family: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(25):
        p = sample_print_params(rng, family)
        assert p.family == family
        assert p.sheet in SHEETS
        w, h = sheet_size_mm(p)
        ox, oy = card_offset_on_sheet_mm(p, rng)
        if p.sheet == "cut":
            assert (ox, oy, w, h) == (0.0, 0.0, 85.60, 53.98)
        else:
            assert 6.0 <= ox <= w - 85.60 - 6.0 + 1e-9
            assert 6.0 <= oy <= h - 53.98 - 6.0 + 1e-9
        expected = {
            "laser_am": ("am", False, 100.0 <= p.lpi <= 200.0),
            "inkjet_fm": ("fm", False, 15.0 <= p.fm_dot_um <= 40.0),
            "dyesub_photo": ("contone", False, 0.2 <= p.gloss <= 0.5),
            "grey_copy": ("am", True, 85.0 <= p.lpi <= 150.0 and p.screen_angles_deg[3] == 45.0),
        }[family]
        assert (p.process, p.grey, True) == expected
    assert sample_print_params(np.random.default_rng(3), family) == sample_print_params(
        np.random.default_rng(3), family
    )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"lpi": 300.0}, "[85.0, 200.0]"),
        ({"fm_dot_um": 10.0}, "[15.0, 80.0]"),
        ({"dot_gain": 0.5}, "[0.0, 0.3]"),
        ({"yule_nielsen_n": 3.0}, "[1.0, 2.5]"),
        ({"paper_white": (0.5, 0.8, 0.8)}, "[0.6, 0.95]"),
        ({"paper_texture": 0.2}, "[0.0, 0.12]"),
        ({"ink_density": 2.0}, "[0.7, 1.1]"),
        ({"contone_blur_mm": 0.5}, "[0.02, 0.15]"),
        ({"process": "fm"}, "['am']"),
        ({"grey": True}, "[False]"),
        ({"sheet": "a3"}, "['cut', 'a4', 'letter']"),
        ({"screen_angles_deg": (15.0, 75.0, 0.0)}, "4 angles"),
    ],
)
def test_bad_params_raise_parameter_error_naming_the_range(change: dict[str, object], fragment: str) -> None:
    with pytest.raises(ParameterError) as err:
        dataclasses.replace(LASER, **change)  # type: ignore[arg-type]
    assert fragment in str(err.value)


def test_bad_inputs_raise_parameter_error() -> None:
    x, y = grid(8, 0.1)
    with pytest.raises(ParameterError, match="uint8"):
        print_reflectance(flat((1, 2, 3)).astype(np.float32), x, y, 0.1, LASER, 1)
    with pytest.raises(ParameterError, match="> 0"):
        print_reflectance(flat((1, 2, 3)), x, y, 0.0, LASER, 1)
    with pytest.raises(ParameterError, match="one of"):
        sample_print_params(np.random.default_rng(0), "offset_press")
