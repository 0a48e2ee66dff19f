"""Quality gates: pure functions of a frame (and its card quad) -> GateResult with a user-facing reason.

Each gate measures one value and compares it with the threshold of a strictness level ("strict", "normal",
"relaxed") from the shipped spec `gates.json` (`GateSpec`); `cardlive calibrate-gates` re-derives the thresholds
from simulated frames (see calibrate.py and the spec's "calibration" block for how). Measures:

- card: a card was found (value 1 / 0).
- size: the card's resolution in frame pixels per millimetre (long sides / 85.6 mm); too few -> move closer.
- out_of_frame: share of the card's area inside the frame.
- oblique: angle between the card's normal and the camera axis, degrees (homography + an assumed phone focal length).
- blur: focus ratio mean|Laplacian| / mean|gradient| over the card (after a light denoise): a step edge blurred by
  sigma gives a ratio ~ 1/sigma whatever the contrast, so the measure does not depend on the card's design.
- exposure: median grey level of the card (0..255); two-sided.
- glare: the largest share of a field (portrait, text, MRZ; masks in card coordinates from references.py, mapped
  through the quad) covered by near-white, low-saturation pixels (above the calibrated level, or the card's median
  grey + a margin on bright cards); glare outside the fields is ignored by design.
- motion: mean corner displacement since the previous frame, as a share of the card diagonal.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError, ParameterError
from edge_models.pipeline.quads import CARD_W_MM, Quad, inside_fraction, rectify, side_lengths, tilt_deg
from edge_models.pipeline.references import FIELDS, MASK_SIZE

SPEC_PATH = Path(__file__).parent / "gates.json"
STRICTNESS = ("strict", "normal", "relaxed")
GATE_ORDER = ("card", "out_of_frame", "size", "oblique", "blur", "exposure", "glare", "motion")
FIELD_NAMES = {"portrait": "the photo", "text": "the printed details", "mrz": "the machine-readable lines"}


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float
    reason: str | None  # user-facing instruction when the gate fails

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "value": round(float(self.value), 5), "reason": self.reason}


@dataclass(frozen=True)
class GateSpec:
    """Thresholds of one strictness level (see gates.json)."""

    strictness: str
    min_px_per_mm: float
    min_inside: float
    max_tilt_deg: float
    min_focus: float
    min_grey: float
    max_grey: float
    glare_level: int  # grey level above which a low-saturation pixel counts as glare ...
    glare_margin: int  # ... or above the card's median grey plus this margin, whichever is higher
    max_field_glare: float
    max_motion: float
    min_tilt_coverage_deg: float  # ovd: the tilt sequence must span at least this angle


@functools.lru_cache(maxsize=8)
def load_gate_spec(strictness: str = "normal", path: Path = SPEC_PATH) -> GateSpec:
    """One strictness level of the shipped spec."""
    if strictness not in STRICTNESS:
        raise ParameterError(f"strictness={strictness!r} is not allowed; expected one of {', '.join(STRICTNESS)}")
    try:
        doc = json.loads(Path(path).read_text())
        level = doc["levels"][strictness]
        return GateSpec(strictness=strictness, **level)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"cannot read the gate spec {path}: {exc}") from None


def card_gate(quad: Quad | None) -> GateResult:
    found = quad is not None
    return GateResult("card", found, float(found), None if found else "No card found: hold the card inside the frame")


def size_gate(quad: Quad, spec: GateSpec) -> GateResult:
    s = side_lengths(quad)
    px_per_mm = float((s[0] + s[2]) / 2.0 / CARD_W_MM)
    ok = px_per_mm >= spec.min_px_per_mm
    return GateResult("size", ok, px_per_mm, None if ok else "The card is too far away: move the phone closer")


def out_of_frame_gate(quad: Quad, width: int, height: int, spec: GateSpec) -> GateResult:
    inside = inside_fraction(quad, width, height)
    ok = inside >= spec.min_inside
    return GateResult("out_of_frame", ok, inside, None if ok else "Part of the card is outside the frame: centre it")


def oblique_gate(quad: Quad, width: int, height: int, spec: GateSpec) -> GateResult:
    angle = tilt_deg(quad, width, height)
    ok = angle <= spec.max_tilt_deg
    return GateResult(
        "oblique", ok, angle, None if ok else "The card is held at too steep an angle: face it to the camera"
    )


def card_crop(grey: NDArray[np.uint8], quad: Quad) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """The card's bounding box cut from the frame (native pixels) and the mask of the card inside it (5 % inset)."""
    h, w = grey.shape
    x0, y0 = np.floor(np.clip(quad.min(axis=0), 0, [w, h])).astype(int)
    x1, y1 = np.ceil(np.clip(quad.max(axis=0), 0, [w, h])).astype(int)
    crop = grey[y0:y1, x0:x1]
    centre = quad.mean(axis=0)
    inset = centre + 0.95 * (quad - centre) - np.array([x0, y0]) - 0.5
    mask = np.zeros(crop.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(inset * 4).astype(np.int32), 1, shift=2)
    return crop, mask.astype(bool)


def focus_measure(crop: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """mean |Laplacian| / mean |gradient| over the masked pixels (after a sigma 0.7 denoise)."""
    if mask.sum() < 64:
        return 0.0
    inside = np.ascontiguousarray(mask).view(np.uint8)  # masked means in OpenCV: no boolean-indexed copies
    g = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), 0.7)
    lap = np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=1))
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / 8.0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / 8.0)
    grad = cv2.magnitude(gx, gy)
    return float(cv2.mean(lap, inside)[0] / max(float(cv2.mean(grad, inside)[0]), 1e-3))


