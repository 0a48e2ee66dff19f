"""The reference scorer (`cardlive score`): images + card quads -> probabilities and a decision, one JSON line each.

The server recomputes app scores with exactly this code path: load_rgb (EXIF applied), the preprocessing contract,
the fp32 model, P(attack) = 1 - P(genuine) against the operating threshold stored with the weights.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardlive.errors import InputError
from edge_models.images import load_rgb
from edge_models.models.recapture import LABELS
from edge_models.mosaic import assemble, layout_for
from edge_models.preprocess import preprocess
from edge_models.weights import LoadedModel


def read_quads(path: Path) -> dict[str, list[list[float]]]:
    """Rows {"path": ..., "quad": [[x, y] x 4]} of a JSONL file, keyed by path as written."""
    quads: dict[str, list[list[float]]] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            quads[str(row["path"])] = [[float(v) for v in point] for point in row["quad"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f'{path}:{number}: expected {{"path": ..., "quad": [[x, y] x 4]}} ({exc})') from None
    return quads


def score_frame(loaded: LoadedModel, frame: np.ndarray, quad: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Probabilities, attack score and decision for one RGB frame with its card quad."""
    pre = preprocess(frame, np.asarray(quad, dtype=np.float64), loaded.spec)
    mosaic = assemble(pre, layout_for(loaded.spec))
    with torch.no_grad():
        probs = loaded.model(torch.from_numpy(mosaic)[None].float())[0].numpy()
    attack = float(1.0 - probs[LABELS.index("genuine")])
    return {
        "probabilities": {label: float(p) for label, p in zip(LABELS, probs, strict=True)},
        "attack_score": attack,
        "threshold": loaded.threshold,
        "decision": "attack" if attack >= loaded.threshold else "genuine",
        "patches_clamped": int(np.sum(pre.clamped)),
    }


def score_images(
    loaded: LoadedModel, images: Sequence[Path], quads: dict[str, list[list[float]]]
) -> Iterator[dict[str, Any]]:
    """One result per image; without a quad for it, the card finder looks for the card (InputError if none)."""
    from edge_models.pipeline.cardfinder import find_card

    for image in images:
        frame = load_rgb(image)
        quad = quads.get(str(image))
        source = "given"
        if quad is None:
            found = find_card(frame)
            if found is None:
                raise InputError(
                    f"{image}: no card found; make sure the whole card is visible, or pass --quads FILE.jsonl "
                    "with a row for this path"
                )
            quad, source = np.round(found.quad, 3).tolist(), "card_finder"
        result = score_frame(loaded, frame, quad)
        yield {"path": str(image), "quad": quad, "quad_source": source, **result}
