"""Card artwork: templates, determinism, ICAO 9303 MRZ, foil geometry, field masks, argument checks."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from capture_sim.cards import (
    CardArtwork,
    list_templates,
    mrz_check_digit,
    render_card,
    td1_check_digits_valid,
    td1_mrz,
)
from capture_sim.cards.background import static_layers
from capture_sim.cards.portrait import sample_portrait_params
from capture_sim.cards.templates import get_template
from capture_sim.rng import make_rng
from cardlive.errors import ParameterError

WIDTH = 600
HEIGHT = round(WIDTH * 53.98 / 85.60)


@functools.lru_cache(maxsize=64)
def _render(template_id: str, seed: int = 3) -> CardArtwork:
    return render_card(template_id, seed, WIDTH)


def test_there_are_at_least_twelve_distinct_templates() -> None:
    ids = list_templates()
    assert len(ids) >= 12
    assert len(set(ids)) == len(ids)
    specs = [get_template(t) for t in ids]
    assert {s.portrait_side for s in specs} == {"left", "right"}
    assert sum(s.has_mrz for s in specs) >= 8
    assert not all(s.has_mrz for s in specs)
    assert len({s.field_layout for s in specs}) >= 3
    assert len({s.linework for s in specs}) >= 5
    assert len({e.shape for s in specs for e in s.ovd}) >= 5


@pytest.mark.parametrize("template_id", list_templates())
def test_template_renders_documented_shapes_and_ranges(template_id: str) -> None:
    art = _render(template_id)
    assert art.template_id == template_id
    assert art.identity_seed == 3
    assert art.rgb.shape == (HEIGHT, WIDTH, 3)
    assert art.rgb.dtype == np.uint8
    for arr in (art.ovd_mask, art.grating_angle, art.grating_period_nm):
        assert arr.shape == (HEIGHT, WIDTH)
        assert arr.dtype == np.float32
    assert art.px_per_mm == pytest.approx(WIDTH / 85.60)
    assert set(art.field_masks) == {"portrait", "text", "mrz"}
    for mask in art.field_masks.values():
        assert mask.shape == (HEIGHT, WIDTH)
        assert mask.dtype == np.bool_
    assert {
        "surname",
        "given_names",
        "date_of_birth",
        "document_number",
        "date_of_expiry",
        "nationality",
        "sex",
    } <= set(art.fields)


@pytest.mark.parametrize("template_id", list_templates())
def test_foil_is_inside_the_card_with_gratings_in_range(template_id: str) -> None:
    art = _render(template_id)
    mask, angle, period = art.ovd_mask, art.grating_angle, art.grating_period_nm
    assert mask.min() >= 0.0
    assert mask.max() == pytest.approx(1.0)
    assert 0.005 < (mask > 0.5).mean() < 0.25  # a foil element, not the whole card
    assert ((mask > 0.0) & (mask < 1.0)).any()  # anti-aliased edges
    on = mask > 0.0
    assert np.all((period[on] >= 900.0) & (period[on] <= 4000.0))
    assert np.all((angle[on] >= 0.0) & (angle[on] < np.pi))
    assert np.all(period[~on] == 0.0)
    assert np.all(angle[~on] == 0.0)
    assert not (art.field_masks["mrz"] & on).any()  # the MRZ is kept clear of the foil


def _lit(angle: np.ndarray, period: np.ndarray, direction: tuple[float, float]) -> np.ndarray:
    """Foil texels whose first diffraction order is green (500-560 nm) for in-plane L+V = direction."""
    lam = period * np.abs(np.cos(angle) * direction[0] + np.sin(angle) * direction[1])
    return np.asarray((lam > 500.0) & (lam < 560.0))


@pytest.mark.parametrize("template_id", list_templates())
def test_foil_design_lights_up_in_parts_that_move_with_tilt(template_id: str) -> None:
    art = _render(template_id)
    on = art.ovd_mask > 0.5
    angle, period = art.grating_angle[on], art.grating_period_nm[on]
    directions = [(0.35 * np.cos(a), 0.35 * np.sin(a)) for a in np.linspace(0.0, np.pi, 9)]
    lit = [_lit(angle, period, d) for d in directions]
    assert any(0.01 < m.mean() < 0.99 for m in lit)  # some parts lit, others not
    assert max((a ^ b).mean() for a, b in itertools.combinations(lit, 2)) > 0.05  # which parts moves with tilt
    # negative control: one uniform grating is either all lit or all dark at any geometry
    flat = [_lit(np.full_like(angle, angle[0]), np.full_like(period, period[0]), d) for d in directions]
    assert all(m.mean() in (0.0, 1.0) for m in flat)


@pytest.mark.parametrize("template_id", list_templates())
def test_field_masks_are_non_empty_where_expected(template_id: str) -> None:
    art = _render(template_id)
    spec = get_template(template_id)
    portrait = art.field_masks["portrait"]
    assert 0.1 < portrait.mean() < 0.2  # about 22 x 28 mm of 85.6 x 54 mm
    assert art.field_masks["text"].mean() > 0.03
    assert art.field_masks["mrz"].any() == spec.has_mrz
    assert not (art.field_masks["mrz"] & portrait).any()
    if spec.has_mrz:
        lines = [art.fields[f"mrz_line{i}"] for i in (1, 2, 3)]
        assert td1_check_digits_valid(lines)
        assert lines[0][5:14] == art.fields["document_number"]
        assert lines[1][15:18] == art.fields["nationality"]
    else:
        assert not any(k.startswith("mrz") for k in art.fields)


def test_templates_are_pairwise_distinct() -> None:
    renders = {t: _render(t).rgb.astype(np.float32) for t in list_templates()}
    cross = {(a, b): float(np.abs(renders[a] - renders[b]).mean()) for a, b in itertools.combinations(renders, 2)}
    # the same template issued to another holder changes less than a change of template does
    same = float(np.abs(renders["tpl00"] - _render("tpl00", 4).rgb.astype(np.float32)).mean())
    assert min(cross.values()) > 6.0, min(cross.items(), key=lambda kv: kv[1])
    assert same < min(cross.values())


def test_rendering_is_deterministic() -> None:
    a = render_card("tpl05", 123, WIDTH)
    static_layers.cache_clear()  # a cold rebuild of the cached layers gives the same bytes
    b = render_card("tpl05", 123, WIDTH)
    assert a.rgb.tobytes() == b.rgb.tobytes()
    assert a.ovd_mask.tobytes() == b.ovd_mask.tobytes()
    assert a.grating_angle.tobytes() == b.grating_angle.tobytes()
    assert all(np.array_equal(a.field_masks[k], b.field_masks[k]) for k in a.field_masks)
    assert a.fields == b.fields


def test_another_holder_changes_the_card() -> None:
    a, b = render_card("tpl05", 123, WIDTH), render_card("tpl05", 124, WIDTH)
    assert a.rgb.tobytes() != b.rgb.tobytes()
    assert a.fields != b.fields
    box = a.field_masks["portrait"]
    assert np.abs(a.rgb[box].astype(int) - b.rgb[box].astype(int)).mean() > 5.0  # another portrait


def test_returned_arrays_do_not_alias_the_cache() -> None:
    a = render_card("tpl01", 1, WIDTH)
    a.ovd_mask[:] = 0.0
    a.rgb[:] = 0
    assert render_card("tpl01", 1, WIDTH).ovd_mask.max() > 0.0


def test_portraits_come_from_photo_and_procedural_sources_matching_sex() -> None:
    women = [sample_portrait_params(make_rng(s, 0, "t"), "F") for s in range(60)]
    men = [sample_portrait_params(make_rng(s, 0, "t"), "M") for s in range(60)]
    assert {p.source for p in women} == {"astronaut", "procedural"}
    assert {p.source for p in men} == {"procedural"}  # the bundled photo is of a woman
    assert not any(p.beard for p in women)


def test_mrz_check_digits_match_the_icao_9303_specimen() -> None:
    assert mrz_check_digit("L898902C3") == 6
    assert mrz_check_digit("740812") == 2
    assert mrz_check_digit("120415") == 9
    lines = td1_mrz("I", "UTO", "D23145890", "740812", "F", "120415", "UTO", "ERIKSSON", "ANNA MARIA")
    assert lines == [
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ]
    assert td1_check_digits_valid(lines)


@pytest.mark.parametrize(("line", "pos"), [(0, 14), (1, 6), (1, 14), (1, 29), (0, 7)])
def test_a_corrupted_mrz_fails_validation(line: int, pos: int) -> None:
    lines = td1_mrz("I", "UTO", "D23145890", "740812", "F", "120415", "UTO", "ERIKSSON", "ANNA MARIA")
    old = lines[line][pos]
    new = "5" if old != "5" else "4"
    lines[line] = lines[line][:pos] + new + lines[line][pos + 1 :]
    assert not td1_check_digits_valid(lines)


def test_mrz_names_are_transliterated_and_padded() -> None:
    lines = td1_mrz("ID", "UTO", "X1", "900101", "M", "300101", "UTO", "SCHMIDT-RÖHL", "LÉON O'BRIEN")
    assert lines[2] == "SCHMIDT<ROHL<<LEON<OBRIEN".ljust(30, "<")
    assert lines[0][5:14] == "X1<<<<<<<"
    assert all(len(line) == 30 for line in lines)


def test_card_height_follows_the_id1_aspect() -> None:
    art = render_card("tpl03", 0, 1000)
    assert art.rgb.shape[:2] == (round(1000 * 53.98 / 85.60), 1000)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"template_id": "nope", "identity_seed": 1}, "tpl00"),
        ({"template_id": "tpl00", "identity_seed": 1, "width_px": 599}, "[600, 4000]"),
        ({"template_id": "tpl00", "identity_seed": 1, "width_px": 4001}, "[600, 4000]"),
        ({"template_id": "tpl00", "identity_seed": 1, "width_px": 800.0}, "[600, 4000]"),
        ({"template_id": "tpl00", "identity_seed": -1}, "[0, "),
    ],
)
def test_bad_arguments_raise_parameter_error_naming_the_range(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(ParameterError) as info:
        render_card(**kwargs)  # type: ignore[arg-type]
    assert expected in str(info.value)


def test_bad_mrz_input_raises_parameter_error() -> None:
    with pytest.raises(ParameterError, match="YYMMDD"):
        td1_mrz("ID", "UTO", "X1", "9001", "M", "300101", "UTO", "A", "B")
    with pytest.raises(ParameterError, match="at most 9"):
        td1_mrz("ID", "UTO", "X1234567890", "900101", "M", "300101", "UTO", "A", "B")
