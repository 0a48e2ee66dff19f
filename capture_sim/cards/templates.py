"""The card designs: twelve fictional issuers' ID-1 identity cards.

Templates differ in layout (portrait left / right, MRZ on the front or not, field arrangement), colour
scheme, the background line-work style and the OVD foil's shape, placement and grating design. Colours are
sRGB 0-255 as the ink prints on white card; lengths are card millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

from capture_sim.cards.linework import LINEWORK_STYLES
from capture_sim.cards.ovd import OvdSpec
from capture_sim.validation import check_choice, check_range

RGB255 = tuple[int, int, int]
LANGUAGES = ("fr", "de", "es", "it", "pt", "nl", "pl", "sv")
FIELD_LAYOUTS = ("stacked", "grid", "inline")


@dataclass(frozen=True)
class TemplateSpec:
    """One card design (see module docstring for units)."""

    template_id: str
    issuer: str
    code: str  # 3-letter issuing state code used in the MRZ and as nationality
    language: str  # second language of the bilingual labels
    portrait_side: str  # "left" or "right"
    has_mrz: bool
    field_layout: str
    date_style: str
    header: str  # "band" (knocked-out title on a colour band) or "plain"
    portrait_style: str  # "colour" (dye transfer), "laser" (greyscale engraving), "fade" (colour, feathered edges)
    linework: str
    paper: RGB255
    tints: tuple[RGB255, ...]  # underprint rainbow stops
    tint_axis: str
    inks: tuple[RGB255, ...]  # line-work rainbow stops
    ink_axis: str
    feature_ink: RGB255
    header_rgb: RGB255
    label_rgb: RGB255
    value_rgb: RGB255
    label_font: str
    value_font: str
    ovd: tuple[OvdSpec, ...]
    line_density: float = 0.55  # ink density of the fine line-work in [0, 1]

    def __post_init__(self) -> None:
        check_choice("template.language", self.language, LANGUAGES)
        check_choice("template.portrait_side", self.portrait_side, ("left", "right"))
        check_choice("template.field_layout", self.field_layout, FIELD_LAYOUTS)
        check_choice("template.date_style", self.date_style, ("dots", "spaces", "month", "iso"))
        check_choice("template.header", self.header, ("band", "plain"))
        check_choice("template.portrait_style", self.portrait_style, ("colour", "laser", "fade"))
        check_choice("template.linework", self.linework, LINEWORK_STYLES)
        check_choice("template.tint_axis", self.tint_axis, ("x", "y", "diag", "radial"))
        check_choice("template.ink_axis", self.ink_axis, ("x", "y", "diag", "radial"))
        check_range("template.line_density", self.line_density, 0.0, 1.0)
        if len(self.code) != 3 or not self.code.isalpha() or not self.code.isupper():
            raise ValueError(f"template.code={self.code!r} must be three capital letters")
        if not self.ovd:
            raise ValueError("a template needs at least one OVD element")


# Portrait boxes (see layout.py): left x 3.5-25.5, right x 60.1-82.1;
# y 9.6-37.6 with an MRZ, 11.5-39.5 without.
_TEMPLATES = (
    TemplateSpec(
        "tpl00", "REPUBLIC OF UTOPIA", "UTO", "fr", "left",
        True, "stacked", "spaces", "band", "colour", "rosette",
        (247, 248, 243), ((226, 237, 247), (241, 231, 244), (229, 244, 233)), "x",
        ((92, 146, 196), (126, 186, 156), (176, 120, 170)), "x", (178, 96, 136),
        (24, 62, 122), (58, 72, 112), (16, 20, 36), "sans", "sans_bold",
        (OvdSpec("seal", (25.0, 32.5), (12.0, 12.0), "sectors", 10.0, (1000.0, 2200.0)),),
    ),
    TemplateSpec(
        "tpl01", "KINGDOM OF SYLDAVIA", "SYL", "de", "right",
        True, "inline", "dots", "plain", "laser", "waves",
        (250, 246, 239), ((249, 229, 219), (237, 237, 214)), "diag",
        ((206, 126, 112), (172, 152, 84)), "y", (122, 66, 124),
        (132, 40, 52), (104, 64, 60), (30, 18, 16), "serif", "serif_bold",
        (OvdSpec("stripe_v", (4.2, 19.5), (5.0, 39.0), "bars", 30.0, (900.0, 1800.0)),),
    ),
    TemplateSpec(
        "tpl02", "GRAND DUCHY OF GENOVIA", "GNV", "it", "left",
        True, "grid", "month", "band", "fade", "tiles",
        (244, 248, 241), ((224, 243, 226), (246, 241, 214)), "y",
        ((76, 154, 104), (192, 162, 64)), "x", (44, 104, 142),
        (22, 92, 62), (40, 84, 60), (14, 28, 20), "sans", "sans",
        (OvdSpec("shield", (76.0, 29.0), (11.0, 13.0), "emblem", 0.0, (1200.0, 2800.0)),),
    ),
    TemplateSpec(
        "tpl03", "REPUBLIC OF FREEDONIA", "FRD", "es", "left",
        False, "stacked", "dots", "plain", "colour", "rings",
        (246, 244, 250), ((234, 226, 248), (222, 242, 244)), "radial",
        ((128, 96, 186), (70, 160, 170)), "diag", (180, 80, 110),
        (82, 44, 140), (86, 70, 120), (24, 16, 40), "sans", "mono_bold",
        (
            OvdSpec("stripe_h", (42.8, 50.4), (79.0, 2.8), "waves", 45.0, (1400.0, 3200.0)),
            OvdSpec("seal", (24.5, 39.0), (9.0, 9.0), "rings", 0.0, (1000.0, 1600.0)),
        ),
    ),
    TemplateSpec(
        "tpl04", "STATE OF ARCADIA", "ARC", "pt", "right", True, "stacked", "iso", "band", "laser", "radial",
        (251, 247, 238), ((252, 234, 212), (222, 234, 248)), "x",
        ((222, 138, 70), (70, 120, 196)), "radial", (200, 90, 60),
        (196, 96, 30), (110, 80, 60), (20, 20, 28), "sans", "sans_bold",
        (OvdSpec("oval", (61.0, 33.0), (14.0, 9.5), "rings", 0.0, (1100.0, 2500.0)),),
    ),
    TemplateSpec(
        "tpl05", "KINGDOM OF RURITANIA", "RUR", "nl", "left",
        True, "inline", "spaces", "band", "colour", "mesh",
        (244, 246, 248), ((228, 232, 244), (246, 228, 236)), "diag",
        ((110, 130, 170), (200, 130, 160)), "diag", (96, 110, 150),
        (52, 66, 104), (70, 78, 100), (18, 20, 30), "serif", "sans_bold",
        (OvdSpec("star", (72.5, 16.5), (12.0, 12.0), "emblem", 20.0, (900.0, 2000.0)),),
        0.4,
    ),
    TemplateSpec(
        "tpl06", "FEDERAL REPUBLIC OF BORDURIA", "BDR", "pl", "right", False, "grid", "dots", "band", "fade",
        "rosette",
        (248, 245, 242), ((246, 226, 226), (230, 244, 228)), "y",
        ((200, 70, 80), (70, 150, 90)), "x", (150, 60, 60),
        (170, 30, 44), (110, 50, 56), (30, 14, 16), "sans", "serif_bold",
        (
            OvdSpec("window", (71.1, 46.0), (16.0, 8.0), "waves", 60.0, (1200.0, 3600.0)),
            OvdSpec("seal", (60.5, 39.0), (10.0, 10.0), "sectors", -30.0, (1000.0, 2000.0)),
        ),
    ),
    TemplateSpec(
        "tpl07", "PRINCIPALITY OF ELBONIA", "ELB", "sv", "left",
        True, "grid", "iso", "plain", "laser", "waves",
        (242, 248, 250), ((218, 240, 248), (246, 226, 244)), "x",
        ((50, 160, 190), (190, 80, 170)), "x", (40, 120, 150),
        (16, 110, 140), (40, 90, 110), (8, 26, 34), "sans", "mono_bold",
        (OvdSpec("stripe_v", (80.8, 20.5), (6.0, 37.0), "waves", 75.0, (1500.0, 3800.0)),),
        0.45,
    ),
    TemplateSpec(
        "tpl08", "REPUBLIC OF ZUBROWKA", "ZUB", "de", "left",
        True, "stacked", "month", "band", "colour", "rings",
        (247, 246, 236), ((238, 240, 214), (236, 224, 244)), "y",
        ((130, 140, 60), (130, 80, 170)), "y", (110, 70, 150),
        (92, 100, 40), (80, 84, 50), (22, 24, 14), "serif", "serif_bold",
        (
            OvdSpec("seal", (3.8, 9.8), (9.0, 9.0), "sectors", 15.0, (900.0, 1700.0)),
            OvdSpec("stripe_h", (54.5, 9.2), (56.0, 2.0), "bars", 0.0, (1600.0, 3000.0)),
        ),
    ),
    TemplateSpec(
        "tpl09", "UNITED PROVINCES OF OSTERLICH", "OST", "fr", "right",
        True, "grid", "spaces", "plain", "colour",
        "tiles",
        (244, 244, 248), ((224, 228, 246), (248, 240, 214)), "diag",
        ((40, 60, 130), (190, 150, 50)), "radial", (190, 150, 50),
        (24, 36, 96), (60, 64, 100), (12, 14, 34), "serif", "sans_bold",
        (OvdSpec("seal", (60.1, 32.0), (12.0, 12.0), "rings", 30.0, (1200.0, 2600.0)),),
        0.5,
    ),
    TemplateSpec(
        "tpl10", "COMMONWEALTH OF LATVERIA", "LTV", "es", "left", False, "inline", "month", "band", "laser",
        "radial",
        (245, 249, 247), ((214, 240, 236), (252, 232, 214)), "x",
        ((40, 150, 140), (230, 130, 60)), "x", (30, 110, 110),
        (14, 106, 100), (50, 90, 86), (10, 30, 28), "sans", "sans_bold",
        (
            OvdSpec("shield", (77.0, 43.0), (10.0, 12.0), "sectors", 0.0, (900.0, 2400.0)),
            OvdSpec("stripe_v", (27.4, 27.0), (2.6, 54.0), "bars", 90.0, (1300.0, 2100.0)),
        ),
    ),
    TemplateSpec(
        "tpl11", "REPUBLIC OF KRAKOZHIA", "KRK", "it", "right",
        True, "stacked", "dots", "plain", "fade", "mesh",
        (248, 245, 240), ((244, 232, 216), (220, 236, 248)), "radial",
        ((140, 100, 70), (90, 160, 210)), "y", (140, 100, 70),
        (110, 66, 36), (100, 80, 64), (28, 20, 14), "serif", "serif_bold",
        (OvdSpec("oval", (12.0, 23.0), (13.0, 18.0), "sectors", 45.0, (1000.0, 2300.0)),),
        0.4,
    ),
)  # fmt: skip

TEMPLATES: dict[str, TemplateSpec] = {t.template_id: t for t in _TEMPLATES}


def list_templates() -> list[str]:
    """The ids of all card templates, in a fixed order."""
    return list(TEMPLATES)


def get_template(template_id: str) -> TemplateSpec:
    """The spec of one template; raises ParameterError for an unknown id."""
    check_choice("template_id", template_id, TEMPLATES)
    return TEMPLATES[template_id]
