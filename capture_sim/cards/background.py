"""The per-template printed layers that do not depend on the holder: tinted underprint, guilloche line-work in
rainbow inks, microprint rules, header and field labels. Built once per (template, width) and cached.

Printing model: each ink layer filters the light reflected by what lies below it, so reflectance multiplies:
R <- R * (1 - c * (1 - T_ink)), with c the layer's coverage in [0, 1] and T_ink the ink's linear reflectance
as printed solid on white card (all in linear light).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from capture_sim.cards.layout import (
    LABEL_CAP_MM,
    MICRO_CAP_MM,
    MRZ_ZONE_TOP_MM,
    TITLES,
    Layout,
    card_layout,
    label_text,
)
from capture_sim.cards.linework import guilloche_coverage, rainbow_ink, style_layers
from capture_sim.cards.ovd import ovd_foil
from capture_sim.cards.templates import TEMPLATES, TemplateSpec, get_template
from capture_sim.cards.text import draw_text, microprint_strip
from capture_sim.color import srgb_to_linear
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]


def card_size_px(width_px: int) -> tuple[int, int]:
    """(height, width) in pixels of the whole card at width_px: height = round(width * 53.98 / 85.60)."""
    return round(width_px * CARD_HEIGHT_MM / CARD_WIDTH_MM), width_px


def ink_linear(rgb255: tuple[int, int, int]) -> FloatArray:
    """Linear reflectance of an ink given as sRGB 0-255."""
    return srgb_to_linear(np.asarray(rgb255, dtype=np.uint8))


def apply_ink(img: FloatArray, coverage: FloatArray, ink: FloatArray, box: tuple[int, int, int, int]) -> None:
    """In place, within box (x0, y0, x1, y1 px): img *= 1 - coverage * (1 - ink). ink is (3,) or HxWx3."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    cov = coverage[y0:y1, x0:x1, None]
    ink_box = ink[y0:y1, x0:x1] if ink.ndim == 3 else ink
    img[y0:y1, x0:x1] *= 1.0 - cov * (1.0 - ink_box)


@dataclass(frozen=True)
class StaticLayers:
    """Cached, read-only per-(template, width) layers."""

    reflectance: FloatArray  # HxWx3 linear reflectance of the holder-independent print
    label_mask: BoolArray  # HxW boxes of the printed labels
    ovd_mask: FloatArray
    grating_angle: FloatArray
    grating_period_nm: FloatArray
    px_per_mm: float
    layout: Layout


def _header(spec: TemplateSpec, img: FloatArray, ppm: float) -> None:
    h, w = img.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    title = f"{TITLES[spec.language]}  ·  IDENTITY CARD"
    draw_text(draw, spec.issuer, 3.5, 4.9, 1.55, "sans_bold", ppm, max_width_mm=58.0)
    draw_text(draw, title, 3.5, 7.4, 1.0, "sans", ppm, max_width_mm=58.0)
    draw_text(draw, spec.code, CARD_WIDTH_MM - 3.5, 7.5, 3.6, "sans_bold", ppm, align="right")
    text = np.asarray(canvas, dtype=np.float32) / np.float32(255.0)
    header_ink = ink_linear(spec.header_rgb)
    band_rows = (0, int(np.ceil(8.4 * ppm)) + 1)
    if spec.header == "band":
        ys = (np.arange(band_rows[1], dtype=np.float32) + 0.5) / np.float32(ppm)
        band = np.clip((ys - 2.0) * ppm + 0.5, 0.0, 1.0) * np.clip((8.3 - ys) * ppm + 0.5, 0.0, 1.0)
        xs = (np.arange(w, dtype=np.float32) + 0.5) / np.float32(ppm * CARD_WIDTH_MM)
        density = band[:, None] * (0.95 - 0.25 * xs[None, :])  # the band fades towards the right edge
        cov = density * (1.0 - text[: band_rows[1]])  # the title is knocked out of the band: paper shows
        apply_ink(img, cov.astype(np.float32), header_ink, (0, 0, w, band_rows[1]))
    else:
        apply_ink(img, text, header_ink, (0, 0, w, band_rows[1]))


