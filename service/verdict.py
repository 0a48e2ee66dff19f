"""Re-score uploaded frames with the reference model and compare them with what the app reported.

Rules (decisions recorded here):
- Server score per frame: edge_models.scorer.score_frame (the reference scorer: same preprocessing contract, fp32
  PyTorch weights, P(attack) = 1 - P(genuine)). The session's server score is the mean over frames; the edge score
  compared with it is the mean of the app's per-frame attack scores (like with like: the app's own fusion in
  decision.attack_score is stored but not compared, since it may select frames).
- Decisions: attack iff score >= the reference model's operating threshold (APCER 5 %).
- Verdict, most severe first:
    decision_flip     the edge and server decisions differ, or the app says "accept" where the server says attack;
    score_divergence  some frame's |edge - server| attack score exceeds the band's tolerance;
    consistent        otherwise.
  An honest client near the threshold can flip within tolerance: that rate is what the band's expected_flip_rate
  predicts, and it is reported beside the measured flag rate.
- The final decision is always the server's: "reject" when the server says attack, else "accept".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cardlive.errors import InputError, ParameterError
from edge_models.images import decode_rgb
from edge_models.scorer import score_frame
from edge_models.weights import LoadedModel
from service.errors import ApiError
from service.profile import Band
from service.report import EdgeReport


@dataclass(frozen=True)
class ReferenceModel:
    """The server's reference: loaded fp32 weights and the version name the bundle gives them."""

    name: str
    version: str
    loaded: LoadedModel

    @property
    def threshold(self) -> float:
        return self.loaded.threshold


@dataclass(frozen=True)
class FrameResult:
    index: int
    rgb: np.ndarray
    server: dict[str, Any]
    edge_attack: float
    abs_delta: float


@dataclass(frozen=True)
class Verdict:
    verdict: str
    edge_score: float
    server_score: float
    edge_decision: str
    server_decision: str
    final_decision: str
    max_abs_delta: float
    tolerance: float
    threshold: float
    frames: tuple[FrameResult, ...]


def decode_frames(report: EdgeReport) -> list[np.ndarray]:
    """Decoded RGB frames; ApiError frames_missing / frames_undecodable otherwise."""
    missing = [f.index for f in report.frames if f.jpeg is None]
    if missing:
        raise ApiError(
            422,
            "frames_missing",
            f"frames {missing} carry only their sha256; the server needs the JPEG bytes (jpeg_b64) to re-score",
            "frames_missing",
        )
    out = []
    for f in report.frames:
        assert f.jpeg is not None
        try:
            out.append(decode_rgb(f.jpeg, f"frame {f.index}"))
        except InputError as exc:
            raise ApiError(422, "frames_undecodable", str(exc), "frames_undecodable") from None
    return out


def score_frames(reference: ReferenceModel, report: EdgeReport, rgbs: list[np.ndarray]) -> list[dict[str, Any]]:
    """Reference scores per frame; ApiError invalid_quad when a quad cannot be used with the frame."""
    results = []
    for f, rgb in zip(report.frames, rgbs, strict=True):
        try:
            results.append(score_frame(reference.loaded, rgb, f.quad))
        except ParameterError as exc:
            raise ApiError(422, "invalid_quad", f"frame {f.index}: {exc}") from None
    return results


def judge(
    reference: ReferenceModel, band: Band, report: EdgeReport, rgbs: list[np.ndarray], server: list[dict[str, Any]]
) -> Verdict:
    """Compare the app's per-frame scores with the server's under the band's tolerance."""
    threshold = reference.threshold
    frames = tuple(
        FrameResult(f.index, rgb, s, f.attack_score, abs(f.attack_score - float(s["attack_score"])))
        for f, rgb, s in zip(report.frames, rgbs, server, strict=True)
    )
    edge_score = float(np.mean([fr.edge_attack for fr in frames]))
    server_score = float(np.mean([float(fr.server["attack_score"]) for fr in frames]))
    edge_decision = "attack" if edge_score >= threshold else "genuine"
    server_decision = "attack" if server_score >= threshold else "genuine"
    max_delta = max(fr.abs_delta for fr in frames)
    if edge_decision != server_decision or (report.outcome == "accept" and server_decision == "attack"):
        verdict = "decision_flip"
    elif max_delta > band.tolerance:
        verdict = "score_divergence"
    else:
        verdict = "consistent"
    return Verdict(
        verdict=verdict,
        edge_score=edge_score,
        server_score=server_score,
        edge_decision=edge_decision,
        server_decision=server_decision,
        final_decision="reject" if server_decision == "attack" else "accept",
        max_abs_delta=max_delta,
        tolerance=band.tolerance,
        threshold=threshold,
        frames=frames,
    )
