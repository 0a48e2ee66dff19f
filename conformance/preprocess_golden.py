"""Preprocessing golden vectors and `cardlive conform-preprocess`: native preprocessing vs the reference, byte by byte.

Bundle side (written with the golden vectors): BUNDLE/golden/preprocess/
    index.json     specs per model, which outputs are expected, the tolerance per output, one row per stored frame
                   (id, frame file, upright quad, patch origins after clamping, clamped flags)
    expected.npz   "<frame_id>/recapture/patches" (K, P, P, 3) uint8, "<frame_id>/recapture/global_view" (h, w, 3),
                   "<frame_id>/ovd/global_view" (80, 128, 3): the reference outputs of `edge_models.preprocess` for
                   the decoded (EXIF-applied) frame in golden/frames/.
Candidate side (what an app's test harness dumps): DIR/<frame_id>/<model>.<output>.bin, the raw uint8 bytes in
row-major (C) order of the expected shape, RGB (e.g. DIR/laser_am-p0-genuine-t0-base/recapture.patches.bin holds
K*P*P*3 bytes, patch by patch, row by row, pixel by pixel); `.npy` files are accepted instead of `.bin`.
Tolerances: patches are integer crops and must be bit-identical (0); the global view is resampled and may differ by
1 level (the contract's bound for OpenCV's fixed-point bilinear vs the exact float64 formula).
The first difference is reported as (patch k, row, column, channel, expected, got) so a port can be fixed at once.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError
from edge_models.preprocess import InputSpec, global_view, preprocess

TOLERANCE = {"patches": 0, "global_view": 1}
OUTPUTS = {"recapture": ("patches", "global_view"), "ovd": ("global_view",)}


def _expected_for(rgb: NDArray[np.uint8], quad: NDArray[np.float64], model: str, spec: InputSpec) -> dict[str, Any]:
    if model == "recapture":
        pre = preprocess(rgb, quad, spec)
        return {
            "patches": pre.patches,
            "global_view": pre.global_view,
            "origins": pre.patch_origins,
            "clamped": pre.clamped,
        }
    return {"global_view": global_view(rgb, quad, spec)}


def write_preprocess_golden(golden_root: Path, frames: list[Any], specs: dict[str, InputSpec]) -> list[Path]:
    """Write golden/preprocess/ for the stored frames (conformance.golden.StoredFrame); returns the files."""
    folder = Path(golden_root) / "preprocess"
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, NDArray[Any]] = {}
    rows = []
    for fr in frames:
        row: dict[str, Any] = {
            "id": fr.id,
            "frame": f"frames/{fr.id}.jpg",
            "quad": [[float(x), float(y)] for x, y in fr.quad],
        }
        for model, spec in specs.items():
            out = _expected_for(fr.rgb, fr.quad, model, spec)
            for name in OUTPUTS[model]:
                arrays[f"{fr.id}/{model}/{name}"] = out[name]
            if "origins" in out:
                row["patch_origins"] = out["origins"].tolist()
                row["clamped"] = [bool(c) for c in out["clamped"]]
        rows.append(row)
    index = {
        "schema_version": 1,
        "specs": {m: json.loads(s.to_json()) for m, s in specs.items()},
        "outputs": {m: list(OUTPUTS[m]) for m in specs},
        "tolerance": TOLERANCE,
        "candidate_layout": "DIR/<frame_id>/<model>.<output>.bin (raw uint8, C order, RGB) or .npy",
        "frames": rows,
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    (folder / "expected.npz").write_bytes(buf.getvalue())
    (folder / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return [folder / "expected.npz", folder / "index.json"]


@dataclass(frozen=True)
class PreprocessCheck:
    frame: str
    model: str
    output: str
    passed: bool
    max_abs: int | None
    n_diff: int
    message: str


def _read_candidate(folder: Path, model: str, name: str, shape: tuple[int, ...]) -> NDArray[np.uint8] | str:
    npy, raw = folder / f"{model}.{name}.npy", folder / f"{model}.{name}.bin"
    if npy.exists():
        try:
            arr = np.load(npy, allow_pickle=False)
        except ValueError as exc:
            return f"unreadable {npy.name}: {exc}"
        if arr.dtype != np.uint8:
            return f"dtype {arr.dtype}, expected uint8"
        return np.asarray(arr)
    if raw.exists():
        data = raw.read_bytes()
        size = int(np.prod(shape))
        if len(data) != size:
            return f"{raw.name} holds {len(data)} bytes, expected {size} = {' x '.join(map(str, shape))} uint8"
        return np.frombuffer(data, dtype=np.uint8).reshape(shape)
    return f"missing: expected {raw.name} (or .npy) in {folder}"


def _locate(output: str, index: tuple[int, ...]) -> str:
    if output == "patches":
        k, r, c, ch = index
        return f"patch {k}, row {r}, column {c}, channel {'RGB'[ch]}"
    r, c, ch = index
    return f"row {r}, column {c}, channel {'RGB'[ch]}"


def compare_tensor(frame: str, model: str, output: str, expected: NDArray[np.uint8], got: Any) -> PreprocessCheck:
    """dtype, then shape, then values; reports the first element over tolerance and the size of the difference."""
    if isinstance(got, str):
        return PreprocessCheck(frame, model, output, False, None, -1, got)
    if got.shape != expected.shape:
        return PreprocessCheck(
            frame, model, output, False, None, -1, f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        )
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    tol = TOLERANCE[output]
    over = np.argwhere(diff > tol)
    max_abs, n_diff = int(diff.max(initial=0)), int(np.count_nonzero(diff))
    if len(over) == 0:
        return PreprocessCheck(
            frame, model, output, True, max_abs, n_diff, f"max |diff| {max_abs} <= {tol} ({n_diff} values differ)"
        )
    first = tuple(int(v) for v in over[0])
    return PreprocessCheck(
        frame,
        model,
        output,
        False,
        max_abs,
        n_diff,
        f"first difference over {tol} at {_locate(output, first)}: expected {int(expected[first])}, got "
        f"{int(got[first])}; max |diff| {max_abs}, {len(over)} values over tolerance, {n_diff} differ",
    )


def check_candidate(bundle_dir: Path, candidate: Path) -> list[PreprocessCheck]:
    """Compare every expected preprocessing output with the candidate's dump."""
    folder = Path(bundle_dir) / "golden" / "preprocess"
    if not (folder / "index.json").exists():
        raise InputError(f"{folder} holds no preprocessing golden vectors; export the bundle with golden vectors")
    if not Path(candidate).is_dir():
        raise InputError(
            f"candidate {candidate} is not a folder of dumped tensors (DIR/<frame_id>/<model>.<output>.bin)"
        )
    index = json.loads((folder / "index.json").read_text())
    checks = []
    with np.load(folder / "expected.npz", allow_pickle=False) as npz:
        for row in index["frames"]:
            for model, outputs in index["outputs"].items():
                for name in outputs:
                    expected = np.asarray(npz[f"{row['id']}/{model}/{name}"])
                    got = _read_candidate(Path(candidate) / row["id"], model, name, expected.shape)
                    checks.append(compare_tensor(row["id"], model, name, expected, got))
    return checks


def dump_reference(bundle_dir: Path, out: Path, fmt: str = "bin") -> int:
    """Write the reference implementation's outputs in the candidate layout (an example for app harnesses);
    recomputed from the stored frames with this machine's decoder and OpenCV. Returns the number of files."""
    from edge_models.images import load_rgb

    folder = Path(bundle_dir) / "golden" / "preprocess"
    index = json.loads((folder / "index.json").read_text())
    specs = {m: InputSpec.from_json(json.dumps(s)) for m, s in index["specs"].items()}
    count = 0
    for row in index["frames"]:
        rgb = load_rgb(Path(bundle_dir) / "golden" / row["frame"])
        target = Path(out) / row["id"]
        target.mkdir(parents=True, exist_ok=True)
        for model, spec in specs.items():
            result = _expected_for(rgb, np.asarray(row["quad"], dtype=np.float64), model, spec)
            for name in index["outputs"][model]:
                arr = np.ascontiguousarray(result[name])
                if fmt == "npy":
                    np.save(target / f"{model}.{name}.npy", arr)
                else:
                    (target / f"{model}.{name}.bin").write_bytes(arr.tobytes())
                count += 1
    return count
