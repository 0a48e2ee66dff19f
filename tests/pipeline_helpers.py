"""Synthetic frames with a known card quad for the pipeline tests: a template's artwork warped onto a plain desk."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from edge_models.pipeline.quads import CARD_H_MM, CARD_W_MM, off_frame_sides

FRAME_W, FRAME_H = 1280, 720
FRONTAL = np.array([[340.0, 160.0], [940.0, 160.0], [940.0, 538.4], [340.0, 538.4]])  # 600 px wide, ID-1 aspect


@functools.lru_cache(maxsize=2)
def artwork(template: str = "tpl00") -> np.ndarray:
    from capture_sim.cards import render_card

    return np.asarray(render_card(template, 7, 856).rgb)


def card_to_frame_points(quad: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Frame pixels of card points (mm) for a quad."""
    src = np.array([[0, 0], [CARD_W_MM, 0], [CARD_W_MM, CARD_H_MM], [0, CARD_H_MM]], np.float32)
    m = cv2.getPerspectiveTransform(src, np.asarray(quad, np.float32))
    pts = cv2.perspectiveTransform(np.asarray(points_mm, np.float32)[None], m)[0]
    return np.asarray(pts, np.float64)


def synthetic_frame(quad: np.ndarray = FRONTAL, template: str = "tpl00", desk: int = 60) -> np.ndarray:
    """RGB frame: a dark textured desk and the card artwork at `quad` (contract coordinates)."""
    art = artwork(template)
    h, w = art.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5
    m = cv2.getPerspectiveTransform(src, np.asarray(quad, np.float32) - 0.5)
    rng = np.random.default_rng(0)
    frame = np.clip(desk + rng.normal(0, 4, (FRAME_H, FRAME_W, 3)), 0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(art, m, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA)
    cover = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (FRAME_W, FRAME_H))
    frame[cover > 127] = warped[cover > 127]
    return frame


def add_glare(frame: np.ndarray, quad: np.ndarray, centre_mm: tuple[float, float], radius_mm: float) -> np.ndarray:
    """A saturated white disc on the card at a card point."""
    out = frame.copy()
    c = card_to_frame_points(quad, np.array([centre_mm]))[0]
    px_per_mm = np.linalg.norm(quad[1] - quad[0]) / CARD_W_MM
    cv2.circle(out, (round(c[0]), round(c[1])), round(radius_mm * px_per_mm), (255, 255, 255), -1)
    return out


def without_slide(quad: np.ndarray, w: int, h: int) -> np.ndarray | None:
    """cardfinder._slid_off_frame without the slide (negative controls): a quad with one clipped side is dropped,
    any other passes as it is."""
    return None if len(off_frame_sides(quad, w, h)) == 1 else quad
