"""Frames for the pipeline: a folder of images (sorted by name) or a video file, as RGB uint8 arrays.

Errors are InputErrors that say what to fix: a missing or empty folder, an unreadable video, frames of mixed sizes.
Videos are read sequentially; at most `max_frames` frames are kept, evenly spaced over the whole video when its
frame count is known (a phone preview runs at 30 fps; the pipeline needs a few frames per tilt step, not all).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError
from edge_models.images import load_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MAX_FRAMES = 64


def check_sizes(frames: list[NDArray[np.uint8]], names: list[str]) -> None:
    """All frames of one capture must have the same size."""
    first = frames[0].shape[:2]
    for frame, name in zip(frames, names, strict=True):
        if frame.shape[:2] != first:
            raise InputError(
                f"{name} is {frame.shape[1]}x{frame.shape[0]} but {names[0]} is {first[1]}x{first[0]}: "
                "the frames of one capture must all have the same size"
            )


MASK_PREFIXES = ("ovd_", "glare_")  # masks that `cardlive simulate` writes beside the frames


def read_frame_folder(folder: Path, max_frames: int = MAX_FRAMES) -> tuple[list[NDArray[np.uint8]], list[str]]:
    """The images of a folder in name order (at most max_frames, evenly spaced); the simulator's mask files
    (`ovd_*`, `glare_*`) are not frames and are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass --frames DIR with the frames as image files")
    paths = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(MASK_PREFIXES)
    )
    if not paths:
        raise InputError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(paths) > max_frames:
        keep = np.linspace(0, len(paths) - 1, max_frames).round().astype(int)
        paths = [paths[i] for i in keep]
    frames = [load_rgb(p) for p in paths]
    names = [p.name for p in paths]
    check_sizes(frames, names)
    return frames, names


def read_video(path: Path, max_frames: int = MAX_FRAMES) -> tuple[list[NDArray[np.uint8]], list[str]]:
    """Decoded RGB frames of a video (OpenCV / FFmpeg containers), at most max_frames evenly spaced."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"cannot open {path} as a video (unknown container or codec, or not a video)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        wanted = set(np.linspace(0, count - 1, max_frames).round().astype(int).tolist()) if count > max_frames else None
        frames: list[NDArray[np.uint8]] = []
        names: list[str] = []
        index = 0
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if wanted is None or index in wanted:
                frames.append(np.ascontiguousarray(bgr[..., ::-1], dtype=np.uint8))
                names.append(f"{path.name}#{index}")
            index += 1
    finally:
        cap.release()
    if not frames:
        raise InputError(f"{path} holds no decodable video frames")
    check_sizes(frames, names)
    return frames, names
