"""Card finder on synthetic and simulated frames, frame sources and their errors, `cardlive capture` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.pipeline.cardfinder import find_card
from edge_models.pipeline.quads import corner_error
from edge_models.pipeline.simframes import no_card_frame
from edge_models.pipeline.sources import read_frame_folder, read_video
from tests.pipeline_helpers import FRONTAL, synthetic_frame

TILTED = np.array([[300.0, 200.0], [900.0, 150.0], [960.0, 520.0], [330.0, 590.0]])


@pytest.mark.parametrize("quad", [FRONTAL, TILTED])
def test_card_finder_finds_the_card_and_its_upright_corner(quad: np.ndarray) -> None:
    found = find_card(synthetic_frame(quad))
    assert found is not None
    assert found.template_id == "tpl00"
    assert corner_error(found.quad, quad) < 0.005
    # the same card turned upside down: its upright top-left is now the frame's bottom-right corner
    upside_down = np.roll(quad, 2, axis=0)
    flipped = synthetic_frame(upside_down)
    turned = find_card(flipped)
    assert turned is not None
    assert corner_error(turned.quad, upside_down) < 0.005


def test_card_finder_reports_no_card_on_an_empty_desk() -> None:
    assert find_card(synthetic_frame(FRONTAL)[:, :, :] * 0 + 60) is None
    assert find_card(no_card_frame(5, 3)) is None


def test_card_finder_on_simulated_frames(tiny_set: Path) -> None:
    rows = [json.loads(line) for line in (tiny_set / "index.jsonl").read_text().splitlines()]
    errors = []
    for row in rows:
        frame = np.asarray(Image.open(tiny_set / row["path"]).convert("RGB"))
        found = find_card(frame)
        errors.append(corner_error(found.quad, np.asarray(row["quad"])) if found else np.inf)
    within = np.array(errors) <= 0.015
    assert within.sum() >= len(rows) // 2, errors
    # every found card is the right one in the right orientation (a flipped or wrong quad is far off)
    assert all(e <= 0.05 or not np.isfinite(e) for e in errors), errors


def test_frame_sources_refuse_bad_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        read_frame_folder(empty)
    with pytest.raises(InputError, match="not a folder"):
        read_frame_folder(tmp_path / "missing")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (96, 80)).save(mixed / "a.png")
    Image.new("RGB", (80, 96)).save(mixed / "b.png")
    with pytest.raises(InputError, match="same size"):
        read_frame_folder(mixed)
    garbage = tmp_path / "clip.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InputError, match="video"):
        read_video(garbage)
    with pytest.raises(InputError, match="does not exist"):
        read_video(tmp_path / "none.mp4")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 4-frame genuine tilt sequence from the simulator, written as an MJPG .avi."""
    from capture_sim.capture import SimConfig, render_capture

    capture = render_capture(SimConfig(seed=11, species=("genuine",), frames=4), 0)
    path = tmp_path_factory.mktemp("clip") / "capture.avi"
    h, w = capture.frames[0].rgb.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    for frame in capture.frames:
        writer.write(np.ascontiguousarray(frame.rgb[..., ::-1]))
    writer.release()
    return path, len(capture.frames)


def test_capture_runs_end_to_end_on_a_video(
    clip: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, n = clip
    preview = tmp_path / "preview.gif"
    assert main(["capture", "--video", str(path), "--json", "--preview", str(preview)]) == 0
    out = capsys.readouterr().out.splitlines()
    doc = json.loads(out[0])
    assert doc["outcome"] in ("accept", "reject", "retry")
    assert doc["message"]
    assert len(doc["frames"]) == n
    assert {"gates", "quad", "scores", "attack_score", "index"} <= set(doc["frames"][0])
    assert set(doc["thresholds"]) == {"recapture", "ovd"}
    assert doc["model"]["name"] == "recapture"
    if doc["outcome"] != "retry":
        assert doc["fused"]["attack_score"] is not None
    with Image.open(preview) as gif:
        assert gif.n_frames == n


def test_capture_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", "--frames", str(tmp_path)]) == 3
    assert "no images" in capsys.readouterr().err
    assert main(["capture"]) == 2
    assert "exactly one" in capsys.readouterr().err
    bad = tmp_path / "x.avi"
    bad.write_bytes(b"\x00" * 1000)
    assert main(["capture", "--video", str(bad)]) == 3
    assert "video" in capsys.readouterr().err


def test_frame_folder_skips_the_simulators_mask_files(tmp_path: Path) -> None:
    for name in ("frame_00.png", "frame_01.png", "ovd_00.png", "glare_00.png"):
        Image.new("RGB", (96, 80)).save(tmp_path / name)
    _, names = read_frame_folder(tmp_path)
    assert names == ["frame_00.png", "frame_01.png"]
