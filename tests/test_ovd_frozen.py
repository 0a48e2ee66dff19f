"""Frozen-OVD negatives and the probe that asks whether the ovd model reads the hologram at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from capture_sim.capture import SimConfig
from capture_sim.dataset import simulate
from edge_models.evaluate import frozen_ovd_probe
from edge_models.ovd_data import FROZEN_OVD_SPECIES, FolderSequences, SequenceSample, freeze_ovd, with_frozen_ovd


def _sequence(label: float, seed: int, changing: bool) -> SequenceSample:
    rng = np.random.default_rng(seed)
    frames = np.full((8, 80, 128, 3), 120, np.uint8)
    ovd = np.zeros((80, 128), bool)
    ovd[20:40, 30:60] = True
    for t in range(8):
        frames[t][ovd] = rng.integers(0, 256, 3) if changing else (200, 40, 90)
    glare = np.zeros((8, 10, 16), np.float32)
    return SequenceSample(frames, glare, label, "genuine" if label else "laser_am", f"g{seed}", ovd)


def test_freezing_copies_one_frame_into_the_ovd_region_only() -> None:
    sample = _sequence(1.0, 0, changing=True)
    sample.frames[:, 0, 0] = np.arange(8)[:, None]  # outside the OVD: differs per frame
    frozen = freeze_ovd(sample.frames, sample.ovd, source=3)  # type: ignore[arg-type]
    assert np.array_equal(frozen[:, 0, 0], sample.frames[:, 0, 0])
    for t in range(8):
        assert np.array_equal(frozen[t][sample.ovd], sample.frames[3][sample.ovd])
    assert not np.array_equal(sample.frames[0][sample.ovd], sample.frames[3][sample.ovd])


def test_frozen_copies_are_attacks_in_the_same_group_and_seeded() -> None:
    class Holder:
        def __init__(self) -> None:
            self.samples = [_sequence(1.0, 1, True), _sequence(0.0, 2, False), _sequence(1.0, 3, True)]

    dataset = Holder()
    grown = with_frozen_ovd(dataset, seed=5)  # type: ignore[arg-type]
    added = grown.samples[3:]
    assert len(grown.samples) == 5
    assert [s.species for s in added] == [FROZEN_OVD_SPECIES] * 2
    assert [s.label for s in added] == [0.0, 0.0]
    assert [s.group for s in added] == ["g1", "g3"]
    again = with_frozen_ovd(dataset, seed=5)  # type: ignore[arg-type]
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(added, again.samples[3:], strict=True))


class _TemporalChange(nn.Module):
    """Stand-in ovd model: P(real) rises with how much the frames change over time."""

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        change = frames.float().std(dim=1).mean(dim=(1, 2, 3))
        return torch.sigmoid(change - 2.0)[:, None], torch.zeros(frames.shape[0], frames.shape[1], 10, 16)


class _StaticLook(nn.Module):
    """Stand-in ovd model that only looks at the first frame's colour: blind to the hologram's response."""

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        level = frames[:, 0].float().mean(dim=(1, 2, 3))
        return torch.sigmoid(level - 100.0)[:, None], torch.zeros(frames.shape[0], frames.shape[1], 10, 16)


def test_the_probe_separates_a_model_that_reads_the_ovd_from_one_that_does_not() -> None:
    genuine = [_sequence(1.0, i, changing=True) for i in range(6)]
    reads = frozen_ovd_probe(_TemporalChange(), genuine, threshold=0.5)
    assert reads["n"] == 6
    assert reads["accepted_as_captured"] == 1.0
    assert reads["accepted_ovd_frozen"] == 0.0
    assert reads["accepted_all_frames_frozen"] == 0.0
    blind = frozen_ovd_probe(_StaticLook(), genuine, threshold=0.5)
    assert blind["accepted_as_captured"] == blind["accepted_ovd_frozen"] == blind["accepted_all_frames_frozen"] == 1.0


def test_simulated_sequences_carry_their_rectified_ovd_mask(tmp_path: Path) -> None:
    data = tmp_path / "seq"
    simulate(data, 2, SimConfig(seed=8, species=("genuine", "laser_am"), frames=3), progress=False)
    samples = FolderSequences(data, progress=False).samples
    genuine = next(s for s in samples if s.label == 1.0)
    assert genuine.ovd is not None
    assert genuine.ovd.shape == (80, 128)
    assert 0.01 < genuine.ovd.mean() < 0.6
