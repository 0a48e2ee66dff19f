"""Card references shipped with the pipeline: per template, a grey thumbnail (orientation and template recognition)
the masks of the fields that matter (portrait, text, MRZ) and of its hologram (OVD) in card coordinates.

Decision: the pipeline knows the document templates it accepts, as document-verification SDKs do. The references
are built once from the simulator's twelve card designs (`build_references`, averaged over several holders so
that only the template's fixed layout remains) and shipped as `references.npz`; at run time nothing depends on the
simulator. A card that matches no template still gets a quad; its fields fall back to the union of all templates'
field masks (`GENERIC`), so glare anywhere a field might be counts.

Grids: thumbnails are THUMB_SIZE (86 x 54, 1 px per mm), field masks MASK_SIZE (172 x 108, 2 px per mm), OVD masks
OVD_SIZE (344 x 216, 4 px per mm: the hologram check's grid, pipeline/hologram.py); pixel (i, j) covers card
millimetres [i, i+1) / scale.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError
from edge_models.pipeline.quads import MIN_INSIDE, Quad, clockwise, long_side_first, rectify

REFERENCES_PATH = Path(__file__).parent / "references.npz"
THUMB_SIZE = (86, 54)
MASK_SIZE = (172, 108)
OVD_SIZE = (344, 216)
FIELDS = ("portrait", "text", "mrz")
GENERIC = "generic"
_HOLDERS = (11, 22, 33, 44, 55, 66)


@dataclass(frozen=True)
class CardReferences:
    template_ids: tuple[str, ...]
    thumbs: NDArray[np.float32]  # (T, 54, 86), zero mean, unit norm per template (see normalise_thumb)
    masks: dict[str, NDArray[np.bool_]]  # template id or GENERIC -> (3, 108, 172) in FIELDS order
    ovd_masks: dict[str, NDArray[np.bool_]]  # template id -> (216, 344): where the template's foil is

    def field_masks(self, template_id: str | None) -> NDArray[np.bool_]:
        """Field masks of a template, or the generic union when the template is unknown."""
        return self.masks.get(template_id or GENERIC, self.masks[GENERIC])

    def ovd_mask(self, template_id: str | None) -> NDArray[np.bool_] | None:
        """The template's OVD region, or None when the template is unknown (no generic hologram position)."""
        return None if template_id is None else self.ovd_masks.get(template_id)


def normalise_thumb(grey: NDArray[np.floating]) -> NDArray[np.float32]:
    """Remove smooth shading (a wide blur subtracted), then zero mean and unit norm: the correlation template."""
    g = np.asarray(grey, dtype=np.float32)
    high = g - cv2.GaussianBlur(g, (0, 0), 6.0)
    high -= high.mean()
    norm = float(np.linalg.norm(high))
    return np.asarray(high / norm if norm > 1e-6 else high, dtype=np.float32)


def masked_correlations(
    thumbs: NDArray[np.float32], grey: NDArray[np.floating], valid: NDArray[np.bool_]
) -> NDArray[np.float32]:
    """Correlation of a grey thumbnail with every reference over its `valid` pixels only (a card running off the
    frame): the same smooth-shading removal as normalise_thumb with the blur renormalised by the valid share, then
    both sides re-centred and normalised over the valid pixels. (T,) values in -1..1."""
    m = valid.astype(np.float32)
    g = np.asarray(grey, np.float32) * m
    local = cv2.GaussianBlur(g, (0, 0), 6.0) / np.maximum(cv2.GaussianBlur(m, (0, 0), 6.0), 1e-3)
    count = max(float(m.sum()), 1.0)
    high = (g - local) * m
    high -= m * float(high.sum()) / count
    refs = thumbs * m
    refs -= m * (refs.sum(axis=(1, 2), keepdims=True) / count)
    norms = np.linalg.norm(refs, axis=(1, 2)) * max(float(np.linalg.norm(high)), 1e-6)
    return np.asarray(np.tensordot(refs, high, axes=([1, 2], [0, 1])) / np.maximum(norms, 1e-6), np.float32)


