"""Sabotaged bundles for the conformance tests: each function breaks a copy of a good bundle in one classic way.

Model-level sabotage re-exports a model file with the export helper's own functions (quantize.onnx_export,
quantize.litert_export) from a wrapped or altered copy of the committed weights, then re-signs the bundle with its
development key, so the signature and hashes are valid and only the numbers can give the mistake away. File-level
sabotage (flipped byte, truncation, edited threshold) is left unsigned, as a corrupted download would be, and also
signed, as a broken build step would be.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from conformance.golden_io import load_golden
from edge_models.weights import load_weights
from quantize.fold import fold_batchnorm
from quantize.manifest import dev_key_path, resign_bundle


def copy_bundle(good: Path, dest: Path) -> Path:
    """A copy of the bundle with its development key beside it (resign_bundle finds it there)."""
    shutil.copytree(good, dest)
    shutil.copyfile(dev_key_path(good), dev_key_path(dest))
    return dest


class SwapChannels(nn.Module):
    """The app hands BGR where the model expects RGB (the wrapper reverses the channel axis before the model)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flip(-1))


class NormaliseTwice(nn.Module):
    """An exporter that adds (x - 127.5) / 127.5 in front of a graph that already normalises."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - 127.5) / 127.5)


def per_tensor_depthwise(model: nn.Module) -> nn.Module:
    """BN-folded copy whose depthwise convolution weights are rounded to int8 with ONE scale per tensor
    (max |w| / 127), the known failure of per-tensor quantisation on depthwise layers after BN folding."""
    folded, _ = fold_batchnorm(copy.deepcopy(model))
    with torch.no_grad():
        for module in folded.modules():
            if isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels:
                w = module.weight
                scale = w.abs().max() / 127.0
                w.copy_(torch.clamp(torch.round(w / scale), -127, 127) * scale)
    return folded


def other_version(model: nn.Module, seed: int = 11) -> nn.Module:
    """Weights of 'another version': every parameter moved by 15 % of its tensor's standard deviation."""
    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            if p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=gen) * 0.15 * p.std())
    return other


def _examples(bundle: Path, model: str, n: int = 8) -> list[np.ndarray]:
    golden = load_golden(bundle, model)
    return [golden.float_inputs(i, i + 1) for i in range(min(n, len(golden.rows)))]


def reexport_onnx_fp32(bundle: Path, model: str, wrap: type[nn.Module] | None = None, alter=None) -> Path:  # type: ignore[no-untyped-def]
    """Replace <model>.fp32.onnx with an export of the (wrapped / altered) reference model; re-sign."""
    from quantize.onnx_export import export_onnx_fp32

    base = load_weights(bundle / "models" / model / f"{model}.pt").model
    net = alter(base) if alter else base
    if wrap is not None:
        net = wrap(net)
    path = bundle / "models" / model / f"{model}.fp32.onnx"
    export_onnx_fp32(net.eval(), model, _examples(bundle, model, 1)[0], path)
    resign_bundle(bundle)
    return path


def reexport_litert_int8(bundle: Path, model: str, alter) -> Path:  # type: ignore[no-untyped-def]
    """Replace <model>.int8.tflite with a full-integer export of `alter(reference model)`; re-sign."""
    from quantize.litert_export import export_litert_int8

    base = load_weights(bundle / "models" / model / f"{model}.pt").model
    path = bundle / "models" / model / f"{model}.int8.tflite"
    export_litert_int8(alter(base).eval(), _examples(bundle, model), path)
    resign_bundle(bundle)
    return path


def flip_byte(path: Path, offset_fraction: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * offset_fraction)
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def edit_threshold(bundle: Path, model: str, delta: float = 0.05, resign: bool = False) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["models"][model]["thresholds"]["apcer_0.05"] += delta
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if resign:
        resign_bundle(bundle)


def reexport_onnx_int8(bundle: Path, model: str, alter) -> Path:  # type: ignore[no-untyped-def]
    """Replace <model>.int8.onnx with the QDQ quantisation of `alter(reference model)`; re-sign."""
    from quantize.onnx_export import export_onnx_fp32, quantize_onnx_int8

    base = load_weights(bundle / "models" / model / f"{model}.pt").model
    folder = bundle / "models" / model
    tmp = folder.parent.parent.parent / f"{bundle.name}.{model}.tmp.onnx"
    examples = _examples(bundle, model)
    export_onnx_fp32(alter(base).eval(), model, examples[0], tmp)
    path = quantize_onnx_int8(tmp, folder / f"{model}.int8.onnx", examples)
    tmp.unlink()
    resign_bundle(bundle)
    return path


def per_tensor_onnx_int8(bundle: Path, model: str) -> Path:
    """Replace <model>.int8.onnx with a static QDQ quantisation that uses ONE weight scale per tensor (also on the
    depthwise layers): the export helper's recipe with per_channel=False; re-sign."""
    from quantize.onnx_export import quantize_onnx_int8

    folder = bundle / "models" / model
    out = quantize_onnx_int8(
        folder / f"{model}.fp32.onnx", folder / f"{model}.int8.onnx", _examples(bundle, model), per_channel=False
    )
    resign_bundle(bundle)
    return out
