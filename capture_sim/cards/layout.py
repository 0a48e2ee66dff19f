"""Where things go on a template: portrait, ghost image, labelled fields, MRZ lines, signature and
microprint rules.

All positions are card millimetres (origin top-left, x right, y down); text positions are baselines.
The TD1 MRZ follows ICAO 9303: 30 characters on a 2.54 mm pitch (10 per inch), three lines in the bottom zone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from capture_sim.cards.templates import TemplateSpec
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in mm

MARGIN_MM = 3.5
PORTRAIT_MM = (22.0, 28.0)
GHOST_MM = (10.0, 13.0)
MRZ_PITCH_MM = 2.54
MRZ_CAP_MM = 2.3
MRZ_BASELINES_MM = (42.4, 46.6, 50.8)
MRZ_ZONE_TOP_MM = 39.2
LABEL_CAP_MM = 0.85
VALUE_CAP_MM = 1.75
MICRO_CAP_MM = 0.25

_FIELD_KEYS = ("surname", "given_names", "date_of_birth", "sex", "nationality", "document_number",
               "date_of_expiry", "date_of_issue", "signature")  # fmt: skip
_ENGLISH = ("Surname|Given names|Date of birth|Sex|Nationality|Document No.|Date of expiry|Date of issue|"
            "Signature")  # fmt: skip
_LOCAL = {
    "fr": "Nom|Prénoms|Date de naissance|Sexe|Nationalité|N° du document|Date d'expiration|"
          "Date de délivrance|Signature",
    "de": "Name|Vornamen|Geburtsdatum|Geschlecht|Staatsangehörigkeit|Ausweisnummer|Gültig bis|Ausgestellt am|"
          "Unterschrift",
    "es": "Apellidos|Nombre|Fecha de nacimiento|Sexo|Nacionalidad|Nº documento|Fecha de caducidad|"
          "Fecha de expedición|Firma",
    "it": "Cognome|Nome|Data di nascita|Sesso|Cittadinanza|N. documento|Scadenza|Emissione|Firma",
    "pt": "Apelido|Nomes|Data de nascimento|Sexo|Nacionalidade|N.º documento|Data de validade|"
          "Data de emissão|Assinatura",
    "nl": "Achternaam|Voornamen|Geboortedatum|Geslacht|Nationaliteit|Documentnummer|Vervaldatum|"
          "Datum van afgifte|Handtekening",
    "pl": "Nazwisko|Imiona|Data urodzenia|Płeć|Obywatelstwo|Numer dokumentu|Data ważności|Data wydania|"
          "Podpis",
    "sv": "Efternamn|Förnamn|Födelsedatum|Kön|Medborgarskap|Dokumentnummer|Giltig till|Utfärdat|"
          "Namnteckning",
}  # fmt: skip
TITLES = {"fr": "CARTE D'IDENTITÉ", "de": "PERSONALAUSWEIS", "es": "DOCUMENTO DE IDENTIDAD",
          "it": "CARTA D'IDENTITÀ", "pt": "CARTÃO DE IDENTIDADE", "nl": "IDENTITEITSKAART",
          "pl": "DOWÓD OSOBISTY", "sv": "IDENTITETSKORT"}  # fmt: skip


def label_text(key: str, language: str) -> str:
    """Bilingual field label, 'local / English'."""
    i = _FIELD_KEYS.index(key)
    return f"{_LOCAL[language].split('|')[i]} / {_ENGLISH.split('|')[i]}"


@dataclass(frozen=True)
class FieldSlot:
    """One labelled field: label and value share x; value text is shrunk to fit max_width_mm."""

    key: str
    x_mm: float
    label_baseline_mm: float
    value_baseline_mm: float
    max_width_mm: float


@dataclass(frozen=True)
class Layout:
    portrait_box: Box
    ghost_box: Box
    fields_box: Box
    slots: tuple[FieldSlot, ...]
    signature_box: Box | None  # where the signature stroke goes (its label sits above)
    mrz_x_mm: float
    microprint_rules: tuple[tuple[float, float, float, str], ...]  # (x0 or y0, x1 or y1, position, 'h' / 'v')
    feature_center_mm: tuple[float, float]


def _grid(keys: list[list[str]], box: Box, pitch: float, columns: list[list[float]]) -> list[FieldSlot]:
    x0, y0, x1, _ = box
    slots = []
    for row, (row_keys, fractions) in enumerate(zip(keys, columns, strict=True)):
        top = y0 + row * pitch
        for i, key in enumerate(row_keys):
            left = x0 + fractions[i] * (x1 - x0)
            right = x0 + (fractions[i + 1] if i + 1 < len(fractions) else 1.0) * (x1 - x0)
            slots.append(FieldSlot(key, left, top + 1.2, top + 3.75, right - left - 1.0))
    return slots


@functools.lru_cache(maxsize=64)
def card_layout(spec: TemplateSpec) -> Layout:
    """The layout of a template (a pure function of the spec)."""
    w, h = CARD_WIDTH_MM, CARD_HEIGHT_MM
    top = 9.6 if spec.has_mrz else 11.5
    if spec.portrait_side == "left":
        portrait = (MARGIN_MM, top, MARGIN_MM + PORTRAIT_MM[0], top + PORTRAIT_MM[1])
        fields = (portrait[2] + 3.0, top, w - MARGIN_MM, MRZ_ZONE_TOP_MM - 1.0 if spec.has_mrz else h - 4.0)
    else:
        portrait = (w - MARGIN_MM - PORTRAIT_MM[0], top, w - MARGIN_MM, top + PORTRAIT_MM[1])
        fields = (MARGIN_MM, top, portrait[0] - 3.0, MRZ_ZONE_TOP_MM - 1.0 if spec.has_mrz else h - 4.0)
    fx0, fy0, fx1, fy1 = fields
    ghost = (fx1 - GHOST_MM[0] - 0.5, fy1 - GHOST_MM[1] - 0.3, fx1 - 0.5, fy1 - 0.3)
    slots: list[FieldSlot]
    if spec.field_layout == "stacked":
        keys = [
            ["surname"],
            ["given_names"],
            ["sex", "nationality", "date_of_birth"],
            ["document_number", "date_of_expiry"],
        ]
        cols = [[0.0], [0.0], [0.0, 0.2, 0.44], [0.0, 0.44]]
        if not spec.has_mrz:
            keys.append(["date_of_issue"])
            cols.append([0.0])
        slots = _grid(keys, (fx0, fy0, fx1, fy1), 5.3 if spec.has_mrz else 5.9, cols)
    elif spec.field_layout == "grid":
        keys = [["surname", "given_names"], ["date_of_birth", "sex"], ["nationality", "document_number"],
                ["date_of_issue", "date_of_expiry"]]  # fmt: skip
        cols = [[0.0, 0.5]] * 4
        slots = _grid(keys, (fx0, fy0, fx1, fy1), 5.3 if spec.has_mrz else 6.0, cols)
    else:  # inline: label column, value to its right
        keys_inline = [
            "surname",
            "given_names",
            "date_of_birth",
            "sex",
            "nationality",
            "document_number",
            "date_of_expiry",
        ]
        pitch = 3.95 if spec.has_mrz else 4.6
        label_w = 18.0
        slots = [
            FieldSlot(key, fx0, fy0 + 2.6 + i * pitch, fy0 + 2.6 + i * pitch, fx1 - fx0 - label_w - 1.0)
            for i, key in enumerate(keys_inline)
        ]
    last_value = max(s.value_baseline_mm for s in slots)
    signature: Box | None = None
    if not spec.has_mrz:
        signature = (fx0, last_value + 3.6, fx0 + 26.0, min(h - 3.0, last_value + 10.0))
    rules = [
        (1.2, w - 1.2, 1.2, "h"),
        (1.2, w - 1.2, h - 1.2, "h"),
        (1.2, h - 1.2, 1.2, "v"),
        (1.2, h - 1.2, w - 1.2, "v"),
    ]
    rules.append((MARGIN_MM, w - MARGIN_MM, 8.9, "h"))
    if spec.has_mrz:
        rules.append((MARGIN_MM, w - MARGIN_MM, MRZ_ZONE_TOP_MM - 0.3, "h"))
    feature = ((fx0 + fx1) / 2.0, (fy0 + fy1) / 2.0)
    return Layout(
        portrait_box=portrait,
        ghost_box=ghost,
        fields_box=fields,
        slots=tuple(slots),
        signature_box=signature,
        mrz_x_mm=(w - 30 * MRZ_PITCH_MM) / 2.0,
        microprint_rules=tuple(rules),
        feature_center_mm=feature,
    )


def inline_value_x(slot: FieldSlot) -> float:
    """x of the value in an inline layout (labels take an 18 mm column)."""
    return slot.x_mm + 18.0
