"""Dataset loaders for the edge models: records (paths and labels, never pixels) and a group-keeping split.

Sources: `cardlive simulate` output or a user's labelled folder (`read_index_folder`), DLC-2021 (`load_dlc2021`,
`load_dlc2021_clips`) and MIDV-Holo (`load_midv_holo`). Every loader raises cardlive.errors.InputError naming the
file (and line) that is wrong.
"""

from edge_models.datasets.dlc2021 import load_dlc2021, load_dlc2021_clips, read_via_quads
from edge_models.datasets.folder import read_index_folder, split_folders
from edge_models.datasets.midv_holo import load_midv_holo
from edge_models.datasets.records import LABELS, CaptureRecord, Quad, SequenceRecord, parse_quad, split_by_group

__all__ = [
    "LABELS",
    "CaptureRecord",
    "Quad",
    "SequenceRecord",
    "load_dlc2021",
    "load_dlc2021_clips",
    "load_midv_holo",
    "parse_quad",
    "read_index_folder",
    "read_via_quads",
    "split_by_group",
    "split_folders",
]
