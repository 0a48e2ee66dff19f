"""Dataset loaders: records from tiny on-disk fixtures in each layout, row validation, group-keeping splits."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cardlive.errors import InputError, ParameterError
from edge_models.datasets import (
    CaptureRecord,
    SequenceRecord,
    load_dlc2021,
    load_dlc2021_clips,
    load_midv_holo,
    read_index_folder,
    split_by_group,
)
from tests.dataset_fixtures import (
    DLC_ANNOTATED,
    DLC_CLIPS,
    DLC_FRAMES,
    MIDV_FRAMES,
    frame_quad,
    make_dlc2021,
    make_midv_holo,
    make_sim_folder,
    write_index,
    write_jpeg,
)

REPO = Path(__file__).resolve().parents[1]


def as_quad(points: list[list[float]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in points)


def clockwise_from_top_left(quad: Sequence[tuple[float, float]]) -> bool:
    """True when the corners run clockwise on screen (y down) and the first is the top-left-most one."""
    area2 = sum(quad[i][0] * quad[(i + 1) % 4][1] - quad[(i + 1) % 4][0] * quad[i][1] for i in range(4))
    first = min(range(4), key=lambda i: quad[i][0] + quad[i][1])
    return area2 > 0 and first == 0


def straddling_groups(splits: Sequence[Sequence[Any]], group_of: Any = lambda r: r.group) -> set[str]:
    """Groups whose records appear in more than one split."""
    seen: dict[str, set[int]] = {}
    for k, split in enumerate(splits):
        for r in split:
            seen.setdefault(group_of(r), set()).add(k)
    return {g for g, ks in seen.items() if len(ks) > 1}


# --- DLC-2021 -------------------------------------------------------------------------------------------------


def test_dlc2021_frames_get_labels_species_groups_and_quads(tmp_path: Path) -> None:
    records = load_dlc2021(make_dlc2021(tmp_path))
    n_clips = sum(len(c) for c in DLC_CLIPS.values())
    assert len(records) == n_clips * len(DLC_FRAMES)
    by_clip = {(r.group, r.extra["clip"]): r for r in records if r.path.name == "000001.jpg"}
    assert (by_clip["alb_id", "00.or0001"].label, by_clip["alb_id", "00.or0001"].species) == ("genuine", "genuine")
    assert (by_clip["alb_id", "00.cc0001"].label, by_clip["alb_id", "00.cc0001"].species) == (
        "print",
        "dlc_color_copy",
    )
    assert (by_clip["esp_id", "00.cg0001"].label, by_clip["esp_id", "00.cg0001"].species) == ("print", "dlc_grey_copy")
    assert (by_clip["alb_id", "01.re0002"].label, by_clip["alb_id", "01.re0002"].species) == (
        "screen",
        "dlc_screen_recapture",
    )
    assert by_clip["alb_id", "01.re0002"].extra["document"] == "01"
    assert {r.group for r in records} == set(DLC_CLIPS)
    assert all(r.source == "dlc2021" and r.path.is_file() for r in records)
    for r in records:
        doc = list(DLC_CLIPS).index(r.group)
        if r.path.name in DLC_ANNOTATED:
            assert r.quad == as_quad(frame_quad(DLC_FRAMES.index(r.path.name), doc))
            assert r.quad is not None
            assert clockwise_from_top_left(r.quad)
        else:
            assert r.quad is None
    annotated = load_dlc2021(tmp_path, annotated_only=True)
    assert len(annotated) == n_clips * len(DLC_ANNOTATED)
    assert all(r.quad is not None for r in annotated)


def test_dlc2021_clips_are_sequences_in_time_order(tmp_path: Path) -> None:
    clips = load_dlc2021_clips(make_dlc2021(tmp_path / "clips_root"))
    assert len(clips) == 5
    clip = next(c for c in clips if c.extra["clip"] == "00.cg0001")
    assert [p.name for p in clip.paths] == list(DLC_FRAMES)
    assert clip.quads is not None
    assert clip.quads[1] is None
    assert clip.quads[2] == as_quad(frame_quad(2, 1))
    assert clip.ovd_masks == (None, None, None)
    assert (clip.label, clip.species, clip.group) == ("print", "dlc_grey_copy", "esp_id")


def test_dlc2021_accepts_the_clips_folder_itself_and_frames_without_annotation(tmp_path: Path) -> None:
    root = make_dlc2021(tmp_path)
    shutil.rmtree(root / "clips" / "annotations" / "esp_id")
    records = load_dlc2021(root / "clips")
    assert {r.quad is None for r in records if r.group == "esp_id"} == {True}
    clips = load_dlc2021_clips(root)
    assert all(c.quads is None for c in clips if c.group == "esp_id")


def test_dlc2021_bad_polygon_names_the_file_and_entry(tmp_path: Path) -> None:
    root = make_dlc2021(tmp_path)
    ann = root / "clips" / "annotations" / "alb_id" / "00.cc0001.json"
    data = json.loads(ann.read_text())
    entry = next(iter(data["_via_img_metadata"].values()))
    entry["regions"][0]["shape_attributes"]["all_points_x"] = [1, 2, 3]
    ann.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"00\.cc0001\.json.*regions\[0\].*4 numbers"):
        load_dlc2021(root)


def test_dlc2021_unknown_clip_type_is_refused(tmp_path: Path) -> None:
    root = make_dlc2021(tmp_path)
    write_jpeg(root / "clips" / "images" / "alb_id" / "00.xx0001" / "000001.jpg")
    with pytest.raises(InputError, match=r"00\.xx0001.*unknown clip type 'xx'"):
        load_dlc2021(root)


def test_dlc2021_missing_images_folder_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"expected .*clips/images"):
        load_dlc2021(tmp_path)


# --- MIDV-Holo ------------------------------------------------------------------------------------------------


def test_midv_holo_clips_get_labels_species_groups_and_quads(tmp_path: Path) -> None:
    root = make_midv_holo(tmp_path)
    records = load_midv_holo(root)
    kinds = sorted((r.extra["type"], r.extra["clip"]) for r in records)
    assert kinds == [
        ("copy_without_holo", "psp01_01_01"),
        ("origins", "psp01_01_01"),
        ("origins", "psp01_01_02"),
        ("origins", "psp02_01_01"),
        ("photo_holo_copy", "psp02_01_01"),
    ]  # photo_replacement is left out by default
    for r in records:
        genuine = r.extra["type"] == "origins"
        assert r.label == ("genuine" if genuine else "print")
        assert r.species == ("genuine" if genuine else f"midv_{r.extra['type']}")
        assert r.group == r.extra["clip"][:5]
        assert r.source == "midv_holo"
        assert [p.name for p in r.paths] == list(MIDV_FRAMES)
        template = int(r.group[3:])
        assert r.quads == tuple(as_quad(frame_quad(t, template)) for t in range(3))
        assert all(q is not None and clockwise_from_top_left(q) for q in r.quads)
        assert r.ovd_masks == (None, None, None)
        assert r.extra["hologram_mask_template"] == str(root / "templates/hologram_masks/passport_hologram_mask.png")
    first = next(r for r in records if r.extra["type"] == "origins" and r.extra["clip"] == "psp01_01_01")
    assert (first.extra["lighting"], first.extra["device"]) == ("D", "Samsung Galaxy S10")


def test_midv_holo_photo_replacement_only_when_given_a_label(tmp_path: Path) -> None:
    records = load_midv_holo(make_midv_holo(tmp_path), photo_replacement_label="print")
    replaced = [r for r in records if r.extra["type"] == "photo_replacement"]
    assert [(r.label, r.species, r.group) for r in replaced] == [("print", "midv_photo_replacement", "psp02")]
    with pytest.raises(InputError, match="photo_replacement_label"):
        load_midv_holo(tmp_path, photo_replacement_label="fake")


def test_midv_holo_bad_markup_names_the_file(tmp_path: Path) -> None:
    root = make_midv_holo(tmp_path)
    markup = root / "markup/origins/passport/psp01_01_02/img_0002.jpg.json"
    data = json.loads(markup.read_text())
    next(iter(data["document"]["templates"].values()))["template_quad"] = [[1, 2], [3, 4]]
    markup.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"psp01_01_02/img_0002\.jpg\.json.*template_quad.*4 \[x, y\]"):
        load_midv_holo(root)


def test_midv_holo_frame_without_markup_gets_no_quad(tmp_path: Path) -> None:
    root = make_midv_holo(tmp_path)
    (root / "markup/origins/passport/psp02_01_01/img_0001.jpg.json").unlink()
    record = next(r for r in load_midv_holo(root) if r.extra["type"] == "origins" and r.group == "psp02")
    assert record.quads is not None
    assert record.quads[0] is None
    assert record.quads[1] is not None


# --- index.jsonl ----------------------------------------------------------------------------------------------


def capture_row_fields() -> list[str]:
    """The keys capture_sim.dataset.capture_row writes, read from its source (no simulator run)."""
    tree = ast.parse((REPO / "capture_sim" / "dataset.py").read_text())
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "capture_row")
    ret = next(n for n in ast.walk(func) if isinstance(n, ast.Return) and isinstance(n.value, ast.Dict))
    assert isinstance(ret.value, ast.Dict)
    return [str(k.value) for k in ret.value.keys if isinstance(k, ast.Constant)]


def test_fixture_rows_have_the_fields_the_simulator_writes(tmp_path: Path) -> None:
    rows = make_sim_folder(tmp_path)
    assert list(rows[0]) == capture_row_fields()


def test_simulated_single_frames_round_trip(tmp_path: Path) -> None:
    rows = make_sim_folder(tmp_path)
    records = read_index_folder(tmp_path)
    assert [type(r) for r in records] == [CaptureRecord] * 3
    for row, r in zip(rows, records, strict=True):
        assert isinstance(r, CaptureRecord)
        assert r.path == tmp_path.resolve() / row["path"]
        assert r.path.is_file()
        assert (r.label, r.species, r.source) == (row["label"], row["species"], "cardlive_sim")
        assert r.quad == as_quad(row["quad"])
        assert r.group == f"sim-7-pair-{row['pair_id']}"
        assert r.extra["ovd_mask"] == str(tmp_path.resolve() / row["ovd_mask"])
        assert {k: r.extra[k] for k in ("id", "seed", "index", "template_id", "params")} == {
            k: row[k] for k in ("id", "seed", "index", "template_id", "params")
        }
    assert records[0].group == records[1].group != records[2].group  # paired variants share a group


def test_simulated_sequences_round_trip(tmp_path: Path) -> None:
    rows = make_sim_folder(tmp_path, frames=3)
    records = read_index_folder(tmp_path)
    assert [type(r) for r in records] == [SequenceRecord] * 3
    for row, r in zip(rows, records, strict=True):
        assert isinstance(r, SequenceRecord)
        assert r.paths == tuple(tmp_path.resolve() / p for p in row["path"])
        assert r.quads == tuple(as_quad(q) for q in row["quad"])
        assert r.ovd_masks == tuple(tmp_path.resolve() / m for m in row["ovd_mask"])
        assert r.extra["glare_masks"] == [str(tmp_path.resolve() / m) for m in row["glare_mask"]]


def test_user_folder_with_minimal_rows(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "seq/0.jpg", "seq/1.jpg"):
        write_jpeg(tmp_path / name)
    rows: list[dict[str, Any]] = [
        {"path": "a.jpg", "label": "genuine"},
        {"path": "b.jpg", "label": "screen", "species": "my_tv", "quad": frame_quad(0), "group": "card-1", "note": 3},
        {"path": ["seq/0.jpg", "seq/1.jpg"], "label": "print", "quad": [frame_quad(0), None]},
    ]
    write_index(tmp_path, rows)
    a, b, seq = read_index_folder(tmp_path)
    assert isinstance(a, CaptureRecord)
    assert isinstance(b, CaptureRecord)
    assert isinstance(seq, SequenceRecord)
    assert (a.label, a.species, a.quad, a.source, a.group) == ("genuine", "genuine", None, "user_folder", "user:a.jpg")
    assert (b.species, b.group, b.quad, b.extra) == ("my_tv", "card-1", as_quad(frame_quad(0)), {"note": 3})
    assert (seq.species, seq.quads, seq.ovd_masks) == ("unspecified", (as_quad(frame_quad(0)), None), (None, None))


BAD_ROWS = [
    ({"path": "a.jpg"}, r"missing field\(s\) \['label'\]"),
    ({"path": "a.jpg", "label": "fake"}, r"'label' = 'fake' is not one of \['genuine', 'screen', 'print'\]"),
    ({"path": "a.jpg", "label": "genuine", "quad": [[0, 0], [1, 0], [1, 1]]}, r"'quad'.*4 \[x, y\] points"),
    ({"path": "a.jpg", "label": "genuine", "quad": [[0, 0], [1, 0], [1, "x"], [0, 1]]}, r"'quad'.*point 2"),
    ({"path": "missing.jpg", "label": "genuine"}, r"'path' = 'missing\.jpg'.*does not exist"),
    ({"path": "../../etc/passwd", "label": "genuine"}, r"'path' = '\.\./\.\./etc/passwd' points outside the folder"),
    ({"path": "sub/../../a.jpg", "label": "genuine"}, r"'path' = 'sub/\.\./\.\./a\.jpg' points outside"),
    ({"path": "/etc/passwd", "label": "genuine"}, r"'path' = '/etc/passwd' is absolute"),
    ({"path": 5, "label": "genuine"}, r"'path' must be a path string"),
    (["a.jpg", "genuine"], r"expected a JSON object, got list"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_ROWS)
def test_malformed_user_rows_name_file_line_and_problem(tmp_path: Path, bad: Any, message: str) -> None:
    write_jpeg(tmp_path / "a.jpg")
    write_index(tmp_path, [{"path": "a.jpg", "label": "genuine"}, bad])
    with pytest.raises(InputError, match=r"index\.jsonl:2: (field )?" + message):
        read_index_folder(tmp_path)


def test_malformed_simulated_rows_name_file_line_and_problem(tmp_path: Path) -> None:
    rows = make_sim_folder(tmp_path, frames=3)
    cases: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in rows[1].items() if k != "pair_id"}, r"missing field\(s\) \['pair_id'\]"),
        ({**rows[1], "path": rows[1]["path"][0]}, r"'path' must be a list of 3 entries \(frames = 3\), got str"),
        ({**rows[1], "quad": rows[1]["quad"][:2]}, r"'quad' must be a list of 3 entries.*list of 2"),
        ({**rows[1], "quad": [rows[1]["quad"][0], [[0, 0]] * 4, [1]]}, r"'quad\[2\]': quad must be a list of 4"),
        ({**rows[1], "ovd_mask": ["../x.png"] * 3}, r"'ovd_mask\[0\]' = '\.\./x\.png' points outside"),
        ({**rows[1], "frames": 0}, r"'frames' must be at least 1"),
        ({**rows[1], "label": "replay"}, r"'label' = 'replay' is not one of"),
    ]
    for bad, message in cases:
        write_index(tmp_path, [rows[0], bad, rows[2]])
        with pytest.raises(InputError, match=r"index\.jsonl:2: (field )?" + message):
            read_index_folder(tmp_path)


def test_index_file_problems(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        read_index_folder(tmp_path / "nope")
    (tmp_path / "simulate.json").write_text("{}")
    with pytest.raises(InputError, match=r"index\.jsonl does not exist.*did not complete"):
        read_index_folder(tmp_path)
    (tmp_path / "index.jsonl").write_text('{"path": "a.jpg",\n')
    with pytest.raises(InputError, match=r"index\.jsonl:1: not valid JSON"):
        read_index_folder(tmp_path)
    (tmp_path / "index.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="holds no rows"):
        read_index_folder(tmp_path)


def test_check_files_false_skips_existence_but_not_containment(tmp_path: Path) -> None:
    write_index(tmp_path, [{"path": "later.jpg", "label": "print"}])
    (record,) = read_index_folder(tmp_path, check_files=False)
    assert isinstance(record, CaptureRecord)
    assert record.path.name == "later.jpg"
    assert not record.path.exists()
    write_index(tmp_path, [{"path": "../later.jpg", "label": "print"}])
    with pytest.raises(InputError, match="outside the folder"):
        read_index_folder(tmp_path, check_files=False)


# --- records and splits ---------------------------------------------------------------------------------------


def test_records_validate_their_fields() -> None:
    with pytest.raises(ParameterError, match="label='fake'"):
        CaptureRecord(Path("a.jpg"), "fake", "genuine", None, "s", "g")
    with pytest.raises(ParameterError, match="group=''"):
        CaptureRecord(Path("a.jpg"), "genuine", "genuine", None, "s", "")
    with pytest.raises(ParameterError, match="quads has 1 entries for 2 frames"):
        SequenceRecord((Path("a"), Path("b")), (None,), (None, None), "genuine", "genuine", "s", "g")
    with pytest.raises(ValueError, match="4 \\[x, y\\] points"):
        CaptureRecord(Path("a.jpg"), "genuine", "genuine", ((0, 0),), "s", "g")  # type: ignore[arg-type]
    record = CaptureRecord(Path("a.jpg"), "genuine", "genuine", None, "s", "g", {"k": [1]})
    assert hash(record) == hash(dataclasses.replace(record, extra={}))


def frames_of(groups: int, per_group: int = 3) -> list[CaptureRecord]:
    return [
        CaptureRecord(Path(f"g{g}/f{t}.jpg"), "genuine", "genuine", None, "test", f"g{g}")
        for g in range(groups)
        for t in range(per_group)
    ]


def test_split_by_group_keeps_groups_whole_and_is_deterministic() -> None:
    records = frames_of(20)
    splits = split_by_group(records, (0.8, 0.1, 0.1), seed=3)
    assert straddling_groups(splits) == set()
    assert [len({r.group for r in s}) for s in splits] == [16, 2, 2]
    assert sorted(r.path for s in splits for r in s) == sorted(r.path for r in records)
    assert splits == split_by_group(list(records), (0.8, 0.1, 0.1), seed=3)
    assert splits == split_by_group(list(reversed(records))[::-1], seed=3)
    assert any(split_by_group(records, seed=s)[2] != splits[2] for s in range(4, 10))  # the seed matters


def test_a_split_by_frame_straddles_groups_and_the_check_sees_it() -> None:
    """Negative control: splitting frames instead of groups puts frames of one clip in several splits."""
    records = frames_of(10)
    by_frame = [dataclasses.replace(r, group=str(r.path)) for r in records]
    splits = split_by_group(by_frame, seed=0)
    clip_of = {str(r.path): r.group for r in records}
    assert straddling_groups(splits, lambda r: clip_of[r.group])  # frames of some clip straddle splits
    assert straddling_groups(split_by_group(records, seed=0)) == set()


def test_split_by_group_on_few_groups_and_on_loaded_records(tmp_path: Path) -> None:
    assert [len(s) for s in split_by_group(frames_of(3), seed=1)] == [3, 3, 3]  # every split gets a group
    assert [len(s) for s in split_by_group(frames_of(1), seed=1)] == [3, 0, 0]
    assert [len(s) for s in split_by_group(frames_of(4), (1.0, 0.0, 0.0), seed=1)] == [12, 0, 0]
    train, val, test = split_by_group(load_dlc2021(make_dlc2021(tmp_path)), (0.5, 0.5, 0.0), seed=0)
    assert {r.group for r in train}.isdisjoint({r.group for r in val})
    assert len(train)
    assert len(val)
    assert not test


@pytest.mark.parametrize(
    ("fractions", "seed", "message"),
    [
        ((0.8, 0.2), 0, "3 entries"),
        ((0.8, 0.3, -0.1), 0, r"fractions\[test\]=-0.1 is outside the allowed range \[0, 1\]"),
        ((0.5, 0.2, 0.2), 0, "sum to 0.9; expected 1"),
        ((0.8, 0.1, 0.1), -1, "non-negative integer"),
    ],
)
def test_split_by_group_rejects_bad_arguments(fractions: Any, seed: int, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        split_by_group(frames_of(3), fractions, seed)
