"""Frame selection, fusion and the capture decision: accept, reject(reason) or retry(reason), as a JSON document.

Rules (the reference that the Swift / Kotlin SDKs mirror):
1. A frame is usable for the recapture model when every gate passed. No usable frame -> retry, with the failure
   that most frames share (ties: the earlier gate in gates.GATE_ORDER), and its user-facing message.
2. Best K usable frames: highest focus measure first (sharpest texture for the patches).
3. Recapture fusion: the mean of the K attack scores' log-odds, mapped back through the logistic (a geometric
   pooling: one confident frame cannot be outvoted by a single weak one, and K equal scores fuse to that score).
   fused >= the recapture model's operating threshold -> reject "screen" or "print", whichever of P(screen) and
   P(print), averaged over the K frames, is larger.
4. Hologram: with a sequence (>= 2 frames with a card), the tilt coverage must reach the spec's minimum, else retry
   "tilt"; the ovd model's attack score (1 - P(real OVD)) >= its threshold -> reject "no_live_hologram".
   Then, where the strictness level asks for it, the hologram itself must have visibly responded to the tilt
   (pipeline/hologram.py: the template's OVD region against the rest of the card), else retry "hologram": a
   genuine foil whose diffraction missed the camera over this tilt responds to the next one, a frozen one never
   does, so a card whose hologram did not respond is never accepted.
   A single still has no tilt: both hologram checks are skipped and the document says so (fused.ovd_score null).
5. Otherwise accept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_models.pipeline.gates import GATE_ORDER, GateResult, GateSpec, first_failure
from edge_models.pipeline.hologram import HologramResponse

MESSAGES = {
    "accept": "Card verified",
    "screen": "This looks like a card shown on a screen: present the physical card",
    "print": "This looks like a printed copy: present the physical card",
    "no_live_hologram": "The hologram does not respond to tilting like a real card's: present the physical card",
    "tilt": "Tilt the card slowly back and forth so the hologram can be checked",
    "hologram": "Tilt the card a little further, slowly, until the hologram changes colour",
}
_EPS = 1e-6


@dataclass
class FrameRecord:
    """What the pipeline knows about one frame."""

    index: int
    quad: np.ndarray | None
    gates: dict[str, GateResult]
    scores: dict[str, float] | None = None  # P(genuine), P(screen), P(print)
    attack_score: float | None = None
    template_id: str | None = None

    @property
    def usable(self) -> bool:
        return all(g.passed for g in self.gates.values()) and self.quad is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "quad": None if self.quad is None else np.round(self.quad, 2).tolist(),
            "template_id": self.template_id,
            "gates": {name: g.to_json() for name, g in self.gates.items()},
            "scores": None if self.scores is None else {k: round(v, 6) for k, v in self.scores.items()},
            "attack_score": None if self.attack_score is None else round(self.attack_score, 6),
        }


@dataclass(frozen=True)
class Thresholds:
    recapture: float
    ovd: float

    def to_json(self) -> dict[str, float]:
        return {"recapture": self.recapture, "ovd": self.ovd}


@dataclass
class Decision:
    outcome: str
    reason: str | None
    message: str
    frames: list[FrameRecord]
    fused_attack: float | None
    ovd_score: float | None
    tilt_coverage_deg: float
    selected: list[int]
    thresholds: Thresholds
    strictness: str
    models: dict[str, dict[str, str]] = field(default_factory=dict)
    hologram: HologramResponse | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
            "frames": [f.to_json() for f in self.frames],
            "fused": {
                "attack_score": None if self.fused_attack is None else round(self.fused_attack, 6),
                "ovd_score": None if self.ovd_score is None else round(self.ovd_score, 6),
                "selected_frames": self.selected,
                "tilt_coverage_deg": round(self.tilt_coverage_deg, 3),
                "hologram": None if self.hologram is None else self.hologram.to_json(),
            },
            "thresholds": self.thresholds.to_json(),
            "strictness": self.strictness,
            "model": self.models.get("recapture", {"name": "recapture", "version": "unknown"}),
            "models": self.models,
        }


def fuse_attack(scores: list[float]) -> float:
    """Mean log-odds of the attack scores, back through the logistic."""
    if not scores:
        raise ValueError("fusing needs at least one score")
    p = np.clip(np.asarray(scores, np.float64), _EPS, 1.0 - _EPS)
    mean_logit = float(np.mean(np.log(p / (1.0 - p))))
    return 1.0 / (1.0 + math.exp(-mean_logit))


def select_best(frames: list[FrameRecord], k: int) -> list[FrameRecord]:
    """The k usable frames with the highest focus measure (ties: earlier frame first)."""
    usable = [f for f in frames if f.usable]
    return sorted(usable, key=lambda f: (-f.gates["blur"].value, f.index))[:k]


def retry_reason(frames: list[FrameRecord]) -> GateResult:
    """The first failure that most frames share; ties go to the earlier gate."""
    failures = [g for g in (first_failure(f.gates) for f in frames) if g is not None]
    if not failures:
        return GateResult("card", False, 0.0, "No card found: hold the card inside the frame")
    counts = Counter(g.name for g in failures)
    name = max(counts, key=lambda n: (counts[n], -GATE_ORDER.index(n)))
    return next(g for g in failures if g.name == name)


def decide(
    frames: list[FrameRecord],
    selected: list[FrameRecord],
    ovd_score: float | None,
    coverage_deg: float,
    spec: GateSpec,
    thresholds: Thresholds,
    sequence: bool,
    models: dict[str, dict[str, str]] | None = None,
    hologram: HologramResponse | None = None,
) -> Decision:
    """Apply the rules of the module docstring; `selected` are the scored best frames (select_best + model);
    `hologram`: the response check where the strictness level runs it (None: not run)."""

    def make(outcome: str, reason: str | None, message: str, fused: float | None) -> Decision:
        return Decision(
            outcome,
            reason,
            message,
            frames,
            fused,
            ovd_score,
            coverage_deg,
            [f.index for f in selected],
            thresholds,
            spec.strictness,
            models or {},
            hologram,
        )

    scored = [f for f in selected if f.attack_score is not None and f.scores is not None]
    if not scored:
        failure = retry_reason(frames)
        return make("retry", failure.name, failure.reason or "Try again", None)
    fused = fuse_attack([float(f.attack_score) for f in scored])  # type: ignore[arg-type]
    if fused >= thresholds.recapture:
        screen = float(np.mean([f.scores["screen"] for f in scored]))  # type: ignore[index]
        printed = float(np.mean([f.scores["print"] for f in scored]))  # type: ignore[index]
        kind = "screen" if screen >= printed else "print"
        return make("reject", kind, MESSAGES[kind], fused)
    if sequence:
        if coverage_deg < spec.min_tilt_coverage_deg or ovd_score is None:
            return make("retry", "tilt", MESSAGES["tilt"], fused)
        if ovd_score >= thresholds.ovd:
            return make("reject", "no_live_hologram", MESSAGES["no_live_hologram"], fused)
        if hologram is not None and not hologram.seen:
            return make("retry", "hologram", MESSAGES["hologram"], fused)
    return make("accept", None, MESSAGES["accept"], fused)