def orient(
    grey_small: NDArray[np.uint8], quad: Quad, scale: float, refs: CardReferences
) -> tuple[Quad, str | None, float]:
    """Roll the quad so it starts at the card's upright top-left, by template correlation at 0 / 180 degrees."""
    q = long_side_first(clockwise(quad))
    big_size = (THUMB_SIZE[0] * 2, THUMB_SIZE[1] * 2)
    big = rectify(grey_small, q, big_size, scale)
    grey = np.asarray(cv2.resize(big.astype(np.float32), THUMB_SIZE, interpolation=cv2.INTER_AREA), np.float32)
    h, w = grey_small.shape
    valid = None
    if not np.all((q * scale >= 0) & (q * scale <= [w, h])):
        inside = rectify(np.full_like(grey_small, 255), q, big_size, scale).astype(np.float32)
        valid = cv2.resize(inside, THUMB_SIZE, interpolation=cv2.INTER_AREA) > 254.0
    if valid is not None and valid.mean() >= MIN_INSIDE:
        upright = masked_correlations(refs.thumbs, grey, valid)
        flipped = masked_correlations(refs.thumbs, grey[::-1, ::-1], valid[::-1, ::-1])
    else:  # the card is inside the frame, or so little of it that the part inside cannot name a template
        thumb = normalise_thumb(grey)
        upright = np.tensordot(refs.thumbs, thumb, axes=([1, 2], [0, 1]))
        flipped = np.tensordot(refs.thumbs, thumb[::-1, ::-1], axes=([1, 2], [0, 1]))
    k = int(np.argmax(np.maximum(upright, flipped)))
    if flipped[k] > upright[k]:
        q = np.asarray(np.roll(q, -2, axis=0))
    return q, refs.template_ids[k], float(max(upright[k], flipped[k]))


def build_references(out: Path = REFERENCES_PATH) -> Path:
    """Render every simulator template for a few holders and write the thumbnails and field masks."""
    from capture_sim.cards import list_templates, render_card

    ids = list_templates()
    thumbs, masks, ovd = [], {}, {}
    for tid in ids:
        grey_sum = np.zeros(THUMB_SIZE[::-1], np.float64)
        union = np.zeros((len(FIELDS), MASK_SIZE[1], MASK_SIZE[0]), bool)
        for holder in _HOLDERS:
            art = render_card(tid, holder, 1032)
            grey = cv2.cvtColor(art.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
            grey_sum += cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA)
            for k, name in enumerate(FIELDS):
                m = art.field_masks[name].astype(np.float32)
                union[k] |= cv2.resize(m, MASK_SIZE, interpolation=cv2.INTER_AREA) > 0.25
        thumbs.append(normalise_thumb(grey_sum / len(_HOLDERS)))
        masks[tid] = union
        ovd[tid] = cv2.resize(art.ovd_mask.astype(np.float32), OVD_SIZE, interpolation=cv2.INTER_AREA) > 0.5
    generic = np.any(np.stack(list(masks.values())), axis=0)
    arrays = {"template_ids": np.array(ids), "thumbs": np.stack(thumbs), f"mask_{GENERIC}": generic}
    arrays.update({f"mask_{tid}": m for tid, m in masks.items()})
    arrays.update({f"ovd_{tid}": m for tid, m in ovd.items()})
    np.savez_compressed(out, **arrays)
    return out


@functools.lru_cache(maxsize=4)
def load_references(path: Path = REFERENCES_PATH) -> CardReferences:
    """The shipped references (cached)."""
    try:
        with np.load(path) as data:
            ids = tuple(str(t) for t in data["template_ids"])
            masks = {key[5:]: np.asarray(data[key], bool) for key in data.files if key.startswith("mask_")}
            ovd = {key[4:]: np.asarray(data[key], bool) for key in data.files if key.startswith("ovd_")}
            thumbs = np.asarray(data["thumbs"], np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read the card references {path}: {exc}") from None
    return CardReferences(ids, thumbs, masks, ovd)
