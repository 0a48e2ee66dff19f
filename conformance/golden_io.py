"""Writing and reading golden vectors in a bundle (format: conformance/schemas/golden.schema.json).

BUNDLE/golden/
    <model>/index.json     model, version, spec (+ digest), thresholds, config, inputs/outputs, one row per vector
                           (id, label, species, family, sim_seed, capture_index, frame, variant, tags, frame_files,
                           reference attack score and decisions at every operating threshold)
    <model>/vectors.npz    "input_0": uint8 (N, ...) model inputs (feed as float32), "output_<j>": float32 fp32
                           reference outputs in the model's order, "ids": vector ids (same order as index.json)
    frames/<frame_id>.jpg  raw frames (EXIF-rotated ones carry Orientation 8), frames/quads.jsonl one row per frame
    preprocess/            expected preprocessing outputs per stored frame (`conformance.preprocess_golden`)
Files are written with fixed names and sorted keys so that the same config and weights give the same bytes, except
that numpy's npz (zip) records no timestamps of its own: it writes a fixed 1980 date.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from numpy.typing import NDArray

from capture_sim.capture import SIMULATOR_VERSION
from cardlive import __version__
from cardlive.errors import InputError
from conformance.golden import ATTACK_SCORE, OUTPUT_NAMES, GoldenSet, attack_scores
from edge_models.weights import LoadedModel

SCHEMA_DIR = Path(__file__).parent / "schemas"
GOLDEN_SCHEMA = SCHEMA_DIR / "golden.schema.json"
THRESHOLD_KEYS = ("apcer_0.01", "apcer_0.05")


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text())
    return schema


def validate(instance: Any, schema_name: str, definition: str | None = None, where: str = "") -> list[str]:
    """Schema problems as readable strings (empty = valid); `definition` picks a $defs entry."""
    schema = load_schema(schema_name)
    if definition:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{where}{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def thresholds_of(loaded: LoadedModel) -> dict[str, Any]:
    stored = loaded.card.get("validation", {}).get("operating_thresholds", {})
    out: dict[str, Any] = {k: float(stored.get(k, loaded.threshold)) for k in THRESHOLD_KEYS}
    out["default"] = "apcer_0.05"
    return out


def _npz_bytes(arrays: dict[str, NDArray[Any]]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def write_golden(
    bundle_dir: Path, golden: GoldenSet, models: dict[str, LoadedModel], model_versions: dict[str, str]
) -> list[Path]:
    """Write golden/ into the bundle (replacing an earlier one); returns the files written. Callers that sign the
    bundle afterwards call quantize.manifest.resign_bundle."""
    from conformance.preprocess_golden import write_preprocess_golden

    root = Path(bundle_dir) / "golden"
    written: list[Path] = []
    for model, loaded in models.items():
        vecs, outs = golden.vectors[model], golden.outputs[model]
        folder = root / model
        folder.mkdir(parents=True, exist_ok=True)
        inputs = np.stack([v.data for v in vecs]) if vecs else np.zeros((0,), np.uint8)
        arrays: dict[str, NDArray[Any]] = {"input_0": inputs, "ids": np.array([v.id for v in vecs])}
        arrays.update({f"output_{j}": o for j, o in enumerate(outs)})
        (folder / "vectors.npz").write_bytes(_npz_bytes(arrays))
        thresholds = thresholds_of(loaded)
        scores = attack_scores(model, outs) if vecs else np.zeros(0)
        rows = []
        for v, s in zip(vecs, scores, strict=True):
            decisions = {k: "attack" if s >= thresholds[k] else "genuine" for k in THRESHOLD_KEYS}
            rows.append({**v.row(), "reference": {"attack_score": float(s), "decisions": decisions}})
        index = {
            "schema_version": 1,
            "model": model,
            "model_version": model_versions[model],
            "spec": json.loads(loaded.spec.to_json()),
            "spec_digest": loaded.spec.digest(),
            "attack_score": ATTACK_SCORE[model],
            "thresholds": thresholds,
            "config": golden.config.to_dict(),
            "generator": {"cardlive_version": __version__, "simulator_version": SIMULATOR_VERSION},
            "inputs": [
                {"name": "input_0", "shape": list(inputs.shape), "stored_dtype": "uint8", "runtime_dtype": "float32"}
            ],
            "outputs": [
                {"name": n, "shape": list(o.shape), "dtype": "float32"}
                for n, o in zip(OUTPUT_NAMES[model], outs, strict=True)
            ],
            "skipped": [s for s in golden.skipped if s.startswith(model + " ")],
            "vectors": rows,
        }
        problems = validate(index, "golden.schema.json")
        if problems:
            raise InputError(f"golden index for {model} does not match its schema: {problems[:3]}")
        (folder / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        written += [folder / "vectors.npz", folder / "index.json"]
    frames_dir = root / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for fr in golden.frames:
        (frames_dir / f"{fr.id}.jpg").write_bytes(fr.jpeg)
        written.append(frames_dir / f"{fr.id}.jpg")
        h, w = fr.rgb.shape[:2]
        row = {
            "id": fr.id,
            "path": f"frames/{fr.id}.jpg",
            "quad": [[float(x), float(y)] for x, y in fr.quad],
            "variant": fr.variant,
            "exif_orientation": fr.exif_orientation,
            "width": w,
            "height": h,
        }
        problems = validate(row, "golden.schema.json", "frame_row")
        if problems:
            raise InputError(f"golden frame row {fr.id} does not match its schema: {problems[:3]}")
        lines.append(json.dumps(row, sort_keys=True))
    (frames_dir / "quads.jsonl").write_text("".join(line + "\n" for line in lines))
    written.append(frames_dir / "quads.jsonl")
    specs = {m: loaded.spec for m, loaded in models.items()}
    written += write_preprocess_golden(root, golden.frames, specs)
    return written


@dataclass
class GoldenData:
    """One model's golden vectors as read back from a bundle."""

    index: dict[str, Any]
    inputs: NDArray[np.uint8]
    outputs: list[NDArray[np.float32]]

    @property
    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.index["vectors"]
        return rows

    @property
    def reference_scores(self) -> NDArray[np.float64]:
        return attack_scores(self.index["model"], self.outputs)

    def float_inputs(self, start: int = 0, stop: int | None = None) -> NDArray[np.float32]:
        return np.asarray(self.inputs[start:stop], dtype=np.float32)


