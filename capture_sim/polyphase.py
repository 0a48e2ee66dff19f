"""Optics PSF + pixel integration in one pass, by polyphase correlation (what capture_sim.camera runs).

The reference order is: blur the supersampled radiance (sH, sW, 3) by the PSF, then average each s x s block
(camera.apply_optics, camera.integrate_pixels). Pixel n of a row covers supersampled samples s n .. s n + s - 1,
so both together are one correlation with the PSF extended by the box (box_extend), evaluated at every s-th
sample only: split into the s x s phase images (x[s i + ry, s j + rx]) it becomes s^2 correlations at sensor
resolution with the kernel's phases (_phase_split). cfa_signal goes one step further for the Bayer mosaic: each
photosite needs one colour only, so at stride 2 s it evaluates only the colour each site keeps.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]

BORDER = cv2.BORDER_REFLECT_101
_DIRECT_MAX = 11  # largest sub-kernel filtered directly (OpenCV switches filter2D to its DFT path above)
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def _f32(array: object) -> FloatArray:
    return np.asarray(array, dtype=np.float32)


def gaussian_half(sigma: float) -> int:
    """Half-width of a Gaussian kernel cut at 3 sigma."""
    return max(math.ceil(3.0 * sigma), 1)


def box_extend(kernel: NDArray[np.float64], scale: int) -> NDArray[np.float64]:
    """Weights of 'centred PSF, then average the s samples of a pixel', along every axis of the kernel.

    Pixel n covers supersampled samples s n .. s n + s - 1; with c the kernel's centre index, entry i of the
    result weighs sample s n + (i - c) of pixel n (a correlation kernel of length 2c + s)."""
    out = kernel
    for axis in range(kernel.ndim):
        shape = list(out.shape)
        shape[axis] += scale - 1
        acc = np.zeros(shape)
        for j in range(scale):
            index = [slice(None)] * out.ndim
            index[axis] = slice(j, j + out.shape[axis])
            acc[tuple(index)] += out
        out = acc / scale
    return out


def _axis_phases(n: int, c: int, stride: int) -> tuple[tuple[int, int], int]:
    """For n weights indexed t = i - c: the zero padding (before, after) that puts t = stride q_min at index 0
    and makes the length a multiple of stride, and the phase-image anchor -q_min."""
    q_min = -((c + stride - 1) // stride)
    before = -(q_min * stride + c)
    return (before, (-(n + before)) % stride), -q_min


def _phase_split(weights: NDArray[np.float64], c: int, scale: int) -> tuple[NDArray[np.float64], int]:
    """Zero-pad weights indexed t = i - c on every axis (_axis_phases); entry s q + r is phase r at offset
    q + q_min."""
    pads = [_axis_phases(n, c, scale) for n in weights.shape]
    return np.pad(weights, [p for p, _ in pads]), pads[0][1]


def separable_signal(image: FloatArray, sigma: float, scale: int, gain: float) -> FloatArray:
    """Gaussian PSF + pixel integration: vertical pass polyphase on the row phases, horizontal pass at full
    resolution, then every s-th column; equals integrate_pixels(apply_optics(.)) * gain away from borders."""
    c = gaussian_half(sigma)
    w = box_extend(np.asarray(cv2.getGaussianKernel(2 * c + 1, sigma, cv2.CV_64F), np.float64).ravel(), scale)
    padded, anchor = _phase_split(w, c, scale)
    phases = (padded.reshape(-1, scale).T * gain).astype(np.float32)  # phases[r, q]
    if scale == 1:
        return np.asarray(cv2.sepFilter2D(image, -1, w.astype(np.float32), phases[0], borderType=BORDER))
    vertical: FloatArray | None = None
    for r in range(scale):
        part = _f32(cv2.filter2D(image[r::scale], -1, phases[r][:, None], anchor=(0, anchor), borderType=BORDER))
        vertical = part if vertical is None else _f32(cv2.add(vertical, part, dst=vertical))
    assert vertical is not None
    horizontal = cv2.filter2D(vertical, -1, w.astype(np.float32)[None, :], anchor=(c, 0), borderType=BORDER)
    size = (image.shape[1] // scale, image.shape[0] // scale)
    return np.asarray(cv2.resize(horizontal, size, interpolation=cv2.INTER_NEAREST))  # columns 0, s, 2s, ...


def _column_phases(rows: FloatArray, scale: int) -> list[FloatArray]:
    """rows[:, rx::scale] for every rx as contiguous arrays, in one pass: a row of `scale` x W pixels is a row of
    W pixels with 3 x scale channels."""
    h, w = rows.shape[0], rows.shape[1] // scale
    out = [np.empty((h, w, 3), dtype=np.float32) for _ in range(scale)]
    cv2.mixChannels([rows.reshape(h, w, 3 * scale)], out, [c for c in range(3 * scale) for _ in range(2)])
    return out


def composite_signal(image: FloatArray, kernel: NDArray[np.float64], scale: int, gain: float) -> FloatArray:
    """Any PSF + pixel integration, by polyphase correlation at sensor resolution: pixel (i, j) = sum over the
    phases (ry, rx) and (u, v) of w[s u + ry, s v + rx] x[s (i + u) + ry, s (j + v) + rx]; small sub-kernels
    directly, larger ones in the Fourier domain."""
    c = kernel.shape[0] // 2
    padded, anchor = _phase_split(box_extend(kernel, scale) * gain, c, scale)
    nq = padded.shape[0] // scale
    sub = padded.reshape(nq, scale, nq, scale).astype(np.float32)
    if nq <= _DIRECT_MAX:  # small sub-kernels: direct correlation of each phase image
        total: FloatArray | None = None
        for ry in range(scale):
            for rx, phase in enumerate(_column_phases(image[ry::scale], scale)):
                part = _f32(cv2.filter2D(phase, -1, sub[:, ry, :, rx], anchor=(anchor, anchor), borderType=BORDER))
                total = part if total is None else _f32(cv2.add(total, part, dst=total))
        assert total is not None
        return total
    h, w = image.shape[0] // scale, image.shape[1] // scale
    hd, wd = cv2.getOptimalDFTSize(h + nq - 1), cv2.getOptimalDFTSize(w + nq - 1)
    # Mirror the supersampled image so that every phase image is already bordered and of the DFT size: the
    # correlation reads rows i + u < h + nq - 1 <= hd only, so nothing wraps around.
    pad_y, pad_x = (hd + 1) * scale - image.shape[0], (wd + 1) * scale - image.shape[1]
    border = scale * anchor
    mirrored = cv2.copyMakeBorder(image, border, pad_y - border, border, pad_x - border, cv2.BORDER_REFLECT)
    spectra: list[NDArray[np.float32]] = []
    for ry in range(scale):
        for rx in range(scale):
            k_pad = np.zeros((hd, wd), dtype=np.float32)
            k_pad[:nq, :nq] = sub[:, ry, :, rx]
            k_spec = cv2.dft(k_pad)
            view = mirrored[ry : ry + hd * scale, rx : rx + wd * scale]
            phase = _f32(cv2.resize(view, (wd, hd), interpolation=cv2.INTER_NEAREST))  # (ry + s i, rx + s j)
            for ch in range(3):
                prod = _f32(cv2.mulSpectrums(cv2.dft(np.ascontiguousarray(phase[..., ch])), k_spec, 0, conjB=True))
                if len(spectra) < 3:
                    spectra.append(prod)
                else:
                    spectra[ch] = _f32(cv2.add(spectra[ch], prod, dst=spectra[ch]))
    out = [cv2.idft(spec, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)[:h, :w] for spec in spectra]
    return np.stack(out, axis=-1)


def cfa_signal(
    image: FloatArray, kernel: NDArray[np.float64], scale: int, gain: float, colour: FloatArray, phase: str
) -> FloatArray:
    """bayer_mosaic(colour @ composite_signal(image, kernel, scale, gain), phase) without the two colours each
    photosite drops: (H, W) raw CFA.

    Photosite (2 i + dy, 2 j + dx) reads samples 2 s i + (s dy + t) for the kernel offsets t, so with stride
    S = 2 s each of the four sites is a polyphase correlation of one colour plane whose kernel is shifted by s dy
    (and s dx): S^2 phase images per colour, a third of the multiply-adds of filtering all three colours."""
    stride = 2 * scale
    c = kernel.shape[0] // 2
    weights = box_extend(kernel, scale) * gain
    raw = np.asarray(cv2.transform(image, colour), np.float32)
    h2, w2 = image.shape[0] // stride, image.shape[1] // stride
    planes: dict[tuple[int, int, int], FloatArray] = {}
    for ry in range(stride):  # a row of stride x w2 samples is a row of w2 pixels with 3 x stride channels
        outs = [np.empty((h2, w2), np.float32) for _ in range(3 * stride)]
        rows = raw[ry : ry + h2 * stride : stride, : w2 * stride]
        cv2.mixChannels([rows.reshape(h2, w2, 3 * stride)], outs, [k for k in range(3 * stride) for _ in range(2)])
        planes.update({(ry, k // 3, k % 3): out for k, out in enumerate(outs)})
    mosaic = np.empty((2 * h2, 2 * w2), np.float32)
    for site, letter in enumerate(phase):
        dy, dx = divmod(site, 2)
        pad_y, anchor_y = _axis_phases(weights.shape[0], c - scale * dy, stride)
        pad_x, anchor_x = _axis_phases(weights.shape[1], c - scale * dx, stride)
        padded = np.pad(weights, (pad_y, pad_x))
        sub = padded.reshape(padded.shape[0] // stride, stride, padded.shape[1] // stride, stride).astype(np.float32)
        total: FloatArray | None = None
        for ry in range(stride):
            for rx in range(stride):
                plane, taps = planes[ry, rx, _CHANNEL[letter]], sub[:, ry, :, rx]
                part = _f32(cv2.filter2D(plane, -1, taps, anchor=(anchor_x, anchor_y), borderType=BORDER))
                total = part if total is None else _f32(cv2.add(total, part, dst=total))
        mosaic[dy::2, dx::2] = total
    return mosaic
