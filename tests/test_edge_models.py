"""Model registry, model contracts (shapes, budgets, allowed ops) and the classical OVD baseline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cardlive.errors import ParameterError
from edge_models.models import create_model, list_models
from edge_models.models.ovd import SequenceLayout
from edge_models.models.recapture import LABELS, MosaicLayout
from edge_models.ovd_baseline import ovd_baseline

# fixed-window pooling converts to every runtime; adaptive *max* pooling has no litert-torch lowering
ALLOWED = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.ReLU6,
    nn.Linear,
    nn.AdaptiveAvgPool2d,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.Sequential,
    nn.ModuleList,
)
PARAM_BUDGET = {"recapture": 250_000, "ovd": 250_000}


def _inputs(name: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if name == "recapture":
        lay = MosaicLayout()
        return torch.randint(0, 256, (2, lay.height, lay.width, 3), generator=gen).float()
    seq = SequenceLayout()
    return torch.randint(0, 256, (2, seq.frames, seq.height, seq.width, 3), generator=gen).float()


def test_registry_lists_every_model_and_refuses_unknown_names() -> None:
    assert list_models() == ["ovd", "recapture"]
    with pytest.raises(ParameterError, match="unknown model"):
        create_model("resnet50")


@pytest.mark.parametrize("name", list_models())
def test_model_fits_its_size_budget(name: str) -> None:
    model = create_model(name)
    params = sum(p.numel() for p in model.parameters())
    assert params <= PARAM_BUDGET[name]
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert buffer.tell() <= 1_000_000  # <= 1 MB fp32


@pytest.mark.parametrize("name", list_models())
def test_model_uses_only_quantisation_friendly_layers(name: str) -> None:
    model = create_model(name)
    custom = {type(m).__name__ for m in model.modules() if not isinstance(m, ALLOWED)}
    assert custom <= {"RecaptureNet", "OvdNet", "ConvBnRelu", "SeparableBlock", "InputNorm", "ColourChange"}, custom


def test_a_forbidden_layer_is_caught() -> None:
    """Negative control for the check above: a hard-swish or an adaptive max pool would be reported."""
    for forbidden in (nn.Hardswish(), nn.AdaptiveMaxPool2d(1)):
        model = nn.Sequential(nn.Conv2d(3, 3, 1), forbidden)
        assert any(not isinstance(m, ALLOWED) for m in model.modules())


def test_recapture_returns_probabilities_over_the_three_labels() -> None:
    model = create_model("recapture").eval()
    with torch.no_grad():
        probs = model(_inputs("recapture"))
    assert probs.shape == (2, len(LABELS))
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2))


def test_recapture_depends_on_the_patches_and_the_global_view() -> None:
    torch.manual_seed(0)
    model = create_model("recapture").eval()
    x = _inputs("recapture")
    lay = MosaicLayout()
    with torch.no_grad():
        base = model(x)
        patches_changed = x.clone()
        patches_changed[:, : lay.patch_size, : lay.patch_size] = 0.0
        global_changed = x.clone()
        global_changed[:, -lay.global_height :] = 0.0
        assert not torch.equal(model(patches_changed), base)
        assert not torch.equal(model(global_changed), base)


def test_ovd_returns_a_probability_and_per_frame_glare_maps() -> None:
    model = create_model("ovd").eval()
    with torch.no_grad():
        prob, glare = model(_inputs("ovd"))
    seq = SequenceLayout()
    assert prob.shape == (2, 1)
    assert glare.shape == (2, seq.frames, seq.height // 8, seq.width // 8)
    assert float(prob.min()) >= 0.0
    assert float(prob.max()) <= 1.0


def _sequence(hue_changes: bool, frames: int = 6) -> np.ndarray:
    import cv2

    out = []
    for t in range(frames):
        hsv = np.zeros((40, 60, 3), np.uint8)
        hsv[..., 0] = (t * 40 if hue_changes else 0) % 180
        hsv[..., 1] = 200
        hsv[..., 2] = 200
        out.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    return np.stack(out)


def test_baseline_scores_hue_change_high_and_a_frozen_foil_low() -> None:
    live = ovd_baseline(_sequence(hue_changes=True))
    frozen = ovd_baseline(_sequence(hue_changes=False))  # negative control: a printed hologram
    assert live.probability > 0.9
    assert frozen.probability < 0.1


def test_baseline_ignores_pixels_outside_the_mask_and_rejects_bad_input() -> None:
    mask = np.zeros((40, 60), bool)
    assert ovd_baseline(_sequence(True), mask).hologram_share == 0.0
    with pytest.raises(ParameterError):
        ovd_baseline(_sequence(True)[:1])
    with pytest.raises(ParameterError):
        ovd_baseline(_sequence(True).astype(np.float32))  # type: ignore[arg-type]


def test_model_bench_reports_every_model_and_the_preprocessing(tmp_path: Path) -> None:
    from edge_models.bench import format_model_table, run_model_bench, write_model_report

    rows = run_model_bench(repeats=2)
    assert [r.name for r in rows] == [*list_models(), "preprocess+mosaic"]
    assert all(r.median_ms > 0 for r in rows)
    report = json.loads(write_model_report(rows, tmp_path / "m.json").read_text())
    assert report["threads"] == 1
    assert len(report["rows"]) == len(rows)
    assert "median ms" in format_model_table(rows)


def test_the_ovd_peak_pool_covers_the_whole_temporal_grid() -> None:
    from edge_models.models.ovd import OvdNet

    net = OvdNet().eval()
    grid = torch.rand(2, 64, 5, 8)  # the temporal block's output for the default 80 x 128 crops
    assert torch.equal(net.peak_pool(grid), grid.amax(dim=(2, 3), keepdim=True))
    frames = torch.rand(1, 8, 80, 128, 3) * 255
    with torch.no_grad():
        temporal = net.temporal(torch.zeros(1, 102, 10, 16))
    assert temporal.shape[2:] == (5, 8)
    assert net(frames)[0].shape == (1, 1)


def test_the_colour_change_branch_sees_a_hue_sweep_in_chroma_and_a_brightness_change_only_in_colour() -> None:
    from edge_models.models.ovd import ColourChange

    branch = ColourChange()
    grey = torch.zeros(8, 3, 16, 16)
    brighter = grey + torch.linspace(-0.5, 0.5, 8)[:, None, None, None]  # the same grey, lit more each frame
    hue = grey.clone()
    hue[:, 0] = torch.linspace(-0.5, 0.5, 8)[:, None, None]  # red rising, green and blue falling: same mean
    hue[:, 1] = hue[:, 2] = -hue[:, 0] / 2
    for name, frames in (("brightness", brighter), ("hue", hue)):
        out = branch(frames, 8)
        assert out.shape == (1, 6, 2, 2)
        colour, chroma = out[0, :3].max(), out[0, 3:].max()
        assert colour > 0.5
        if name == "brightness":
            assert chroma < 1e-5  # a change of brightness alone moves no chroma
        else:
            assert chroma > 1.0
