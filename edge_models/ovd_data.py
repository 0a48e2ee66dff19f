"""Training data for the `ovd` model: tilt sequences as aligned card crops, with per-frame glare targets.

Each frame is rectified to the card with the preprocessing contract's global-view warp (`OVD_SPEC`: 128 x 80, no
margin), so the OVD sits at the same place in every frame; the glare mask is warped the same way and pooled to the
model's glare-map grid. Labels: 1 for a genuine card, 0 for prints and screens that show a static image. Screen
replays of a *video* of the tilted card are left out: their hologram does change, and catching them is the
recapture model's job.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset
from tqdm import tqdm

from cardlive.errors import InputError
from edge_models.augment import JITTER_LIMIT, jittered_quad
from edge_models.datasets import SequenceRecord, read_index_folder, split_folders
from edge_models.images import load_rgb
from edge_models.models.ovd import SequenceLayout
from edge_models.preprocess import InputSpec, global_view

OVD_SPEC = InputSpec(global_size=(128, 80), global_margin_mm=0.0)
GLARE_CELL = 8  # the ovd model's glare map is 1/8 of the crop in each direction
TILT_CHECK_TORCH = True  # the tilt check runs with the phone's torch on (docs/integration.md); the ovd model is
# trained, calibrated and evaluated on such sequences (`cardlive simulate --torch`)


@dataclass(frozen=True)
class SequenceSample:
    frames: NDArray[np.uint8]  # (T, H, W, 3)
    glare: NDArray[np.float32]  # (T, H / 8, W / 8) glare coverage per cell
    label: float  # 1 = a real OVD, 0 = a frozen one
    species: str
    group: str
    ovd: NDArray[np.bool_] | None = None  # (H, W) the OVD region in any frame, rectified; None without masks
    variants: tuple[NDArray[np.uint8], ...] = ()  # the same sequence rectified with card-finder-like quad errors


def is_video_replay(label: str, params: dict[str, Any]) -> bool:
    """A screen replaying a video of the card being tilted (simulator parameters): the ovd model's data and the
    hologram check leave these out; the recapture model and the pipeline's other checks handle them."""
    return label == "screen" and params.get("presentation", {}).get("content_source") == "video"