def _microprint(spec: TemplateSpec, layout: Layout, img: FloatArray, ppm: float) -> None:
    phrase = spec.issuer.replace(" ", "") + spec.code
    ink = ink_linear(spec.header_rgb)
    cap_px = MICRO_CAP_MM * ppm
    h, w = img.shape[:2]
    for a, b, pos, direction in layout.microprint_rules:
        length = int((b - a) * ppm)
        strip = microprint_strip(phrase, length, cap_px)
        if direction == "v":
            strip = np.ascontiguousarray(np.rot90(strip, -1))
            x0, y0 = int(pos * ppm - strip.shape[1] / 2), int(a * ppm)
        else:
            x0, y0 = int(a * ppm), int(pos * ppm - strip.shape[0] / 2)
        y1, x1 = min(h, y0 + strip.shape[0]), min(w, x0 + strip.shape[1])
        img[y0:y1, x0:x1] *= 1.0 - strip[: y1 - y0, : x1 - x0, None] * (1.0 - ink)


def _labels(spec: TemplateSpec, layout: Layout, img: FloatArray, ppm: float) -> BoolArray:
    h, w = img.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    mask = np.zeros((h, w), bool)
    for slot in layout.slots:
        x0, y0, x1, y1 = draw_text(
            draw, label_text(slot.key, spec.language), slot.x_mm, slot.label_baseline_mm, LABEL_CAP_MM,
            spec.label_font, ppm, max_width_mm=slot.max_width_mm if spec.field_layout != "inline" else 17.5,
        )  # fmt: skip
        mask[max(0, y0) : y1, max(0, x0) : x1] = True
    if layout.signature_box is not None:
        sx, sy = layout.signature_box[0], layout.signature_box[1]
        x0, y0, x1, y1 = draw_text(
            draw, label_text("signature", spec.language), sx, sy, LABEL_CAP_MM, spec.label_font, ppm
        )
        mask[max(0, y0) : y1, max(0, x0) : x1] = True
    cov = np.asarray(canvas, dtype=np.float32) / np.float32(255.0)
    apply_ink(img, cov, ink_linear(spec.label_rgb), (0, 0, w, h))
    return mask


@functools.lru_cache(maxsize=48)
def static_layers(template_id: str, width_px: int) -> StaticLayers:
    """Build (once) the holder-independent print and the foil geometry of a template at a width."""
    spec = get_template(template_id)
    layout = card_layout(spec)
    h, w = card_size_px(width_px)
    ppm = width_px / CARD_WIDTH_MM
    paper = ink_linear(spec.paper)
    tint = rainbow_ink(h, w, [tuple(ink_linear(c)) for c in spec.tints], spec.tint_axis, ppm)
    img = (paper * (1.0 - 0.75 * (1.0 - tint))).astype(np.float32)
    variant = sorted(TEMPLATES).index(template_id)
    fine_curves, feature_curves = style_layers(spec.linework, variant, layout.feature_center_mm)
    fine = guilloche_coverage(fine_curves, h, w, ppm)
    feature = guilloche_coverage(feature_curves, h, w, ppm)
    if spec.has_mrz:  # ICAO: keep the MRZ clear zone quiet; line-work there is printed lighter
        mrz_top = int(MRZ_ZONE_TOP_MM * ppm)
        fine[mrz_top:] *= 0.45
        feature[mrz_top:] *= 0.2
    inks = rainbow_ink(h, w, [tuple(ink_linear(c)) for c in spec.inks], spec.ink_axis, ppm)
    apply_ink(img, fine * np.float32(spec.line_density), inks, (0, 0, w, h))
    apply_ink(img, feature * np.float32(0.6), ink_linear(spec.feature_ink), (0, 0, w, h))
    _microprint(spec, layout, img, ppm)
    _header(spec, img, ppm)
    label_mask = _labels(spec, layout, img, ppm)
    mask, angle, period = ovd_foil(spec.ovd, h, w, ppm)
    for arr in (img, label_mask, mask, angle, period):
        arr.flags.writeable = False
    return StaticLayers(img, label_mask, mask, angle, period, ppm, layout)
