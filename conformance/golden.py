"""Golden vectors: fixed model inputs from the simulator with the fp32 reference outputs (`GoldenConfig` -> bundle).

Plan (every draw from an explicit seed; a vector re-renders from its recorded (sim_seed, species, capture index)):
- For each attack family k (of `families`) and pair p (< pairs_per_family), the simulator renders the genuine and the
  attack capture of pair p with SimConfig(seed = seed + k, species = ("genuine", family), frames, supersample):
  capture indices 2p (genuine) and 2p + 1 (attack). Paired rendering makes the two share card, pose, light and camera.
  A seed per family keeps the scenes of different families different (pair 0 of every family would share one scene).
- Each frame is put through every hard-case variant of `conformance.variants` (dark, heavy glare, blurred, oblique,
  clamped at the frame edge, EXIF-rotated); the recapture model gets one vector per (capture, frame, variant) and the
  ovd model one per (capture, variant, order): the tilt sequence forward and reversed (a sweep the other way), with
  frames picked by `edge_models.ovd_data.frame_indices` (repeats when fewer than 8 frames were rendered).
- Near-threshold vectors: for each pair, the genuine and attack model inputs are blended, (1 - a) G + a A rounded to
  uint8, with `a` found by bisection so that the reference attack score lands at threshold + offset for each of
  `blend_offsets`; where both ends lie on one side of the target the vector is left out. They carry no label
  (excluded from APCER / BPCER) and no frame; they are the most sensitive detectors of decision flips.
- Counts: quick preset 2 families -> ~40 vectors (tests); full preset 8 families x 5 frames -> > 512 recapture
  vectors and > 200 ovd vectors (`cardlive bench conform`, release bundles).
Inputs are stored as uint8 (exact: the model inputs are integer valued 0..255) and fed to runners as float32.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from capture_sim.capture import SimConfig, render_capture
from capture_sim.rng import make_rng
from capture_sim.species import PRINT_FAMILIES, SCREEN_FAMILIES
from cardlive.errors import ParameterError
from conformance.variants import HARD_CASE_TAGS, apply_variant, check_variants, encode_frame
from edge_models.images import decode_rgb
from edge_models.models.recapture import LABELS
from edge_models.mosaic import assemble, layout_for
from edge_models.ovd_data import frame_indices
from edge_models.preprocess import global_view, preprocess
from edge_models.weights import LoadedModel

MODELS = ("recapture", "ovd")
OUTPUT_NAMES = {"recapture": ("probs",), "ovd": ("p_real", "glare")}
ATTACK_SCORE = {"recapture": "1 - P(genuine)", "ovd": "1 - P(real OVD)"}
OVD_FRAMES = 8


@dataclass(frozen=True)
class GoldenConfig:
    """What a golden set is generated from; the same config gives the same bytes."""

    seed: int = 20240
    families: tuple[str, ...] = (*SCREEN_FAMILIES, *PRINT_FAMILIES)
    pairs_per_family: int = 1
    frames: int = 5
    variants: tuple[str, ...] = ("base", "dark", "glare", "blur", "oblique", "edge", "exif_rot90")
    blend_offsets: tuple[float, ...] = (-0.02, -0.005, 0.005, 0.02)
    orders: tuple[str, ...] = ("forward", "reverse")
    e2e_variants: tuple[str, ...] = ("base", "edge", "exif_rot90")  # variants whose frames are stored as JPEG
    e2e_frames: int = 1  # frames per capture stored for end-to-end checks (the first ones)
    e2e_sequences: int = 2  # captures (in plan order) whose whole base-variant sequence is stored (ovd end-to-end)
    supersample: int = 1

    def __post_init__(self) -> None:
        check_variants(self.variants)
        check_variants(self.e2e_variants)
        bad = sorted(set(self.families) - set(SCREEN_FAMILIES) - set(PRINT_FAMILIES))
        if bad or not self.families:
            raise ParameterError(
                f"golden families {bad or '[]'} are not attack families; expected some of "
                f"{[*SCREEN_FAMILIES, *PRINT_FAMILIES]}"
            )
        if not 1 <= self.pairs_per_family <= 64 or not 1 <= self.frames <= 16:
            raise ParameterError("pairs_per_family must be in [1, 64] and frames in [1, 16]")
        if not set(self.orders) <= {"forward", "reverse"} or not self.orders:
            raise ParameterError(f"orders={self.orders!r}; expected 'forward' and/or 'reverse'")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


PRESETS = {
    "quick": GoldenConfig(
        families=("phone_oled_pentile", "laser_am"),
        frames=1,
        variants=("base", "dark", "edge", "exif_rot90"),
        blend_offsets=(0.01,),
        orders=("forward",),
        e2e_variants=("base", "edge", "exif_rot90"),
    ),
    "full": GoldenConfig(),
}


@dataclass
class Vector:
    """One golden vector's metadata (index.json row) and its uint8 input."""

    id: str
    label: str | None
    species: str
    family: str
    sim_seed: int
    capture_index: int | None
    frame: int | None
    variant: str
    tags: list[str]
    frame_files: list[str] | None
    data: NDArray[np.uint8] = field(repr=False)

    def row(self) -> dict[str, Any]:
        keys = ("id", "label", "species", "family", "sim_seed", "capture_index", "frame", "variant", "tags")
        return {**{k: getattr(self, k) for k in keys}, "frame_files": self.frame_files}


