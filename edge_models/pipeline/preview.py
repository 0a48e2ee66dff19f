"""Preview of a capture decision: each frame with the card quad (green: all gates passed, red: a gate failed,
yellow dot: the card's top-left corner), the gate line, the scores, and the final decision; written as .mp4 / .avi
(OpenCV) or .gif (Pillow)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from cardlive.errors import OutputError, ParameterError
from edge_models.pipeline.decision import Decision, FrameRecord

PREVIEW_WIDTH = 640


def draw_frame(frame: NDArray[np.uint8], record: FrameRecord, decision: Decision) -> NDArray[np.uint8]:
    """One annotated RGB frame, scaled to PREVIEW_WIDTH wide."""
    scale = PREVIEW_WIDTH / frame.shape[1]
    img = cv2.resize(frame, (PREVIEW_WIDTH, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok = record.usable
    colour = (40, 220, 60) if ok else (230, 40, 40)
    if record.quad is not None:
        pts = np.round((record.quad - 0.5) * scale * 16).astype(np.int32)
        cv2.polylines(img, [pts], True, colour, 2, cv2.LINE_AA, shift=4)
        cv2.circle(img, tuple(int(v) for v in pts[0] // 16), 5, (250, 220, 0), -1)
    failed = [name for name, g in record.gates.items() if not g.passed]
    lines = [f"frame {record.index}: " + ("all gates passed" if ok else "failed " + ", ".join(failed))]
    if record.scores is not None and record.attack_score is not None:
        s = record.scores
        lines.append(f"P attack {record.attack_score:.3f} (screen {s['screen']:.2f}, print {s['print']:.2f})")
    lines.append(f"decision: {decision.outcome}" + (f" ({decision.reason})" if decision.reason else ""))
    for k, text in enumerate(lines):
        y = 22 + 22 * k
        cv2.putText(img, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return np.asarray(img, np.uint8)


def write_preview(frames: list[NDArray[np.uint8]], decision: Decision, out: Path, fps: float = 4.0) -> Path:
    """Annotated frames as a video (.mp4 / .avi) or an animated .gif."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".mp4", ".avi", ".gif"):
        raise ParameterError(f"--preview {out}: expected a .mp4, .avi or .gif file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    drawn = [draw_frame(f, r, decision) for f, r in zip(frames, decision.frames, strict=True)]
    if suffix == ".gif":
        images = [Image.fromarray(d) for d in drawn]
        try:
            images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc}") from None
        return out
    h, w = drawn[0].shape[:2]
    fourcc = cv2.VideoWriter.fourcc(*("mp4v" if suffix == ".mp4" else "MJPG"))
    writer = cv2.VideoWriter(str(out), fourcc, fps, (w, h))
    if not writer.isOpened():
        raise OutputError(f"cannot write the video {out}")
    for d in drawn:
        writer.write(np.ascontiguousarray(d[..., ::-1]))
    writer.release()
    return out
