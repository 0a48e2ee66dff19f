"""The one comparator every conformance check uses: dtype, then shape, then values, always with the size of the gap.

A dtype or shape mismatch fails the comparison but never hides the magnitude: values are still compared after a
cast to float64 (dtype) or over the overlapping leading block (shape, same rank), and the report says which.
SNR is 10 log10(sum ref^2 / sum (ref - x)^2) in dB, capped at SNR_CAP_DB when the two are identical (JSON has no
infinity).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

SNR_CAP_DB = 200.0


@dataclass(frozen=True)
class Comparison:
    name: str
    expected_dtype: str
    got_dtype: str
    expected_shape: tuple[int, ...]
    got_shape: tuple[int, ...]
    n: int  # values compared
    max_abs: float | None
    mean_abs: float | None
    p99_abs: float | None
    snr_db: float | None
    nonfinite: int  # NaN / inf values in the candidate (never pass)
    partial: bool  # values compared over the overlapping block only (shape mismatch)

    @property
    def dtype_ok(self) -> bool:
        return self.expected_dtype == self.got_dtype

    @property
    def shape_ok(self) -> bool:
        return self.expected_shape == self.got_shape

    def within(self, atol: float) -> bool:
        """dtype and shape equal, every value finite, and max |diff| <= atol."""
        return (
            self.dtype_ok
            and self.shape_ok
            and self.nonfinite == 0
            and self.max_abs is not None
            and self.max_abs <= atol
        )

    def describe(self, atol: float | None = None) -> str:
        parts = []
        if not self.dtype_ok:
            parts.append(f"dtype {self.got_dtype}, expected {self.expected_dtype}")
        if not self.shape_ok:
            parts.append(f"shape {self.got_shape}, expected {self.expected_shape}")
        if self.nonfinite:
            parts.append(f"{self.nonfinite} non-finite values")
        if self.max_abs is None:
            parts.append("no values comparable")
        else:
            bound = f" (tolerance {atol:.3g})" if atol is not None else ""
            scope = " over the overlapping block" if self.partial else ""
            parts.append(
                f"max |diff| {self.max_abs:.3g}{bound}, mean {self.mean_abs:.3g}, SNR {self.snr_db:.1f} dB{scope}"
            )
        return f"{self.name}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}
        out["expected_shape"], out["got_shape"] = list(self.expected_shape), list(self.got_shape)
        return out


def snr_db(reference: NDArray[Any], candidate: NDArray[Any]) -> float:
    ref = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((ref - np.asarray(candidate, dtype=np.float64)) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return -SNR_CAP_DB
    return float(min(SNR_CAP_DB, 10.0 * math.log10(signal / noise)))


def compare_arrays(reference: Any, candidate: Any, name: str = "output") -> Comparison:
    """Compare candidate with reference: dtype, then shape, then values."""
    ref, got = np.asarray(reference), np.asarray(candidate)
    partial = False
    a, b = ref, got
    described = (name, str(ref.dtype), str(got.dtype), tuple(ref.shape), tuple(got.shape))
    if ref.shape != got.shape:
        if ref.ndim != got.ndim:
            return Comparison(*described, 0, None, None, None, None, 0, True)
        block = tuple(slice(0, min(x, y)) for x, y in zip(ref.shape, got.shape, strict=True))
        a, b, partial = ref[block], got[block], True
    b64 = b.astype(np.float64) if b.dtype.kind in "fiub" else np.full(b.shape, np.nan)
    finite = np.isfinite(b64)
    nonfinite = int(b64.size - np.count_nonzero(finite))
    if a.size == 0:
        return Comparison(*described, 0, 0.0, 0.0, 0.0, SNR_CAP_DB, nonfinite, partial)
    diff = np.abs(a.astype(np.float64) - np.where(finite, b64, 0.0))
    diff[~finite] = np.inf
    fin = diff[np.isfinite(diff)]
    return Comparison(
        *described,
        int(a.size),
        float(diff.max()) if nonfinite == 0 else float("inf"),
        float(fin.mean()) if fin.size else None,
        float(np.percentile(fin, 99)) if fin.size else None,
        snr_db(a, np.where(finite, b64, 0.0)),
        nonfinite,
        partial,
    )
