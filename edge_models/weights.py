"""Loading trained weights with the card that travels beside them (config, preprocessing spec, thresholds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cardlive.errors import InputError
from edge_models.models import create_model
from edge_models.preprocess import InputSpec

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "recapture.pt"
FALLBACK_THRESHOLD = 0.5


@dataclass(frozen=True)
class LoadedModel:
    name: str
    model: nn.Module
    spec: InputSpec
    card: dict[str, Any]

    @property
    def threshold(self) -> float:
        """The default operating threshold on P(attack): the one for APCER 5 % on validation, when stored."""
        stored = self.card.get("validation", {}).get("operating_thresholds", {})
        return float(stored.get("apcer_0.05", FALLBACK_THRESHOLD))


def load_weights(path: Path = DEFAULT_WEIGHTS) -> LoadedModel:
    """Weights `X.pt` and their card `X.json` -> an eval-mode model and its spec."""
    path = Path(path)
    card_path = path.with_suffix(".json")
    if not path.exists():
        raise InputError(f"no weights at {path}; train some with `cardlive train --data DIR --out {path.parent}`")
    if not card_path.exists():
        raise InputError(f"{card_path} is missing: weights travel with their card (spec, labels, thresholds)")
    try:
        card = json.loads(card_path.read_text())
        spec = InputSpec.from_json(json.dumps(card["spec"]))
        model = create_model(card["model"])
        model.load_state_dict(torch.load(path, weights_only=True))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"cannot load {path}: {exc}") from None
    return LoadedModel(card["model"], model.eval(), spec, card)