@dataclass
class StoredFrame:
    """A raw frame kept for end-to-end and preprocessing checks: JPEG bytes, upright quad, decoded pixels."""

    id: str
    jpeg: bytes
    quad: NDArray[np.float64]
    rgb: NDArray[np.uint8] = field(repr=False)
    variant: str
    exif_orientation: int


@dataclass
class GoldenSet:
    config: GoldenConfig
    vectors: dict[str, list[Vector]]
    outputs: dict[str, list[NDArray[np.float32]]]
    frames: list[StoredFrame]
    skipped: list[str]


@dataclass
class _Capture:
    family: str
    pair: int
    label: str
    species: str
    sim_seed: int
    index: int
    frames: list[tuple[bytes, NDArray[np.float64]]]
    ordinal: int = 0


def _captures(config: GoldenConfig, progress: bool) -> Iterator[_Capture]:
    jobs = [(k, f, p, v) for k, f in enumerate(config.families) for p in range(config.pairs_per_family) for v in (0, 1)]
    for ordinal, (k, family, pair, attack) in enumerate(
        tqdm(jobs, desc="golden: render", unit="capture", disable=not progress)
    ):
        sim = SimConfig(
            seed=config.seed + k, species=("genuine", family), frames=config.frames, supersample=config.supersample
        )
        cap = render_capture(sim, 2 * pair + attack)
        frames = [(fr.jpeg, np.asarray(fr.quad, dtype=np.float64)) for fr in cap.frames]
        yield _Capture(family, pair, cap.label, cap.species, sim.seed, cap.index, frames, ordinal)


