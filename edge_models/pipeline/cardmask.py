"""A tiny learned card mask: which pixels of a small RGB frame belong to the card, as a candidate source for the
classical card finder (cardfinder.py) where Hough lines and contours miss the card, and as the guide of its
sub-pixel refinement (the edge nearest the mask's outline, not a paper sheet's or a shadow's).

Why: the classical candidates fail on the simulator's hard frames (card on a similar or strongly textured desk,
a hand over a side, dark header bands that look like the card's edge). A segmentation is easy to learn from
simulated frames, has no corner-order ambiguity (flips are free augmentations) and its outline is clean, so the
existing line machinery turns it into quads, including corners outside the frame. The sub-pixel refinement, the
aspect check and the template correlation that decide orientation and "no card" stay classical.

Model (MODEL_INPUT 256 x 144 RGB, transposed for portrait frames; colour separates a card from a desk of the same
grey): Conv+BN+ReLU6 and depthwise-separable blocks from `edge_models.models.layers` (int8-friendly), an encoder to
1/32 (the whole frame as context) and a light decoder with nearest upsampling and additive skips back to 1/2
(128 x 72 logits); under 100k parameters.

Training (`train_cardmask`, `cardlive train-cardmask`): simulated frames with true quads (index.jsonl folders from
`cardlive simulate`; a tilt sequence gives its first and last frame), the quad rasterised as the target;
augmentations: horizontal/vertical flips, gain, white balance, gamma and noise, all from an explicit seed.
Loss: per-pixel BCE (5x weight along the card's outline) + soft Dice; fixed epochs.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from tqdm import tqdm

from cardlive.errors import InputError
from edge_models.models.layers import ConvBnRelu, SeparableBlock

MODEL_INPUT = (256, 144)  # (w, h) for landscape frames; portrait frames are transposed first
WEIGHTS_PATH = Path(__file__).parents[1] / "weights" / "cardmask.pt"


class CardMaskNet(nn.Module):
    """(N, 3, 144, 256) RGB in 0..255 -> (N, 1, 72, 128) card logits."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBnRelu(3, 16, 3, 2)  # 1/2
        self.e2 = nn.Sequential(SeparableBlock(16, 24, 2), SeparableBlock(24, 24))  # 1/4
        self.e3 = nn.Sequential(SeparableBlock(24, 40, 2), SeparableBlock(40, 40))  # 1/8
        self.e4 = nn.Sequential(SeparableBlock(40, 64, 2), SeparableBlock(64, 64), SeparableBlock(64, 64))  # 1/16
        self.e5 = nn.Sequential(SeparableBlock(64, 96, 2), SeparableBlock(96, 96))  # 1/32: the whole frame's context
        self.l5 = ConvBnRelu(96, 64, 1)
        self.d4 = SeparableBlock(64, 40)
        self.d3 = SeparableBlock(40, 24)
        self.d2 = SeparableBlock(24, 16)
        self.d1 = SeparableBlock(16, 16)
        self.head = nn.Conv2d(16, 1, 1)

    @staticmethod
    def _up(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, size=skip.shape[-2:], mode="nearest") + skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 127.5) / 64.0
        s1 = self.stem(x)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        s4 = self.e4(s3)
        up = self._up(self.l5(self.e5(s4)), s4)
        up = self._up(self.d4(up), s3)
        up = self._up(self.d3(up), s2)
        up = self._up(self.d2(up), s1)
        return torch.as_tensor(self.head(self.d1(up)))


def model_input(rgb: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], bool]:
    """The (h, w, 3) RGB frame resized to MODEL_INPUT (portrait frames transposed first) and whether it was."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"the card mask needs an (h, w, 3) RGB frame, got shape {rgb.shape}")
    portrait = rgb.shape[0] > rgb.shape[1]
    img = rgb.transpose(1, 0, 2) if portrait else rgb
    return np.asarray(cv2.resize(np.ascontiguousarray(img), MODEL_INPUT, interpolation=cv2.INTER_AREA)), portrait


@functools.lru_cache(maxsize=2)
def load_cardmask(path: Path = WEIGHTS_PATH) -> CardMaskNet:
    """The committed mask model in eval mode (cached)."""
    model = CardMaskNet()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise InputError(f"cannot read the card mask weights {path}: {exc}") from None
    model.load_state_dict(state)
    return model.eval()


def card_probability(rgb: NDArray[np.uint8], size: tuple[int, int], model: CardMaskNet | None = None) -> NDArray:
    """Card probability (float32 0..1) at `size` (w, h) of the RGB frame's own orientation."""
    net = model or load_cardmask()
    small, portrait = model_input(rgb)
    with torch.no_grad():
        logits = net(torch.from_numpy(small).float().permute(2, 0, 1)[None])[0, 0].numpy()
    if portrait:
        logits = logits.T
    up = cv2.resize(logits, size, interpolation=cv2.INTER_LINEAR)
    return np.asarray(1.0 / (1.0 + np.exp(-up)), np.float32)


