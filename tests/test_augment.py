"""Quad-jitter augmentation: bounded corner error, deterministic variants, one variant per epoch, resumable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cardlive.errors import InputError
from edge_models.augment import JITTER_LIMIT, EpochVariants, jittered_quad
from edge_models.data import FolderMosaics
from edge_models.train import TrainConfig, train

QUAD = np.array([[100.0, 100.0], [700.0, 120.0], [690.0, 500.0], [90.0, 480.0]])


def test_jitter_moves_corners_within_the_card_finder_target() -> None:
    rng = np.random.default_rng(0)
    diagonal = float(np.linalg.norm(QUAD[2] - QUAD[0]))
    moves = np.stack([np.abs(jittered_quad(QUAD, rng, sigma=0.05) - QUAD) for _ in range(200)])
    assert moves.max() <= JITTER_LIMIT * diagonal + 1e-9
    assert moves.max() > 0.5 * JITTER_LIMIT * diagonal  # the large sigma does reach the clip
    assert np.array_equal(jittered_quad(QUAD, np.random.default_rng(3)), jittered_quad(QUAD, np.random.default_rng(3)))


def _assert_other_cuts(plain: Any, varied: Any, again: Any, canonical: Callable[[Any], np.ndarray]) -> None:
    """Two extra variants per sample, seeded, each a different cut of the unchanged canonical input."""
    for p, v, a in zip(plain.samples, varied.samples, again.samples, strict=True):
        assert np.array_equal(canonical(p), canonical(v))  # the canonical input is unchanged
        assert len(v.variants) == 2
        assert all(np.array_equal(x, y) for x, y in zip(v.variants, a.variants, strict=True))
        assert not any(np.array_equal(x, canonical(v)) for x in v.variants)
        assert all(x.shape == canonical(p).shape for x in v.variants)


def test_variants_are_other_cuts_of_the_same_capture(tiny_set: Path) -> None:
    plain = FolderMosaics(tiny_set, progress=False)
    varied = FolderMosaics(tiny_set, progress=False, variants=3, seed=5)
    again = FolderMosaics(tiny_set, progress=False, variants=3, seed=5)
    _assert_other_cuts(plain, varied, again, lambda s: s.mosaic)
    with pytest.raises(InputError, match="at least 1"):
        FolderMosaics(tiny_set, progress=False, variants=0)


def test_epoch_variants_pick_differently_across_epochs_but_reproducibly(tiny_set: Path) -> None:
    data = FolderMosaics(tiny_set, progress=False, variants=3, seed=0)
    wrapped = EpochVariants(data, seed=0)

    def picks(epoch: int) -> list[bytes]:
        wrapped.set_epoch(epoch)
        return [wrapped[i][0].numpy().tobytes() for i in range(len(wrapped))]

    first = picks(0)
    assert picks(0) == first
    assert any(picks(e) != first for e in range(1, 4))
    assert [wrapped[i][1] for i in range(len(wrapped))] == [s.label for s in data.samples]


def test_training_with_variants_is_deterministic_and_differs_from_plain(tiny_set: Path, tmp_path: Path) -> None:
    def run(name: str, variants: int, stop_after: int | None = None) -> dict[str, torch.Tensor]:
        config = TrainConfig(
            data=str(tiny_set), out=str(tmp_path / name), epochs=2, batch_size=4, val_fraction=0.0, variants=variants
        )
        return torch.load(train(config, progress=False, stop_after=stop_after), weights_only=True)

    a, b, plain = run("a", 3), run("b", 3), run("plain", 1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], plain[n]) for n in a)  # negative control: the augmentation reaches training
    run("c", 3, stop_after=1)
    config = TrainConfig(
        data=str(tiny_set), out=str(tmp_path / "c"), epochs=2, batch_size=4, val_fraction=0.0, variants=3
    )
    resumed = torch.load(train(config, resume=True, progress=False), weights_only=True)
    assert all(torch.equal(a[n], resumed[n]) for n in a)


def test_ovd_variants_are_other_rectifications_of_the_same_sequence(tmp_path: Path) -> None:
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate
    from edge_models.augment import EpochSequenceVariants
    from edge_models.ovd_data import FolderSequences

    data = tmp_path / "seq"
    simulate(data, 2, SimConfig(seed=8, species=("genuine", "laser_am"), frames=3), progress=False)
    plain = FolderSequences(data, progress=False)
    varied = FolderSequences(data, progress=False, variants=3, seed=5)
    again = FolderSequences(data, progress=False, variants=3, seed=5)
    _assert_other_cuts(plain, varied, again, lambda s: s.frames)
    epochs = EpochSequenceVariants(varied, seed=0)
    picks = set()
    for epoch in range(6):
        epochs.set_epoch(epoch)
        frames, glare, label = epochs[0]
        picks.add(frames.numpy().tobytes())
        assert glare.shape == (8, 10, 16)
        assert label.item() == varied.samples[0].label
    assert len(picks) > 1
    with pytest.raises(InputError, match="at least 1"):
        FolderSequences(data, progress=False, variants=0)


def test_side_shift_moves_one_side_and_leaves_the_plain_jitter_unchanged() -> None:
    quad = np.array([[100.0, 100.0], [700.0, 100.0], [700.0, 478.0], [100.0, 478.0]])
    diagonal = float(np.linalg.norm(quad[2] - quad[0]))
    plain = jittered_quad(quad, np.random.default_rng(1))
    assert np.array_equal(jittered_quad(quad, np.random.default_rng(1), side_shift=0.0), plain)  # same draws
    moved = [jittered_quad(quad, np.random.default_rng(k), side_shift=0.02) for k in range(20)]
    for k, q in enumerate(moved):
        delta = np.linalg.norm(q - jittered_quad(quad, np.random.default_rng(k)), axis=1)
        assert (delta > 1e-9).sum() == 2  # the two corners of one side
        assert delta.max() <= 0.02 * diagonal + 1e-9
    assert max(float(np.abs(q - quad).max()) for q in moved) > JITTER_LIMIT * diagonal  # beyond the plain jitter


def test_fine_tuning_starts_from_the_given_weights(tiny_set: Path, tmp_path: Path) -> None:
    def run(name: str, **extra: Any) -> Path:
        config = TrainConfig(
            data=str(tiny_set), out=str(tmp_path / name), epochs=1, batch_size=4, val_fraction=0.0, **extra
        )
        return train(config, progress=False)

    base = run("base")
    tuned = torch.load(run("tuned", init=str(base), lr=1e-9), weights_only=True)
    start = torch.load(base, weights_only=True)
    fresh = torch.load(run("fresh", lr=1e-9), weights_only=True)
    conv = next(n for n in start if n.endswith("weight") and start[n].dim() == 4)
    assert torch.allclose(tuned[conv], start[conv], atol=1e-6)  # a vanishing learning rate keeps the start
    assert not torch.allclose(fresh[conv], start[conv], atol=1e-6)  # negative control: a fresh start differs
    with pytest.raises(InputError, match="--init"):
        run("bad", init=str(tmp_path / "missing.pt"))
    with pytest.raises(InputError, match="--side-shift"):
        run("no_variants", side_shift=0.01)  # variants 1: no jittered quads to shift
    with pytest.raises(InputError, match="--side-shift"):
        run("simulated", side_shift=0.01, variants=3, simulate=4)  # fresh renders have no stored variants to shift