def model_output(loaded: LoadedModel, batch: NDArray[np.uint8]) -> list[NDArray[np.float32]]:
    """The fp32 PyTorch reference outputs for a uint8 batch, as float32 numpy in the model's output order.
    Runs on one thread (restored afterwards): on a shared 2-core machine torch's default threads are ~20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            out = loaded.model(torch.from_numpy(np.ascontiguousarray(batch)).float())
    finally:
        torch.set_num_threads(threads)
    outs = out if isinstance(out, tuple) else (out,)
    return [np.asarray(o.numpy(), dtype=np.float32) for o in outs]


def attack_scores(model: str, outputs: list[NDArray[np.float32]]) -> NDArray[np.float64]:
    """Attack score per vector: 1 - P(genuine) (recapture) or 1 - P(real OVD) (ovd)."""
    first = outputs[0].astype(np.float64)
    if model == "recapture":
        return 1.0 - first[:, LABELS.index("genuine")]
    return 1.0 - first[:, 0]


def _frame_variants(config: GoldenConfig, cap: _Capture) -> Iterator[tuple[str, int, bytes, NDArray[np.float64]]]:
    for variant in config.variants:
        for t, (jpeg, quad) in enumerate(cap.frames):
            if variant == "base":
                yield variant, t, jpeg, quad
                continue
            rng = make_rng(cap.sim_seed, cap.index, f"golden:{variant}:{t}")
            frame, vquad = apply_variant(variant, decode_rgb(jpeg), quad, rng)
            yield variant, t, encode_frame(variant, frame), vquad


def _per_capture(
    config: GoldenConfig, cap: _Capture, models: dict[str, LoadedModel], result: GoldenSet
) -> dict[str, dict[str, NDArray[np.uint8]]]:
    """Add the capture's vectors and stored frames to `result`; returns each model's base-variant input by key."""
    name = f"{cap.family}-p{cap.pair}-{cap.label}"
    seq: dict[str, list[tuple[NDArray[np.uint8] | None, str | None]]] = {}
    firsts: dict[str, dict[str, NDArray[np.uint8]]] = {m: {} for m in models}

    def vector(vid: str, data: NDArray[np.uint8], frame: int | None, variant: str, files: list[str] | None) -> Vector:
        return Vector(
            vid,
            cap.label,
            cap.species,
            cap.family,
            cap.sim_seed,
            cap.index,
            frame,
            variant,
            list(HARD_CASE_TAGS[variant]),
            files,
            data,
        )

    for variant, t, jpeg, quad in _frame_variants(config, cap):
        frame_id = f"{name}-t{t}-{variant}"
        rgb = decode_rgb(jpeg, frame_id)
        stored = None
        whole = variant == "base" and cap.ordinal < config.e2e_sequences
        if whole or (variant in config.e2e_variants and t < config.e2e_frames):
            stored = f"frames/{frame_id}.jpg"
            result.frames.append(StoredFrame(frame_id, jpeg, quad, rgb, variant, 8 if variant == "exif_rot90" else 1))
        if "recapture" in models:
            spec = models["recapture"].spec
            try:
                mosaic = assemble(preprocess(rgb, quad, spec), layout_for(spec))
            except ParameterError as exc:
                result.skipped.append(f"recapture {frame_id}: {exc}")
            else:
                files = [stored] if stored else None
                result.vectors["recapture"].append(vector(frame_id, mosaic, t, variant, files))
                if variant == "base" and t == 0:
                    firsts["recapture"][name] = mosaic
        if "ovd" in models:
            try:
                crop = global_view(rgb, quad, models["ovd"].spec)
            except ParameterError as exc:
                result.skipped.append(f"ovd {frame_id}: {exc}")
                crop = None
            seq.setdefault(variant, []).append((crop, stored))
    for variant, items in seq.items():
        if any(c is None for c, _ in items):
            continue
        pick = frame_indices(len(items), OVD_FRAMES)
        for order in config.orders:
            order_pick = pick if order == "forward" else pick[::-1]
            data = np.stack([np.asarray(items[i][0]) for i in order_pick])
            files = [str(items[i][1]) for i in order_pick if items[i][1] is not None]
            vec = vector(f"{name}-{variant}-{order}", data, None, variant, files if len(files) == len(pick) else None)
            result.vectors["ovd"].append(vec)
            if variant == "base" and order == "forward":
                firsts["ovd"][name] = data
    return firsts


def _bisect_blend(
    loaded: LoadedModel, model: str, g: NDArray[np.uint8], a: NDArray[np.uint8], target: float
) -> NDArray[np.uint8] | None:
    def blend(alpha: float) -> NDArray[np.uint8]:
        mix = (1.0 - alpha) * g.astype(np.float64) + alpha * a.astype(np.float64)
        return np.clip(np.floor(mix + 0.5), 0, 255).astype(np.uint8)

    def score(alpha: float) -> float:
        return float(attack_scores(model, model_output(loaded, blend(alpha)[None]))[0])

    lo, hi = 0.0, 1.0
    s_lo, s_hi = score(lo), score(hi)
    if (s_lo - target) * (s_hi - target) > 0:
        return None
    rising = s_hi > s_lo
    for _ in range(18):
        mid = 0.5 * (lo + hi)
        if (score(mid) < target) == rising:
            lo = mid
        else:
            hi = mid
    return blend(hi)


def _outputs(loaded: LoadedModel, vectors: list[Vector]) -> list[list[NDArray[np.float32]]]:
    return [model_output(loaded, v.data[None]) for v in vectors]


def _blends(
    config: GoldenConfig,
    model: str,
    loaded: LoadedModel,
    firsts: dict[str, NDArray[np.uint8]],
    candidates: list[Vector],
    scores: NDArray[np.float64],
) -> tuple[list[Vector], list[str]]:
    """Near-threshold vectors per pair and offset: blend the pair's genuine and attack inputs; where they do not
    straddle the target, the lowest- / highest-scoring vector of the whole set stands in for the end that fails."""
    out: list[Vector] = []
    skipped: list[str] = []
    if not candidates:
        return out, skipped
    lowest, highest = candidates[int(np.argmin(scores))].data, candidates[int(np.argmax(scores))].data
    own = {v.id: float(s) for v, s in zip(candidates, scores, strict=True)}
    for k, family in enumerate(config.families):
        attack_label = "screen" if family in SCREEN_FAMILIES else "print"
        for pair in range(config.pairs_per_family):
            key = f"{family}-p{pair}"
            g, a = firsts.get(f"{key}-genuine"), firsts.get(f"{key}-{attack_label}")
            if g is None or a is None:
                continue
            g_score = own[f"{key}-genuine-t0-base" if model == "recapture" else f"{key}-genuine-base-forward"]
            a_score = own[
                f"{key}-{attack_label}-t0-base" if model == "recapture" else f"{key}-{attack_label}-base-forward"
            ]
            for offset in config.blend_offsets:
                target = loaded.threshold + offset
                lo = g if g_score < target else lowest
                hi = a if a_score > target else highest
                data = _bisect_blend(loaded, model, lo, hi, target)
                vid = f"blend-{key}-{offset:+.3f}"
                if data is None:
                    skipped.append(f"{model} {vid}: no input scores on both sides of {target:.3f}")
                    continue
                out.append(
                    Vector(
                        vid,
                        label=None,
                        species="blend",
                        family=family,
                        sim_seed=config.seed + k,
                        capture_index=None,
                        frame=None,
                        variant="blend",
                        tags=["near_threshold"],
                        frame_files=None,
                        data=data,
                    )
                )
    return out, skipped


def generate_golden(config: GoldenConfig, models: dict[str, LoadedModel], progress: bool = True) -> GoldenSet:
    """Render, preprocess and score every golden vector for the given reference models (fp32 PyTorch)."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ParameterError(f"no golden recipe for models {unknown}; expected some of {list(MODELS)}")
    if "base" not in config.variants:
        raise ParameterError("golden variants must include 'base'")
    result = GoldenSet(config, {m: [] for m in models}, {}, [], [])
    firsts: dict[str, dict[str, NDArray[np.uint8]]] = {m: {} for m in models}
    for cap in _captures(config, progress):
        for model, items in _per_capture(config, cap, models, result).items():
            firsts[model].update(items)
    for model, loaded in models.items():
        vecs = result.vectors[model]
        outs = _outputs(loaded, vecs)
        scores = np.array([attack_scores(model, o)[0] for o in outs])
        blends, skipped = _blends(config, model, loaded, firsts[model], vecs, scores)
        vecs += blends
        outs += _outputs(loaded, blends)
        result.skipped += skipped
        n_out = len(OUTPUT_NAMES[model])
        result.outputs[model] = [
            np.concatenate([o[j] for o in outs]) if outs else np.zeros((0,), np.float32) for j in range(n_out)
        ]
    return result