def quad_mask(quad: NDArray[np.float64], frame_wh: tuple[int, int], size: tuple[int, int]) -> NDArray[np.float32]:
    """The quad rasterised (anti-aliased, 0..1) on a `size` grid covering a frame of frame_wh pixels."""
    sx, sy = size[0] / frame_wh[0], size[1] / frame_wh[1]
    pts = np.asarray(quad, np.float64) * [sx, sy] - 0.5
    canvas = np.zeros((size[1] * 4, size[0] * 4), np.uint8)
    cv2.fillPoly(canvas, [np.round((pts + 0.5) * 4 * 16 - 0.5 * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return np.asarray(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA), np.float32) / 255.0


def _frames_of(row: dict[str, Any]) -> list[tuple[str, list[list[float]]]]:
    """(path, quad) of the frames used from one index row: a single capture's frame, or a sequence's first and last
    (the two ends of the tilt)."""
    if not isinstance(row["path"], list):
        return [(row["path"], row["quad"])]
    ends = sorted({0, len(row["path"]) - 1})
    return [(row["path"][k], row["quad"][k]) for k in ends]


def load_training_set(folders: list[Path], limit: int | None = None) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """(N, 144, 256, 3) RGB inputs and (N, 72, 128) card masks from simulated folders' index.jsonl (a capture's
    frame, a sequence's first and last frames); `limit`: the first N rows of each folder."""
    xs, ys = [], []
    out_size = (MODEL_INPUT[0] // 2, MODEL_INPUT[1] // 2)
    for data in folders:
        index = data / "index.jsonl"
        if not index.exists():
            raise InputError(f"{data} has no index.jsonl; simulate training frames with `cardlive simulate`")
        rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()][:limit]
        for row in tqdm(rows, desc=f"load {data.name}", unit="capture", leave=False):
            for path, quad_rows in _frames_of(row):
                bgr = cv2.imread(str(data / path), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise InputError(f"cannot read {data / path}")
                rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
                quad = np.asarray(quad_rows, np.float64)
                small, portrait = model_input(rgb)
                if portrait:
                    quad = quad[:, ::-1]
                wh = (rgb.shape[0], rgb.shape[1]) if portrait else (rgb.shape[1], rgb.shape[0])
                xs.append(small)
                ys.append(quad_mask(quad, wh, out_size))
    if not xs:
        raise InputError("no training frames: the folders' index.jsonl files are empty")
    return np.stack(xs), np.stack(ys)


def _augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Flips, exposure, white balance, gamma and sensor noise on (n, 3, h, w) float batches."""
    n = x.shape[0]
    flip_h = torch.rand(n, generator=gen) < 0.5
    flip_v = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip_h[:, None, None, None], x.flip(3), x)
    y = torch.where(flip_h[:, None, None, None], y.flip(3), y)
    x = torch.where(flip_v[:, None, None, None], x.flip(2), x)
    y = torch.where(flip_v[:, None, None, None], y.flip(2), y)
    gain = torch.exp(torch.randn(n, 1, 1, 1, generator=gen) * 0.25)
    balance = torch.exp(torch.randn(n, 3, 1, 1, generator=gen) * 0.08)
    gamma = torch.exp(torch.randn(n, 1, 1, 1, generator=gen) * 0.2)
    x = 255.0 * (torch.clamp(x / 255.0 * gain * balance, 0.0, 1.0) ** gamma)
    x = x + torch.randn(x.shape, generator=gen) * 4.0 * torch.rand(n, 1, 1, 1, generator=gen)
    return torch.clamp(x, 0.0, 255.0), y


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE weighted 5x near the card's outline (where the quad is read from) plus soft Dice."""
    pool = nn.functional.max_pool2d
    outline = pool(target, 5, 1, 2) + pool(-target, 5, 1, 2)  # dilation minus erosion: 1 along the outline
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, weight=1.0 + 4.0 * outline)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    dice = 1.0 - (2 * inter + 1.0) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1.0)
    return bce + dice.mean()


def train_cardmask(
    data: Path | list[Path],
    out: Path = WEIGHTS_PATH,
    epochs: int = 30,
    seed: int = 0,
    batch: int = 32,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the mask model on a simulated folder; writes the weights (and out.json with the training record)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    folders = [data] if isinstance(data, Path) else list(data)
    xs, ys = load_training_set(folders, limit)
    x_all = torch.from_numpy(xs).permute(0, 3, 1, 2)  # uint8 until a batch is drawn
    y_all = torch.from_numpy(ys)[:, None]
    model = CardMaskNet()
    steps = epochs * max(1, (len(xs) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    start = time.perf_counter()
    losses = []
    model.train()
    for _ in tqdm(range(epochs), desc="train-cardmask", unit="epoch", disable=not progress):
        order = torch.randperm(len(xs), generator=gen)
        total = 0.0
        for k in range(0, len(xs), batch):
            idx = order[k : k + batch]
            x, y = _augment(x_all[idx].float(), y_all[idx], gen)
            loss = _loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        losses.append(round(total / len(xs), 4))
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    record = {
        "data": [str(f) for f in folders],
        "frames": len(xs),
        "epochs": epochs,
        "seed": seed,
        "batch": batch,
        "params": sum(p.numel() for p in model.parameters()),
        "train_loss": losses,
        "seconds": round(time.perf_counter() - start, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    load_cardmask.cache_clear()
    return record
