"""Procedural ID-1 card artwork: security line-work, microprint, text fields, TD1 MRZ, portraits and the OVD
foil geometry.

`render_card(template_id, identity_seed, width_px)` returns a `CardArtwork` (printed sRGB artwork, foil mask,
grating angle and period maps, field masks, printed values); `list_templates()` names the twelve designs.
"""

from capture_sim.cards.mrz import mrz_check_digit, td1_check_digits_valid, td1_mrz
from capture_sim.cards.render import CardArtwork, render_card
from capture_sim.cards.templates import list_templates

__all__ = [
    "CardArtwork",
    "list_templates",
    "mrz_check_digit",
    "render_card",
    "td1_check_digits_valid",
    "td1_mrz",
]
