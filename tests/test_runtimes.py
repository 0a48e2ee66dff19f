"""Runtime adapters: every runner takes the PyTorch inputs and returns the PyTorch outputs, in order."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from cardlive.errors import InputError, NotBuiltError, ParameterError
from edge_models.weights import load_weights
from quantize.runtimes import open_runner, precision_of, runtime_available

WEIGHTS = Path(__file__).resolve().parents[1] / "edge_models" / "weights"


def _inputs(model: str, n: int) -> np.ndarray:
    shape = (n, 288, 256, 3) if model == "recapture" else (n, 8, 80, 128, 3)
    return np.random.default_rng(11).uniform(0, 255, shape).astype(np.float32)


@pytest.fixture(scope="module")
def ovd_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rt") / "ovd.fp32.onnx"
    model = load_weights(WEIGHTS / "ovd.pt").model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(_inputs("ovd", 1)),), str(out), dynamo=False, opset_version=17)
    return out


def test_pytorch_runner_matches_model_and_keeps_output_order() -> None:
    runner = open_runner(WEIGHTS / "ovd.pt", "pytorch")
    x = _inputs("ovd", 2)
    p_real, glare = runner.run([x])
    with torch.no_grad():
        ref_p, ref_glare = load_weights(WEIGHTS / "ovd.pt").model(torch.from_numpy(x))
    assert p_real.shape == (2, 1)
    assert glare.shape == (2, 8, 10, 16)
    np.testing.assert_allclose(p_real, ref_p.numpy(), atol=1e-6)
    np.testing.assert_allclose(glare, ref_glare.numpy(), atol=1e-6)
    assert (runner.runtime, runner.precision) == ("pytorch", "fp32")


def test_onnx_runner_loops_a_batch_one_model_over_n(ovd_onnx: Path) -> None:
    runner = open_runner(ovd_onnx, "onnxruntime", threads=1)
    x = _inputs("ovd", 3)
    got = runner.run([x])
    ref = open_runner(WEIGHTS / "ovd.pt", "pytorch").run([x])
    assert [g.shape for g in got] == [r.shape for r in ref]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-5)
    assert runner.precision == "fp32"


def test_runner_rejects_wrong_input_count_and_unknown_runtime(ovd_onnx: Path) -> None:
    runner = open_runner(ovd_onnx, "onnxruntime")
    with pytest.raises(ParameterError):
        runner.run([_inputs("ovd", 1), _inputs("ovd", 1)])
    with pytest.raises(ParameterError):
        open_runner(ovd_onnx, "tensorrt")
    with pytest.raises(InputError):
        open_runner(ovd_onnx.with_name("missing.fp32.onnx"), "onnxruntime")


def test_precision_from_file_name() -> None:
    assert precision_of(Path("recapture.int8.metadata.tflite")) == "int8"
    assert precision_of(Path("ovd.int8w.mlpackage")) == "int8w"
    assert precision_of(Path("ovd.pt")) == "fp32"
    with pytest.raises(ParameterError):
        precision_of(Path("ovd.tflite"))


def test_availability_reports_coreml_plainly() -> None:
    assert runtime_available("onnxruntime") == (True, "")
    assert runtime_available("litert") == (True, "")
    ok, reason = runtime_available("coreml")
    if sys.platform != "darwin":
        assert not ok
        assert reason == "not-run: needs macOS"
    assert not runtime_available("tensorrt")[0]


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS CoreML predictions run")
def test_coreml_runner_refuses_to_run_off_macos(exported_bundle: Path) -> None:
    runner = open_runner(exported_bundle / "models" / "ovd" / "ovd.fp16.mlpackage", "coreml")
    assert runner.precision == "fp16"
    with pytest.raises(NotBuiltError, match="not-run: needs macOS"):
        runner.run([_inputs("ovd", 1)])


def test_litert_runner_matches_pytorch_in_signature_order(exported_bundle: Path) -> None:
    path = exported_bundle / "models" / "ovd" / "ovd.fp16.tflite"
    x = _inputs("ovd", 2)
    ref = open_runner(WEIGHTS / "ovd.pt", "pytorch").run([x])
    for threads in (1, 2):
        got = open_runner(path, "litert", threads=threads).run([x])
        assert [g.shape for g in got] == [(2, 1), (2, 8, 10, 16)]
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_allclose(g, r, atol=5e-3)
