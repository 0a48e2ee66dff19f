"""The capture pipeline end to end: frames -> card finder -> gates -> best frames -> models -> decision.

`CapturePipeline.run(frames)` is the reference of what the app does with its preview stream. The card finder tracks
the previous frame's quad and searches the whole frame only when tracking fails. The recapture model scores only the
best K usable frames; the ovd model sees up to 8 frames with a card, spread evenly over the sequence, rectified with
the ovd spec (edge_models.ovd_data.align_sequence), and where the strictness level asks for it the hologram check
(pipeline/hologram.py) reads the same frames at 4 px/mm with the template most frames were matched to. Models are the
fp32 PyTorch references (edge_models.weights).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from edge_models.models.ovd import SequenceLayout
from edge_models.models.recapture import LABELS
from edge_models.mosaic import build_mosaic
from edge_models.ovd_data import align_sequence, frame_indices
from edge_models.pipeline.cardfinder import CardDetection, find_card, to_grey
from edge_models.pipeline.decision import Decision, FrameRecord, Thresholds, decide, select_best
from edge_models.pipeline.gates import GateSpec, load_gate_spec, run_gates
from edge_models.pipeline.hologram import HologramResponse, hologram_response, load_hologram_threshold
from edge_models.pipeline.references import CardReferences, load_references, orient
from edge_models.pipeline.tilt import tilt_coverage_deg
from edge_models.weights import DEFAULT_WEIGHTS, LoadedModel, load_weights

OVD_WEIGHTS = DEFAULT_WEIGHTS.with_name("ovd.pt")
BEST_K = 3


def model_version(path: Path) -> str:
    """The card's version when it has one, else the first 12 hex digits of the weights' sha256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@dataclass
class Models:
    recapture: LoadedModel
    ovd: LoadedModel
    versions: dict[str, dict[str, str]]

    @classmethod
    def load(cls, recapture: Path = DEFAULT_WEIGHTS, ovd: Path = OVD_WEIGHTS) -> Models:
        rec, ov = load_weights(recapture), load_weights(ovd)
        versions = {
            "recapture": {"name": rec.name, "version": str(rec.card.get("version") or model_version(recapture))},
            "ovd": {"name": ov.name, "version": str(ov.card.get("version") or model_version(ovd))},
        }
        return cls(rec, ov, versions)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.recapture.threshold, self.ovd.threshold)


def score_recapture(model: LoadedModel, frame: NDArray[np.uint8], quad: NDArray[np.float64]) -> dict[str, float]:
    mosaic = build_mosaic(frame, quad, model.spec)
    with torch.no_grad():
        probs = model.model(torch.from_numpy(mosaic)[None].float())[0].numpy()
    return {label: float(p) for label, p in zip(LABELS, probs, strict=True)}


def score_ovd(model: LoadedModel, frames: list[NDArray[np.uint8]], quads: list[NDArray[np.float64]]) -> float:
    """Attack score 1 - P(real OVD) of a tilt sequence (frames picked evenly to the model's length)."""
    pick = frame_indices(len(frames), SequenceLayout().frames)
    crops, _ = align_sequence([frames[i] for i in pick], [quads[i] for i in pick], None, model.spec)
    with torch.no_grad():
        p_real, _ = model.model(torch.from_numpy(crops)[None].float())
    return float(1.0 - p_real[0, 0])


class CapturePipeline:
    """Stateful over one capture attempt; every step it calls is a pure function."""

    def __init__(
        self,
        models: Models | None,
        strictness: str = "normal",
        best_k: int = BEST_K,
        refs: CardReferences | None = None,
    ) -> None:
        self.models = models
        self.spec: GateSpec = load_gate_spec(strictness)
        self.best_k = best_k
        self.refs = refs or load_references()
        self.hologram_threshold = load_hologram_threshold(strictness)

    def analyse(
        self, index: int, frame: NDArray[np.uint8], previous: NDArray[np.float64] | None, quad: NDArray | None = None
    ) -> FrameRecord:
        """Card and gates of one frame (`quad` given: skip the card finder, e.g. for ground-truth evaluation)."""
        template: str | None = None
        if quad is None:
            found: CardDetection | None = find_card(frame, self.refs, previous=previous)
            quad = None if found is None else found.quad
            template = None if found is None else found.template_id
        else:  # the given quad stays; the template is named as the finder names it
            template = orient(to_grey(frame), np.asarray(quad, np.float64), 1.0, self.refs)[1]
        fields = self.refs.field_masks(template)
        gates = run_gates(frame, quad, fields, self.spec, previous)
        return FrameRecord(index, None if quad is None else np.asarray(quad, np.float64), gates, template_id=template)

    def run(self, frames: Sequence[NDArray[np.uint8]], quads: Sequence[NDArray | None] | None = None) -> Decision:
        """Decide on a capture attempt (a still or a tilt sequence)."""
        if self.models is None:
            raise RuntimeError("CapturePipeline.run needs models; analyse() works without them")
        records: list[FrameRecord] = []
        previous = None
        for i, frame in enumerate(frames):
            record = self.analyse(i, frame, previous, None if quads is None else quads[i])
            records.append(record)
            previous = record.quad
        selected = select_best(records, self.best_k)
        for record in selected:
            assert record.quad is not None
            record.scores = score_recapture(self.models.recapture, frames[record.index], record.quad)
            record.attack_score = 1.0 - record.scores["genuine"]
        with_card = [r for r in records if r.quad is not None]
        h, w = frames[0].shape[:2]
        coverage = tilt_coverage_deg([r.quad for r in with_card if r.quad is not None], w, h)
        sequence = len(frames) >= 2
        ovd_score, hologram = None, None
        if sequence and len(with_card) >= 2 and coverage >= self.spec.min_tilt_coverage_deg:
            card_frames = [frames[r.index] for r in with_card]
            card_quads = [r.quad for r in with_card if r.quad is not None]
            ovd_score = score_ovd(self.models.ovd, card_frames, card_quads)
            if self.hologram_threshold is not None:
                hologram = self._hologram(with_card, card_frames, card_quads, self.hologram_threshold)
        return decide(
            records,
            selected,
            ovd_score,
            coverage,
            self.spec,
            self.models.thresholds,
            sequence,
            self.models.versions,
            hologram,
        )

    def _hologram(
        self,
        with_card: list[FrameRecord],
        frames: list[NDArray[np.uint8]],
        quads: list[NDArray[np.float64]],
        threshold: float,
    ) -> HologramResponse:
        """The response check on the frames with a card, with the template most of them were matched to."""
        named = Counter(r.template_id for r in with_card if r.template_id is not None)
        template = named.most_common(1)[0][0] if named else None
        return hologram_response(frames, quads, template, self.refs, threshold)
