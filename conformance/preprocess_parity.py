"""The preprocessing-parity experiment: plausible-but-different app implementations vs the reference recipe.

Each implementation turns a stored golden frame (JPEG bytes + upright quad) into model inputs; the fp32 reference
model scores both, and the report gives per implementation: frames, max / mean |delta attack score|, decision flips
at the default threshold, the share of bit-identical patches, and a verdict. "safe" means max |delta| <= SAFE_DELTA
(0.01, the int8 floor of the tolerances: smaller than what quantisation already costs) and no decision flip;
anything else "breaks parity". Implementations:
- reference: EXIF applied, patches by the contract, global view bilinear (INTER_LINEAR).
- global_nearest / global_cubic: the global-view warp with INTER_NEAREST / INTER_CUBIC (other resize kernels).
- global_antialiased: warp at 4x the size, then INTER_AREA down (a prefiltering resize, as torchvision antialias=True).
- half_pixel_offset: the quad read as pixel-centre coordinates (corners shifted by -0.5 px), the classic
  align_corners / half-pixel mistake.
- bankers_rounding: patch origins rounded half to even (np.round, Swift .toNearestOrEven) instead of half up.
- bgr: the frame in BGR order (OpenCV imread / Android Bitmap channel order without a swap).
- no_exif_transpose: EXIF orientation ignored (only frames stored with an orientation tag; others are identical).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import ParameterError
from conformance.golden import attack_scores, model_output
from conformance.golden_io import read_frame_rows
from conformance.variants import decode_ignoring_exif
from edge_models.images import decode_rgb
from edge_models.mosaic import assemble, layout_for
from edge_models.preprocess import (
    InputSpec,
    Preprocessed,
    card_homography,
    clamp_origins,
    global_view_matrix,
    preprocess,
)
from edge_models.weights import LoadedModel

SAFE_DELTA = 0.01
Impl = Callable[[bytes, NDArray[np.float64], InputSpec], Preprocessed]


def _cut(frame: NDArray[np.uint8], origins: NDArray[np.int64], spec: InputSpec) -> NDArray[np.uint8]:
    clamped, _ = clamp_origins(origins, frame.shape[1], frame.shape[0], spec.patch_size)
    p = spec.patch_size
    return np.stack([frame[y : y + p, x : x + p] for x, y in clamped.tolist()])


def _with_global(
    frame: NDArray[np.uint8], quad: NDArray[np.float64], spec: InputSpec, gv: NDArray[np.uint8]
) -> Preprocessed:
    ref = preprocess(frame, quad, spec)
    return Preprocessed(ref.patches, gv, ref.patch_origins, ref.clamped)


def _warp(
    frame: NDArray[np.uint8], quad: NDArray[np.float64], spec: InputSpec, flags: int, scale: int = 1
) -> NDArray[np.uint8]:
    matrix = global_view_matrix(quad, spec)
    w, h = spec.global_size
    if scale > 1:  # destination pixel (i, j) of the big image is (i + 0.5) / scale - 0.5 of the small one
        s = np.array([[1.0 / scale, 0.0, 0.5 / scale - 0.5], [0.0, 1.0 / scale, 0.5 / scale - 0.5], [0.0, 0.0, 1.0]])
        matrix = matrix @ s
    out = cv2.warpPerspective(
        frame,
        matrix,
        (w * scale, h * scale),
        flags=flags | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    if scale > 1:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    return np.asarray(out, dtype=np.uint8)


def reference(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    return preprocess(decode_rgb(data), quad, spec)


def global_nearest(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    frame = decode_rgb(data)
    return _with_global(frame, quad, spec, _warp(frame, quad, spec, cv2.INTER_NEAREST))


def global_cubic(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    frame = decode_rgb(data)
    return _with_global(frame, quad, spec, _warp(frame, quad, spec, cv2.INTER_CUBIC))


def global_antialiased(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    frame = decode_rgb(data)
    return _with_global(frame, quad, spec, _warp(frame, quad, spec, cv2.INTER_LINEAR, scale=4))


def half_pixel_offset(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    return preprocess(decode_rgb(data), quad - 0.5, spec)


def bankers_rounding(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    frame = decode_rgb(data)
    pts = np.hstack([np.asarray(spec.patch_centres_mm), np.ones((spec.num_patches, 1))]) @ card_homography(quad).T
    origins = np.round(pts[:, :2] / pts[:, 2:3]).astype(np.int64) - spec.patch_size // 2  # half to even
    clamped, flags = clamp_origins(origins, frame.shape[1], frame.shape[0], spec.patch_size)
    return Preprocessed(_cut(frame, origins, spec), preprocess(frame, quad, spec).global_view, clamped, flags)


def bgr(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    return preprocess(np.ascontiguousarray(decode_rgb(data)[:, :, ::-1]), quad, spec)


def no_exif_transpose(data: bytes, quad: NDArray[np.float64], spec: InputSpec) -> Preprocessed:
    return preprocess(decode_ignoring_exif(data), quad, spec)


IMPLEMENTATIONS: dict[str, Impl] = {
    "global_nearest": global_nearest,
    "global_cubic": global_cubic,
    "global_antialiased": global_antialiased,
    "half_pixel_offset": half_pixel_offset,
    "bankers_rounding": bankers_rounding,
    "bgr": bgr,
    "no_exif_transpose": no_exif_transpose,
}


@dataclass(frozen=True)
class ImplResult:
    name: str
    n: int
    failed: int  # frames the implementation could not preprocess (e.g. quad outside the un-rotated frame)
    max_abs: float
    mean_abs: float
    flips: int
    identical_patches: float
    verdict: str


def _inputs(model: str, pre: Preprocessed, spec: InputSpec) -> NDArray[np.uint8]:
    if model == "recapture":
        return assemble(pre, layout_for(spec))[None]
    return np.repeat(pre.global_view[None, None], 8, axis=1)  # a static 8-frame sequence of this frame


def run_experiment(bundle: Path, models: dict[str, LoadedModel]) -> dict[str, Any]:
    """Scores of every implementation vs the reference on the stored golden frames, per model."""
    rows = read_frame_rows(bundle)
    out: dict[str, Any] = {"safe_delta": SAFE_DELTA, "frames": len(rows), "models": {}}
    for model, loaded in models.items():
        spec, thr = loaded.spec, loaded.threshold
        refs = []
        for row in rows:
            data = (Path(bundle) / "golden" / row["path"]).read_bytes()
            quad = np.asarray(row["quad"], dtype=np.float64)
            pre = reference(data, quad, spec)
            score = float(attack_scores(model, model_output(loaded, _inputs(model, pre, spec)))[0])
            refs.append((row, data, quad, pre, score))
        results = []
        for name, impl in IMPLEMENTATIONS.items():
            deltas, flips, same, failed = [], 0, [], 0
            for row, data, quad, pre, ref_score in refs:
                if name == "no_exif_transpose" and row["exif_orientation"] == 1:
                    continue
                try:
                    alt = impl(data, quad, spec)
                except ParameterError:
                    failed += 1
                    continue
                s = float(attack_scores(model, model_output(loaded, _inputs(model, alt, spec)))[0])
                deltas.append(abs(s - ref_score))
                flips += int((s >= thr) != (ref_score >= thr))
                same.append(
                    float(np.mean([np.array_equal(a, b) for a, b in zip(alt.patches, pre.patches, strict=True)]))
                )
            d = np.asarray(deltas)
            safe = d.size > 0 and failed == 0 and float(d.max()) <= SAFE_DELTA and flips == 0
            results.append(
                ImplResult(
                    name,
                    int(d.size),
                    failed,
                    float(d.max(initial=0.0)),
                    float(d.mean()) if d.size else 0.0,
                    flips,
                    float(np.mean(same)) if same else 0.0,
                    "safe" if safe else ("not tested" if d.size == 0 and failed == 0 else "breaks parity"),
                ).__dict__
            )
        out["models"][model] = results
    return out


def format_experiment(data: dict[str, Any]) -> str:
    lines = [
        f"{'model':10} {'implementation':20} {'n':>4} {'failed':>6} {'max|d|':>9} {'mean|d|':>9} {'flips':>5} "
        f"{'same patches':>12}  verdict"
    ]
    for model, results in data["models"].items():
        for r in results:
            lines.append(
                f"{model:10} {r['name']:20} {r['n']:4d} {r['failed']:6d} {r['max_abs']:9.2e} "
                f"{r['mean_abs']:9.2e} {r['flips']:5d} {r['identical_patches']:12.2f}  {r['verdict']}"
            )
    return "\n".join(lines)


def write_experiment(data: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
