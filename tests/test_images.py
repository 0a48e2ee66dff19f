"""Safe image loading: accepted files come back upright as HxWx3 uint8 RGB; bad ones raise InputError."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from cardlive.errors import InputError
from edge_models.images import MAX_PIXELS, decode_rgb, load_rgb

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (80, 100, 3), dtype=np.uint8)  # 100 wide, 80 high


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height (8-bit RGB): a decompression-bomb header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b""))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def check_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)
    assert arr.flags.writeable


# ---- accepted files ----


def test_rgb_png_file_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    path.write_bytes(encode(Image.fromarray(RGB), "PNG"))
    arr = load_rgb(path)
    check_rgb(arr, (80, 100))
    np.testing.assert_array_equal(arr, RGB)
    np.testing.assert_array_equal(decode_rgb(path.read_bytes()), RGB)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((80, 100, 3), np.uint8)
    stored[:20, :20] = (255, 0, 0)  # red block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    path.write_bytes(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    arr = load_rgb(path)
    check_rgb(arr, (100, 80))  # upright: 80 wide, 100 high
    assert arr[:15, -15:, 0].mean() > 200  # stored top-left is now the top-right
    assert arr[:15, :15, 0].mean() < 50
    # negative control: without the tag the stored orientation is kept
    check_rgb(decode_rgb(encode(Image.fromarray(stored), "JPEG", quality=95)), (80, 100))


@pytest.mark.parametrize("mode", ["L", "1", "P"])
def test_grey_bilevel_and_palette_become_rgb(mode: str) -> None:
    src = Image.fromarray(RGB).convert(mode)
    arr = decode_rgb(encode(src, "PNG"))
    check_rgb(arr, (80, 100))
    np.testing.assert_array_equal(arr, np.asarray(src.convert("RGB")))
    if mode in ("L", "1"):
        assert np.array_equal(arr[..., 0], arr[..., 1])
        assert np.array_equal(arr[..., 1], arr[..., 2])


def test_alpha_is_composited_over_white() -> None:
    alpha = np.zeros((80, 100), np.uint8)
    alpha[:, 40:] = 128
    alpha[:, 70:] = 255
    rgba = np.dstack([RGB, alpha])
    arr = decode_rgb(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    check_rgb(arr, (80, 100))
    assert (arr[:, :40] == 255).all()  # transparent -> white, not the (random) colour underneath
    np.testing.assert_array_equal(arr[:, 70:], RGB[:, 70:])
    expected = (RGB[:, 40:70].astype(int) * 128 + 255 * 127 + 127) // 255
    np.testing.assert_array_equal(arr[:, 40:70], expected)
    # LA (grey + alpha) follows the same rule
    la = decode_rgb(encode(Image.fromarray(rgba, "RGBA").convert("LA"), "PNG"))
    assert (la[:, :40] == 255).all()


def test_sixteen_bit_png_is_scaled_to_eight_bit() -> None:
    values = np.tile((np.arange(100, dtype=np.uint32) * 661).astype(np.uint16), (80, 1))  # 0 .. 65439
    values[:, -1] = 65535
    src = Image.fromarray(values)
    assert src.mode.startswith("I;16")
    arr = decode_rgb(encode(src, "PNG"))
    check_rgb(arr, (80, 100))
    np.testing.assert_array_equal(arr[..., 0], (values.astype(np.int64) * 255 + 32767) // 65535)
    assert arr[0, -1, 0] == 255
    assert arr[0, 0, 0] == 0
    # negative control: keeping the low byte (a wrong cast) gives a different image
    assert not np.array_equal(arr[..., 0], values.astype(np.uint8))


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = np.zeros((80, 100, 4), np.uint8)
    cmyk[:, :50, 0] = 255  # cyan on the left, paper white on the right
    arr = decode_rgb(encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95))
    check_rgb(arr, (80, 100))
    left, right = arr[:, :40].mean(axis=(0, 1)), arr[:, 60:].mean(axis=(0, 1))
    assert left[0] < 30
    assert left[1:].min() > 225
    assert right.min() > 225


# ---- refused files ----


def test_zero_byte_and_missing_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_rgb(empty)
    with pytest.raises(InputError, match="empty"):
        decode_rgb(b"")
    with pytest.raises(InputError, match="no such image file"):
        load_rgb(tmp_path / "missing.png")
    with pytest.raises(InputError, match="no such image file"):
        load_rgb(tmp_path)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = encode(Image.fromarray(RGB), "JPEG", quality=90)
    check_rgb(decode_rgb(data), (80, 100))  # negative control: the whole file loads
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        load_rgb(path)
    with pytest.raises(InputError, match="truncated"):
        decode_rgb(data[:-2])  # even without only the end-of-image marker


def test_truncated_images_stay_refused_if_pil_was_told_to_pad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InputError, match="LOAD_TRUNCATED_IMAGES"):
        decode_rgb(encode(Image.fromarray(RGB), "PNG"))


def test_non_images_and_unsupported_formats_are_refused() -> None:
    with pytest.raises(InputError, match="not an image"):
        decode_rgb(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="not an image"):
        decode_rgb(b"%PDF-1.7\n" + b"x" * 200)
    with pytest.raises(InputError, match="not an image"):
        decode_rgb(encode(Image.fromarray(RGB), "GIF"))
    with pytest.raises(InputError, match="floating-point"):
        decode_rgb(encode(Image.fromarray(RGB[..., 0].astype(np.float32)), "TIFF"))
    with pytest.raises(InputError, match="bytes"):
        decode_rgb("frame.png")  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "ok"), [((1, 1), False), ((63, 200), False), ((64, 64), True)])
def test_tiny_images_are_refused(size: tuple[int, int], ok: bool) -> None:
    data = encode(Image.new("RGB", size, (10, 20, 30)), "PNG")
    if ok:
        check_rgb(decode_rgb(data), (size[1], size[0]))
    else:
        with pytest.raises(InputError, match="too small"):
            decode_rgb(data)


@pytest.mark.parametrize("side", [30000, 9000])  # 9000^2 is above our limit but below PIL's own bomb check
def test_bomb_header_is_refused_before_decoding(side: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = png_header_only(side, side)
    assert len(data) < 100
    assert side * side > MAX_PIXELS

    def no_decode(self: object) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"too large|limit"):
        decode_rgb(data)
    assert time.perf_counter() - start < 0.5
    # negative control: the same crafted header with a sane size passes the size check and reaches decoding
    with pytest.raises(AssertionError, match="decoded"):
        decode_rgb(png_header_only(200, 200))