def masked_median(crop: NDArray[np.uint8], mask: NDArray[np.bool_]) -> float:
    """np.median(crop[mask]) from a 256-bin histogram (exact for uint8; 0.0 for an empty mask)."""
    hist = cv2.calcHist([np.ascontiguousarray(crop)], [0], np.ascontiguousarray(mask).view(np.uint8), [256], [0, 256])
    counts = np.round(np.ravel(hist)).astype(np.int64)
    n = int(counts.sum())
    if n == 0:
        return 0.0
    cumulative = np.cumsum(counts)
    lower = int(np.searchsorted(cumulative, (n - 1) // 2, side="right"))
    upper = int(np.searchsorted(cumulative, n // 2, side="right"))
    return 0.5 * (lower + upper)


def blur_gate(crop: NDArray[np.uint8], mask: NDArray[np.bool_], spec: GateSpec) -> GateResult:
    focus = focus_measure(crop, mask)
    ok = focus >= spec.min_focus
    return GateResult("blur", ok, focus, None if ok else "The picture is blurred: hold still and let the camera focus")


def exposure_gate(crop: NDArray[np.uint8], mask: NDArray[np.bool_], spec: GateSpec) -> GateResult:
    level = masked_median(crop, mask)
    if level < spec.min_grey:
        return GateResult("exposure", False, level, "The card is too dark: move to a brighter place")
    if level > spec.max_grey:
        return GateResult("exposure", False, level, "The card is overexposed: move away from the bright light")
    return GateResult("exposure", True, level, None)


def glare_mask(frame: NDArray[np.uint8], level: int) -> NDArray[np.uint8]:
    """255 where a pixel is near white and nearly colourless (specular reflection of the light), else 0."""
    lo = frame.min(axis=2)
    hi = frame.max(axis=2)
    return np.where((lo >= level) & (hi.astype(np.int16) - lo <= 40), 255, 0).astype(np.uint8)


def field_glare(glare: NDArray[np.uint8], quad: Quad, fields: NDArray[np.bool_]) -> dict[str, float]:
    """Share of each field's area covered by glare, the glare mask warped into card coordinates."""
    card = rectify(glare, quad, MASK_SIZE) > 127
    return {name: float(card[fields[k]].mean()) if fields[k].any() else 0.0 for k, name in enumerate(FIELDS)}


def detected_field_glare(
    frame: NDArray[np.uint8], quad: Quad, fields: NDArray[np.bool_], level: int
) -> dict[str, float]:
    """Share of each field covered by glare, detected on the card rectified to the field masks' grid (2 px / mm)."""
    card = glare_mask(np.asarray(rectify(frame, quad, MASK_SIZE), np.uint8), level) > 127
    return {name: float(card[fields[k]].mean()) if fields[k].any() else 0.0 for k, name in enumerate(FIELDS)}


def glare_gate(
    frame: NDArray[np.uint8], quad: Quad, fields: NDArray[np.bool_], spec: GateSpec, card_grey: float = 0.0
) -> GateResult:
    """Glare over the fields, detected on the card rectified to the field masks' grid (2 px per mm); `card_grey`
    (the card's median grey) raises the detector's level on bright cards."""
    level = int(min(250, max(spec.glare_level, card_grey + spec.glare_margin)))
    shares = detected_field_glare(frame, quad, fields, level)
    worst = max(shares, key=lambda k: shares[k])
    ok = shares[worst] <= spec.max_field_glare
    reason = None if ok else f"Glare covers {FIELD_NAMES[worst]}: tilt the card a little or move away from the light"
    return GateResult("glare", ok, shares[worst], reason)


def motion_gate(quad: Quad, previous: Quad | None, spec: GateSpec) -> GateResult:
    if previous is None:
        return GateResult("motion", True, 0.0, None)
    diag = 0.5 * (np.linalg.norm(quad[2] - quad[0]) + np.linalg.norm(quad[3] - quad[1]))
    moved = float(np.mean(np.linalg.norm(quad - previous, axis=1)) / max(diag, 1e-6))
    ok = moved <= spec.max_motion
    return GateResult("motion", ok, moved, None if ok else "The card moved too fast: tilt it slowly")


def run_gates(
    frame: NDArray[np.uint8],
    quad: Quad | None,
    fields: NDArray[np.bool_],
    spec: GateSpec,
    previous: Quad | None = None,
) -> dict[str, GateResult]:
    """Every gate of one frame, in GATE_ORDER; without a card only the card gate is reported."""
    results = {"card": card_gate(quad)}
    if quad is None:
        return results
    h, w = frame.shape[:2]
    grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), np.uint8)
    crop, mask = card_crop(np.asarray(grey, np.uint8), quad)
    results["out_of_frame"] = out_of_frame_gate(quad, w, h, spec)
    results["size"] = size_gate(quad, spec)
    results["oblique"] = oblique_gate(quad, w, h, spec)
    results["blur"] = blur_gate(crop, mask, spec)
    results["exposure"] = exposure_gate(crop, mask, spec)
    results["glare"] = glare_gate(frame, quad, fields, spec, results["exposure"].value)
    results["motion"] = motion_gate(quad, previous, spec)
    return results


def first_failure(results: dict[str, GateResult]) -> GateResult | None:
    """The failed gate to tell the user about first (GATE_ORDER is the order of priority)."""
    for name in GATE_ORDER:
        if name in results and not results[name].passed:
            return results[name]
    return None
