"""A per-tensor variant of the bundle's LiteRT int8 recipe (same source model and recipe, per-tensor weights), for
the slow sabotage test."""

from __future__ import annotations

import copy
from pathlib import Path

from edge_models.weights import load_weights
from quantize.fold import fold_batchnorm, recentre_input
from quantize.litert_export import export_litert_int8
from quantize.manifest import resign_bundle
from tests.conform_sabotage import _examples


def per_tensor_litert_int8(bundle: Path, model: str) -> Path:
    folded, _ = fold_batchnorm(copy.deepcopy(load_weights(bundle / "models" / model / f"{model}.pt").model))
    source, _ = recentre_input(folded)
    path = bundle / "models" / model / f"{model}.int8.tflite"
    export_litert_int8(source, _examples(bundle, model), path, per_channel=False)
    resign_bundle(bundle)
    return path
