"""Writing simulated captures to a folder: images, masks and `index.jsonl`, one row per capture.

Layout of DIR:
    simulate.json            the configuration, simulator version and status ("incomplete" until the end)
    captures/NNNNNN/frame_TT.jpg, ovd_TT.png, glare_TT.png
    rows.partial.jsonl       one row per finished capture, appended as they finish (a journal for --resume)
    index.jsonl              written last, atomically: its presence means the set is complete

A run that stops (crash, Ctrl-C, a killed machine) keeps its journal; `simulate(..., resume=True)` re-reads it, checks
that the configuration is the same, and renders only the captures it lacks. Captures are a pure function of
(config, index), so a resumed set is byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from capture_sim.capture import SIMULATOR_VERSION, Capture, SimConfig, render_capture
from capture_sim.validation import check_int_range
from cardlive.errors import InputError, OutputError, SimulationError

MANIFEST = "simulate.json"
INDEX = "index.jsonl"
JOURNAL = "rows.partial.jsonl"


def prepare_output(out: Path, overwrite: bool) -> None:
    """Create an empty output folder; refuse a non-empty one unless it holds an earlier simulation and overwrite."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"{out} is not empty; choose an empty folder or pass --overwrite")
        if not (out / MANIFEST).exists():
            raise OutputError(
                f"{out} is not empty and holds no {MANIFEST}: refusing to delete files the simulator did not write"
            )
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {out}: {exc.strerror or exc}") from None


def _write_png(path: Path, mask: np.ndarray) -> None:
    if not cv2.imwrite(str(path), mask):
        raise OutputError(f"could not write {path}")


def capture_row(capture: Capture, config: SimConfig, out: Path) -> dict[str, Any]:
    """Write a capture's files under out/captures/ and return its index row."""
    folder = Path("captures") / f"{capture.index:06d}"
    (out / folder).mkdir(parents=True, exist_ok=True)
    paths, ovd, glare, quads = [], [], [], []
    for t, frame in enumerate(capture.frames):
        paths.append(str(folder / f"frame_{t:02d}.jpg"))
        (out / paths[-1]).write_bytes(frame.jpeg)
        ovd.append(str(folder / f"ovd_{t:02d}.png"))
        _write_png(out / ovd[-1], frame.ovd_mask)
        glare.append(str(folder / f"glare_{t:02d}.png"))
        _write_png(out / glare[-1], frame.glare_mask)
        quads.append(np.round(frame.quad, 3).tolist())
    single = config.frames == 1
    height, width = capture.scene.height, capture.scene.width
    return {
        "id": f"{config.seed}-{capture.index}",
        "seed": config.seed,
        "index": capture.index,
        "frames": config.frames,
        "path": paths[0] if single else paths,
        "label": capture.label,
        "species": capture.species,
        "template_id": capture.scene.template_id,
        "pair_id": capture.pair_id,
        "width": width,
        "height": height,
        "quad": quads[0] if single else quads,
        "ovd_mask": ovd[0] if single else ovd,
        "glare_mask": glare[0] if single else glare,
        "params": capture.params(),
    }


_WORKER_STATE: dict[str, Any] = {}


def _init_worker(config: SimConfig, out: Path) -> None:
    cv2.setNumThreads(1)
    _WORKER_STATE["config"] = config
    _WORKER_STATE["out"] = out


def _work(index: int) -> dict[str, Any]:
    config: SimConfig = _WORKER_STATE["config"]
    out: Path = _WORKER_STATE["out"]
    return capture_row(render_capture(config, index), config, out)


def _rows(config: SimConfig, out: Path, todo: list[int], workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1:
        _init_worker(config, out)
        for index in todo:
            yield _work(index)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(config, out)) as pool:
        yield from pool.imap_unordered(_work, todo, chunksize=1)


def _journaled_rows(out: Path, manifest: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Rows an interrupted run of the same configuration already finished (its journal), by capture index."""
    if not (out / MANIFEST).exists():
        raise InputError(f"--resume: {out} holds no {MANIFEST}, so there is no interrupted simulation to resume")
    earlier = json.loads((out / MANIFEST).read_text())
    if earlier.get("status") == "complete":
        raise InputError(f"--resume: the simulation in {out} is already complete")
    if {k: earlier.get(k) for k in ("simulator_version", "config", "n")} != {
        k: manifest[k] for k in ("simulator_version", "config", "n")
    }:
        raise InputError(
            f"--resume: {out} was simulated with another configuration, n or simulator version "
            f"({earlier.get('config')}, n={earlier.get('n')}); start a new folder or pass --overwrite"
        )
    rows: dict[int, dict[str, Any]] = {}
    journal = out / JOURNAL
    lines = journal.read_text().splitlines() if journal.exists() else []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written when the run stopped
        if all((out / p).exists() for p in _files_of(row)):
            rows[int(row["index"])] = row
    return rows


def _files_of(row: dict[str, Any]) -> list[str]:
    files = [row[key] for key in ("path", "ovd_mask", "glare_mask")]
    return [p for entry in files for p in ([entry] if isinstance(entry, str) else entry)]


def simulate(
    out: Path,
    n: int,
    config: SimConfig,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    resume: bool = False,
) -> Path:
    """Render n captures into `out`; returns the path of index.jsonl (written only when all succeeded).

    `resume` continues an interrupted run of the same configuration in `out`, rendering only what its journal lacks.
    """
    check_int_range("n", n, 1, 10_000_000)
    check_int_range("workers", workers, 1, max(1, os.cpu_count() or 1) * 4)
    if resume and overwrite:
        raise InputError("--resume keeps an interrupted simulation and --overwrite deletes it: give one of them")
    manifest = {
        "simulator_version": SIMULATOR_VERSION,
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "n": n,
        "status": "incomplete",
    }
    if resume:
        rows = _journaled_rows(out, manifest)
    else:
        prepare_output(out, overwrite)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
        rows = {}
    todo = [index for index in range(n) if index not in rows]
    try:
        bar = tqdm(total=n, initial=len(rows), desc="simulate", unit="capture", disable=not progress)
        with (out / JOURNAL).open("a") as journal:
            for row in _rows(config, out, todo, workers):
                rows[row["index"]] = row
                journal.write(json.dumps(row) + "\n")
                journal.flush()
                bar.update(1)
        bar.close()
    except (KeyboardInterrupt, Exception) as exc:
        if isinstance(exc, OutputError):
            raise
        raise SimulationError(
            f"simulation stopped after {len(rows)} of {n} captures: {exc}; {out} is incomplete "
            "(no index.jsonl was written; `--resume` continues it)"
        ) from exc
    tmp = out / (INDEX + ".partial")
    with tmp.open("w") as fh:
        for index in range(n):
            fh.write(json.dumps(rows[index]) + "\n")
    tmp.replace(out / INDEX)
    (out / JOURNAL).unlink(missing_ok=True)
    manifest["status"] = "complete"
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return out / INDEX


def read_index(folder: Path) -> list[dict[str, Any]]:
    """Rows of a completed simulation folder."""
    path = folder / INDEX
    if not path.exists():
        raise InputError(f"{path} does not exist: the folder holds no completed simulation")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