def frame_indices(available: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `available` frames (repeating frames when there are fewer)."""
    return [min(available - 1, round(i * (available - 1) / max(wanted - 1, 1))) for i in range(wanted)]


def align_sequence(
    frames: list[NDArray[np.uint8]],
    quads: list[NDArray[np.float64]],
    glare_masks: list[NDArray[np.uint8]] | None,
    spec: InputSpec = OVD_SPEC,
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Rectified crops (T, h, w, 3) and pooled glare coverage (T, h/8, w/8)."""
    crops = np.stack([global_view(f, q, spec) for f, q in zip(frames, quads, strict=True)])
    w, h = spec.global_size
    if glare_masks is None:
        return crops, np.zeros((len(frames), h // GLARE_CELL, w // GLARE_CELL), np.float32)
    return crops, mask_coverage(glare_masks, quads, spec)


def mask_coverage(
    masks: list[NDArray[np.uint8]], quads: list[NDArray[np.float64]], spec: InputSpec = OVD_SPEC, cell: int = GLARE_CELL
) -> NDArray[np.float32]:
    """Per-frame masks (0/255, frame pixels) rectified like the crops, their coverage pooled to cells of `cell`
    pixels (T, h/cell, w/cell)."""
    w, h = spec.global_size
    coverage = np.zeros((len(masks), h // cell, w // cell), np.float32)
    for t, (mask, quad) in enumerate(zip(masks, quads, strict=True)):
        rgb = np.repeat(mask[..., None], 3, axis=2)
        warped = global_view(rgb, quad, spec)[..., 0].astype(np.float32) / 255.0
        coverage[t] = cv2.resize(warped, (w // cell, h // cell), interpolation=cv2.INTER_AREA)
    return coverage


def _read_mask(path: Path) -> NDArray[np.uint8]:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise InputError(f"cannot read the glare mask {path}")
    return np.asarray(mask, dtype=np.uint8)


class FolderSequences(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """Every sequence with quads in a folder's index.jsonl (e.g. `cardlive simulate --frames 8`), in memory.

    `folder` may name several folders separated by commas (e.g. two simulator runs with different seeds).
    `variants` > 1 also keeps variants - 1 rectifications per sequence around independently jittered per-frame quads
    (`edge_models.augment.jittered_quad`, seeded by (seed, sequence index)).
    """

    def __init__(
        self,
        folder: Path,
        layout: SequenceLayout | None = None,
        progress: bool = True,
        variants: int = 1,
        seed: int = 0,
    ) -> None:
        if variants < 1:
            raise InputError(f"variants must be at least 1, got {variants}")
        lay = layout or SequenceLayout()
        records = [
            r
            for f in split_folders(folder)
            for r in read_index_folder(f)
            if isinstance(r, SequenceRecord) and r.quads is not None and all(q is not None for q in r.quads)
        ]
        usable = [r for r in records if not is_video_replay(r.label, r.extra.get("params", {}))]
        if not usable:
            raise InputError(f"{folder} holds no tilt sequences with quads (simulate them with --frames 8)")
        self.samples = [
            self._load(r, lay, variants, np.random.default_rng([seed, i]))
            for i, r in enumerate(tqdm(usable, desc="preprocess", unit="sequence", disable=not progress))
        ]

    @staticmethod
    def _load(record: SequenceRecord, lay: SequenceLayout, variants: int, rng: np.random.Generator) -> SequenceSample:
        pick = frame_indices(len(record.paths), lay.frames)
        assert record.quads is not None
        quads = [np.asarray(record.quads[i], dtype=np.float64) for i in pick]
        frames = [load_rgb(record.paths[i]) for i in pick]
        glare_paths = record.extra.get("glare_masks")
        masks = [_read_mask(Path(glare_paths[i])) for i in pick] if glare_paths else None
        crops, glare = align_sequence(frames, quads, masks)
        ovd_paths = [record.ovd_masks[i] for i in pick] if record.ovd_masks else []
        ovd = None
        if ovd_paths and all(p is not None for p in ovd_paths):
            coverage = mask_coverage([_read_mask(Path(str(p))) for p in ovd_paths], quads, cell=1)
            ovd = coverage.max(axis=0) > 0.5
        label = 1.0 if record.label == "genuine" else 0.0
        jittered = tuple(
            align_sequence(frames, [jittered_quad(q, rng) for q in quads], None)[0] for _ in range(variants - 1)
        )
        return SequenceSample(crops, glare, label, record.species, record.group, ovd, jittered)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s = self.samples[index]
        return torch.from_numpy(s.frames), torch.from_numpy(s.glare), torch.tensor([s.label], dtype=torch.float32)

    @property
    def species(self) -> list[str]:
        return [s.species for s in self.samples]


FROZEN_OVD_SPECIES = "frozen_ovd"
FREEZE_MIN_RESPONSE = 3.0  # genuine sequences whose OVD moves less than this get no frozen copy


def noise_level(frame: NDArray[np.float32], where: NDArray[np.bool_]) -> float:
    """Robust per-pixel noise sigma of one frame over `where`: the median absolute deviation of its finest detail
    (text edges are a minority of pixels and do not move the median)."""
    detail = (frame - cv2.GaussianBlur(frame, (0, 0), 1.0))[where]
    return float(1.4826 * np.median(np.abs(detail - np.median(detail))))


def freeze_ovd(frames: NDArray[np.uint8], ovd: NDArray[np.bool_], source: int, seed: int = 0) -> NDArray[np.uint8]:
    """The sequence with its OVD region showing frame `source`'s state in every frame, as printed ink would.

    Each frame's OVD region is the source frame's, scaled by how the rest of the card's brightness changed from the
    source to that frame (a print is lit like the card it sits on), plus fresh noise at the level measured on the
    rest of that frame (seeded by `seed` and `source`). Copying the source's pixels outright would leave a patch
    without temporal noise, a tell no real print or replay has; keeping each frame's own fine detail instead would
    keep a real foil's fine, angle-dependent structure, so it would not be frozen.
    """
    pixels = frames.astype(np.float32)
    outside = ~ovd
    rng = np.random.default_rng([seed, source])
    frozen = pixels.copy()
    source_level = pixels[source][outside].mean(axis=0)
    inside = int(ovd.sum())
    for t in range(len(frames)):
        gain = pixels[t][outside].mean(axis=0) / np.maximum(source_level, 1.0)
        noise = rng.normal(0.0, noise_level(pixels[t], outside), (inside, 3)) if t != source else 0.0
        frozen[t][ovd] = pixels[source][ovd] * gain + noise
    return np.clip(np.rint(frozen), 0, 255).astype(np.uint8)


def _grow(mask: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return np.asarray(cv2.dilate(mask.astype(np.uint8), kernel), dtype=bool)


def with_frozen_ovd(dataset: FolderSequences, seed: int, min_response: float = FREEZE_MIN_RESPONSE) -> FolderSequences:
    """A copy of `dataset` plus, per genuine sequence whose OVD visibly responds, a copy whose OVD is frozen at one
    frame (seeded), labelled 0 with species "frozen_ovd", in the same group.

    This is the attack the ovd model exists for: a card image that beats the texture checks but whose hologram does
    not respond to the tilt. Without these negatives the model learned to tell genuine from attack sequences by their
    static appearance (freezing every genuine frame still left 82 % of them accepted).

    Two things keep the negatives from teaching a shortcut instead. A genuine sequence whose OVD barely changes
    (response ratio below `min_response`, `edge_models.ovd_response`) gets no copy: frozen, it would be the same
    sequence under the opposite label. And the quad-jittered variants are frozen too (with the OVD region grown by
    the jitter's reach), so "exactly rectified" cannot stand for "frozen".
    """
    from edge_models.ovd_response import response_ratio  # ovd_response imports this module

    extra = []
    for index, sample in enumerate(dataset.samples):
        if sample.label != 1.0 or sample.ovd is None or not sample.ovd.any():
            continue
        ratio = response_ratio(sample.frames, sample.ovd, sample.glare)
        if ratio is None or ratio < min_response:
            continue
        source = int(np.random.default_rng([seed, index]).integers(len(sample.frames)))
        frames = freeze_ovd(sample.frames, sample.ovd, source, seed)
        grown_ovd = _grow(sample.ovd, math.ceil(JITTER_LIMIT * math.hypot(*sample.ovd.shape)))
        variants = tuple(freeze_ovd(v, grown_ovd, source, seed) for v in sample.variants)
        extra.append(SequenceSample(frames, sample.glare, 0.0, FROZEN_OVD_SPECIES, sample.group, sample.ovd, variants))
    grown = copy.copy(dataset)
    grown.samples = [*dataset.samples, *extra]
    return grown
