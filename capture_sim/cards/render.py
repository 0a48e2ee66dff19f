"""render_card: the printed artwork of one template issued to one holder, its foil geometry, field masks."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from capture_sim.cards.background import apply_ink, card_size_px, ink_linear, static_layers
from capture_sim.cards.identity import Identity, format_date, sample_identity, yymmdd
from capture_sim.cards.layout import (
    MRZ_BASELINES_MM,
    MRZ_CAP_MM,
    MRZ_PITCH_MM,
    VALUE_CAP_MM,
    Layout,
    inline_value_x,
)
from capture_sim.cards.mrz import td1_mrz
from capture_sim.cards.portrait import ghost_portrait, render_portrait, sample_portrait_params
from capture_sim.cards.templates import TEMPLATES, TemplateSpec
from capture_sim.cards.text import draw_monospaced, draw_text, signature_curve
from capture_sim.ops import register_op
from capture_sim.rng import make_rng
from capture_sim.validation import check_choice, check_int_range

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]
MIN_WIDTH_PX, MAX_WIDTH_PX = 600, 4000
MAX_SEED = 2**63 - 1
_LUT_SIZE = 8192


@dataclass(frozen=True, eq=False)
class CardArtwork:
    """The front of one ID-1 card (85.60 x 53.98 mm) as printed, at px_per_mm pixels per millimetre.

    rgb: HxWx3 uint8 sRGB print; under the foil it shows the printed background (the renderer adds the foil).
    ovd_mask: HxW float32 in [0, 1], foil coverage with anti-aliased edges.
    grating_angle: HxW float32 radians in [0, pi), direction of the grating vector T in the card plane,
        measured from the card's +x axis (right) towards +y (down); 0 outside the foil.
    grating_period_nm: HxW float32 grating period d in nm, within [900, 4000] on the foil, 0 outside.
    field_masks: HxW bool masks 'portrait' (the portrait box), 'text' (boxes of field labels, values and the
        signature), 'mrz' (box of the MRZ lines; all False when the template has none).
    fields: printed values (surname, given_names, sex, nationality, date_of_birth, document_number,
        date_of_expiry, date_of_issue, issuing_state, and mrz_line1..3 where the template carries an MRZ).
    Arrays are fresh copies owned by the caller; instances compare by identity (eq=False).
    """

    template_id: str
    identity_seed: int
    rgb: NDArray[np.uint8]
    ovd_mask: FloatArray
    grating_angle: FloatArray
    grating_period_nm: FloatArray
    field_masks: dict[str, BoolArray]
    px_per_mm: float
    fields: dict[str, str]


@functools.lru_cache(maxsize=1)
def _srgb_lut() -> NDArray[np.uint8]:
    x = np.linspace(0.0, 1.0, _LUT_SIZE, dtype=np.float64)
    srgb = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


@register_op("cards.encode_srgb")
def encode_srgb(linear: FloatArray) -> NDArray[np.uint8]:
    """Linear light (float, clipped to [0, 1]) to 8-bit sRGB through an 8192-entry table (error < 1 level)."""
    idx = np.clip(linear, 0.0, 1.0) * np.float32(_LUT_SIZE - 1) + np.float32(0.5)
    return _srgb_lut()[idx.astype(np.int32)]


def card_fields(spec: TemplateSpec, identity: Identity) -> dict[str, str]:
    """The printed text values of a card (dates in the template's style), with the TD1 MRZ when it has one."""
    fields = {
        "surname": identity.surname,
        "given_names": identity.given_names,
        "sex": identity.sex,
        "nationality": spec.code,
        "date_of_birth": format_date(identity.birth_date, spec.date_style),
        "document_number": identity.document_number,
        "date_of_expiry": format_date(identity.expiry_date, spec.date_style),
        "date_of_issue": format_date(identity.issue_date, spec.date_style),
        "issuing_state": spec.code,
    }
    if spec.has_mrz:
        lines = td1_mrz(
            "ID", spec.code, identity.document_number, yymmdd(identity.birth_date), identity.sex,
            yymmdd(identity.expiry_date), spec.code, identity.surname, identity.given_names,
        )  # fmt: skip
        fields.update({f"mrz_line{i + 1}": line for i, line in enumerate(lines)})
    return fields


def _box_px(box: tuple[float, float, float, float], ppm: float) -> tuple[int, int, int, int]:
    return tuple(round(v * ppm) for v in box)  # type: ignore[return-value]


def _print_portrait(spec: TemplateSpec, layout: Layout, img: FloatArray, seed: int, sex: str, ppm: float) -> FloatArray:
    x0, y0, x1, y1 = _box_px(layout.portrait_box, ppm)
    params = sample_portrait_params(make_rng(seed, 0, "cards.portrait"), sex)
    portrait = render_portrait(params, y1 - y0, x1 - x0)
    region = img[y0:y1, x0:x1]
    if spec.portrait_style == "colour":  # dye transfer onto an unprinted window
        region[:] = portrait
    elif spec.portrait_style == "laser":  # laser engraving darkens the card body: greyscale, multiplicative
        lum = portrait @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        region *= np.power(lum, 1.1)[..., None]
    else:  # dye transfer whose density fades out over the last 2.5 mm
        ys = np.minimum(np.arange(y1 - y0) + 0.5, y1 - y0 - np.arange(y1 - y0) - 0.5) / (2.5 * ppm)
        xs = np.minimum(np.arange(x1 - x0) + 0.5, x1 - x0 - np.arange(x1 - x0) - 0.5) / (2.5 * ppm)
        density = (np.clip(ys, 0, 1)[:, None] * np.clip(xs, 0, 1)[None, :]).astype(np.float32)
        region *= 1.0 - density[..., None] * (1.0 - portrait)
    return portrait


def _print_ghost(spec: TemplateSpec, layout: Layout, img: FloatArray, portrait: FloatArray, ppm: float) -> None:
    x0, y0, x1, y1 = _box_px(layout.ghost_box, ppm)
    cov = ghost_portrait(portrait, y1 - y0, x1 - x0, 0.42)
    img[y0:y1, x0:x1] *= 1.0 - cov[..., None] * (1.0 - ink_linear(spec.label_rgb))


def _print_values(
    spec: TemplateSpec, layout: Layout, img: FloatArray, fields: dict[str, str], seed: int, ppm: float
) -> tuple[BoolArray, BoolArray]:
    h, w = img.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    text_mask = np.zeros((h, w), bool)
    for slot in layout.slots:
        x = inline_value_x(slot) if spec.field_layout == "inline" else slot.x_mm
        box = draw_text(
            draw,
            fields[slot.key],
            x,
            slot.value_baseline_mm,
            VALUE_CAP_MM,
            spec.value_font,
            ppm,
            slot.max_width_mm,
        )
        text_mask[max(0, box[1]) : box[3], max(0, box[0]) : box[2]] = True
    values = np.asarray(canvas, dtype=np.float32) / np.float32(255.0)
    fx0, fy0, fx1, fy1 = _box_px(layout.fields_box, ppm)
    apply_ink(
        img,
        values,
        ink_linear(spec.value_rgb),
        (max(0, fx0 - 4), max(0, fy0 - 4), min(w, fx1 + 4), min(h, fy1 + 4)),
    )
    if layout.signature_box is not None:
        sig = np.zeros((h, w), np.uint8)
        sx0, sy0, sx1, sy1 = layout.signature_box
        curve = signature_curve(make_rng(seed, 0, "cards.signature"), sx1 - sx0, sy1 - sy0 - 1.5)
        pts = np.round((curve + np.array([sx0, sy1])) * ppm * 16).astype(np.int32)
        cv2.polylines(sig, [pts], False, 255, max(1, round(0.22 * ppm)), cv2.LINE_AA, shift=4)
        bx0, by0, bx1, by1 = _box_px(layout.signature_box, ppm)
        text_mask[by0:by1, bx0:bx1] = True
        apply_ink(img, sig.astype(np.float32) / 255.0, ink_linear((20, 40, 110)), (0, 0, w, h))
    mrz_mask = np.zeros((h, w), bool)
    if spec.has_mrz:
        mrz = Image.new("L", (w, h), 0)
        mdraw = ImageDraw.Draw(mrz)
        for i, baseline in enumerate(MRZ_BASELINES_MM):
            line = fields[f"mrz_line{i + 1}"]
            bx0, by0, bx1, by1 = draw_monospaced(mdraw, line, layout.mrz_x_mm, baseline, MRZ_CAP_MM, MRZ_PITCH_MM, ppm)
            mrz_mask[max(0, by0) : by1, max(0, bx0) : bx1] = True
        cov = np.asarray(mrz, dtype=np.float32) / np.float32(255.0)
        top = max(0, int(MRZ_BASELINES_MM[0] * ppm - MRZ_CAP_MM * ppm) - 4)
        apply_ink(img, cov, ink_linear((18, 18, 20)), (0, top, w, h))
    return text_mask, mrz_mask


@register_op("cards.render")
def render_card(template_id: str, identity_seed: int, width_px: int = 1200) -> CardArtwork:
    """Render the front of a card of template `template_id` issued to the holder drawn from `identity_seed`.

    Deterministic in its arguments. width_px in [600, 4000]; height is round(width_px * 53.98 / 85.60).
    Raises ParameterError for an unknown template, a width out of range or a negative seed.
    """
    check_choice("template_id", template_id, TEMPLATES)
    check_int_range("width_px", width_px, MIN_WIDTH_PX, MAX_WIDTH_PX)
    check_int_range("identity_seed", identity_seed, 0, MAX_SEED)
    spec = TEMPLATES[template_id]
    static = static_layers(template_id, width_px)
    ppm, layout = static.px_per_mm, static.layout
    h, w = card_size_px(width_px)
    identity = sample_identity(make_rng(identity_seed, 0, "cards.identity"))
    fields = card_fields(spec, identity)
    img = static.reflectance.copy()
    portrait = _print_portrait(spec, layout, img, identity_seed, identity.sex, ppm)
    _print_ghost(spec, layout, img, portrait, ppm)
    text_mask, mrz_mask = _print_values(spec, layout, img, fields, identity_seed, ppm)
    portrait_mask = np.zeros((h, w), bool)
    px0, py0, px1, py1 = _box_px(layout.portrait_box, ppm)
    portrait_mask[py0:py1, px0:px1] = True
    return CardArtwork(
        template_id=template_id,
        identity_seed=identity_seed,
        rgb=encode_srgb(img),
        ovd_mask=static.ovd_mask.copy(),
        grating_angle=static.grating_angle.copy(),
        grating_period_nm=static.grating_period_nm.copy(),
        field_masks={"portrait": portrait_mask, "text": text_mask | static.label_mask, "mrz": mrz_mask},
        px_per_mm=ppm,
        fields=fields,
    )
