"""A per-tensor variant of the export helper's LiteRT int8 recipe (quantize.litert_export.export_litert_int8 with
is_per_channel=False), for the slow sabotage test; the export module offers no granularity switch."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import torch

from edge_models.weights import load_weights
from quantize.fold import fold_batchnorm
from quantize.manifest import resign_bundle
from tests.conform_sabotage import _examples


def per_tensor_litert_int8(bundle: Path, model: str) -> Path:
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    folded, _ = fold_batchnorm(copy.deepcopy(load_weights(bundle / "models" / model / f"{model}.pt").model))
    batches = _examples(bundle, model)
    example = (torch.from_numpy(np.ascontiguousarray(batches[0])),)
    config = dataclasses.replace(get_symmetric_quantization_config(is_per_channel=False), fixed_qparams=None)
    quantizer = PT2EQuantizer().set_global(config)
    prepared = prepare_pt2e(torch.export.export(folded.eval(), example).module(), quantizer)  # type: ignore[arg-type]
    with torch.no_grad():
        for batch in batches:
            prepared(torch.from_numpy(batch))
    converted = convert_pt2e(prepared, fold_quantize=False)
    path = bundle / "models" / model / f"{model}.int8.tflite"
    litert_torch.convert(converted, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
    resign_bundle(bundle)
    return path