def golden_models(bundle_dir: Path) -> list[str]:
    root = Path(bundle_dir) / "golden"
    return sorted(p.parent.name for p in root.glob("*/vectors.npz"))


def load_golden(bundle_dir: Path, model: str) -> GoldenData:
    """Read and schema-check golden/<model>; InputError naming the problem otherwise."""
    folder = Path(bundle_dir) / "golden" / model
    try:
        index = json.loads((folder / "index.json").read_text())
        with np.load(folder / "vectors.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read golden vectors of {model} in {folder}: {exc}") from None
    problems = validate(index, "golden.schema.json")
    if problems:
        raise InputError(f"{folder / 'index.json'} does not match golden.schema.json: {problems[:3]}")
    ids = [str(v) for v in arrays.get("ids", [])]
    if ids != [row["id"] for row in index["vectors"]]:
        raise InputError(f"{folder}: vectors.npz ids do not match index.json rows")
    n_out = len(index["outputs"])
    outputs = [np.asarray(arrays[f"output_{j}"], dtype=np.float32) for j in range(n_out)]
    return GoldenData(index, np.asarray(arrays["input_0"], dtype=np.uint8), outputs)


def read_frame_rows(bundle_dir: Path) -> list[dict[str, Any]]:
    path = Path(bundle_dir) / "golden" / "frames" / "quads.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _default_version() -> str:
    """The model version `cardlive export` gives weights whose card has none (quantize.bundle)."""
    try:
        from quantize.bundle import DEFAULT_MODEL_VERSION
    except ImportError:
        return "0.1.0"
    return str(DEFAULT_MODEL_VERSION)


def golden_hook(config: str | Any = "full", progress: bool = False) -> Any:
    """A `before_sign` hook for quantize.bundle.export_bundle: writes golden vectors before the manifest is signed."""

    def hook(bundle: Path) -> None:
        build_golden(bundle, config, progress=progress)

    return hook


def build_golden(
    bundle_dir: Path,
    config: str | Any = "full",
    model_versions: dict[str, str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Generate and write golden vectors for the models in BUNDLE/models/ (the entry point for `cardlive export`).

    config: a GoldenConfig or a preset name ("quick": ~20 vectors per model for tests; "full": > 512 vectors,
    ~2 minutes on 2 cores). model_versions default to the manifest's when one exists, else to each card's "version"
    (or "0.0.0"). Call quantize.manifest.resign_bundle afterwards when the bundle was already signed.
    """
    from conformance.golden import PRESETS, GoldenConfig, generate_golden
    from edge_models.weights import load_weights

    bundle = Path(bundle_dir)
    if isinstance(config, str):
        if config not in PRESETS:
            raise InputError(f"unknown golden preset {config!r}; expected one of {sorted(PRESETS)}")
        config = PRESETS[config]
    assert isinstance(config, GoldenConfig)
    names = [m for m in ("recapture", "ovd") if (bundle / "models" / m / f"{m}.pt").exists()]
    if not names:
        raise InputError(f"{bundle}/models holds no <model>/<model>.pt reference weights to make golden vectors from")
    models = {m: load_weights(bundle / "models" / m / f"{m}.pt") for m in names}
    if model_versions is None:
        manifest_path = bundle / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        model_versions = {
            m: str(manifest.get("models", {}).get(m, {}).get("version") or models[m].card.get("version", default))
            for m, default in ((m, _default_version()) for m in names)
        }
    golden = generate_golden(config, models, progress=progress)
    return write_golden(bundle, golden, models, model_versions)
