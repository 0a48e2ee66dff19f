"""Physically grounded capture simulator: ID cards photographed as genuine cards, screen replays and prints."""

from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM

__all__ = ["CARD_HEIGHT_MM", "CARD_WIDTH_MM"]
