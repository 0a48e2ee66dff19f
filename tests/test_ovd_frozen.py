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


def _lit_noisy_sequence(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A card whose OVD changes colour per frame, lit brighter frame by frame, with camera noise everywhere."""
    rng = np.random.default_rng(seed)
    ovd = np.zeros((80, 128), bool)
    ovd[20:44, 30:62] = True
    frames = np.zeros((8, 80, 128, 3), np.float32)
    for t in range(8):
        frames[t] = 100.0
        frames[t][ovd] = rng.uniform(40, 200, 3)
        frames[t] *= 1.0 + 0.04 * t
    frames += rng.normal(0, 3, frames.shape)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8), ovd


def test_freezing_gives_the_ovd_one_frames_colour_lit_like_the_card_with_fresh_noise_per_frame() -> None:
    frames, ovd = _lit_noisy_sequence(0)
    frozen = freeze_ovd(frames, ovd, source=3)
    assert np.array_equal(frozen[:, ~ovd], frames[:, ~ovd])
    inner = np.zeros_like(ovd)
    inner[26:38, 36:56] = True  # away from the region's edge, where the coarse colour mixes with the card
    colour = frozen[:, inner].astype(float).mean(axis=1)  # (T, 3)
    brightness = np.array([1.0 + 0.04 * t for t in range(8)])
    expected = frames[3][inner].astype(float).mean(axis=0)[None] * (brightness / brightness[3])[:, None]
    assert np.abs(colour - expected).max() < 3.0
    original = frames[:, inner].astype(float).mean(axis=1)
    assert np.abs(original - original[3]).max() > 20  # the foil did change: freezing is not a no-op
    noise_inside = (frozen[:, inner].astype(float) - colour[:, None]).std()
    outside = frames[:, ~ovd].astype(float)
    noise_outside = (outside - outside.mean(axis=1, keepdims=True)).std()
    assert 0.6 * noise_outside < noise_inside < 1.6 * noise_outside
    copied = frames.copy()
    copied[:, ovd] = frames[3][ovd][None]  # negative control: a plain copy leaves no temporal noise inside
    assert copied[:, inner].astype(float).std(axis=0).max() == 0.0
    flat = frozen[:, inner].astype(float) / brightness[:, None, None]  # the card's lighting divided out
    assert flat.std(axis=0).mean() > 0.5 * noise_outside


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


def test_a_genuine_sequence_whose_ovd_does_not_move_gets_no_frozen_copy() -> None:
    class Holder:
        def __init__(self) -> None:
            self.samples = [_sequence(1.0, 1, changing=False), _sequence(1.0, 2, changing=True)]

    grown = with_frozen_ovd(Holder(), seed=5)  # type: ignore[arg-type]
    assert [s.group for s in grown.samples[2:]] == ["g2"]  # frozen, "g1" would be itself under the opposite label


def test_the_jittered_variants_of_a_frozen_copy_are_frozen_too() -> None:
    frames, ovd = _lit_noisy_sequence(4)
    shifted = np.roll(frames, 2, axis=2)  # a variant whose crop sits 2 px off
    glare = np.zeros((8, 10, 16), np.float32)
    sample = SequenceSample(frames, glare, 1.0, "genuine", "g4", ovd, (shifted,))
    holder = type("Holder", (), {"samples": [sample]})()
    copy = with_frozen_ovd(holder, seed=5).samples[1]  # type: ignore[arg-type]
    assert len(copy.variants) == 1
    inner = np.zeros_like(ovd)
    inner[26:38, 38:58] = True  # the shifted OVD's interior
    brightness = np.array([1.0 + 0.04 * t for t in range(8)])

    def spread(sequence: np.ndarray) -> float:
        colour = sequence[:, inner].astype(float).mean(axis=1) / brightness[:, None]
        return float(np.abs(colour - colour.mean(axis=0)).max())

    assert spread(copy.variants[0]) < 3.0
    assert spread(shifted) > 20.0  # negative control: the variant as it was


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
