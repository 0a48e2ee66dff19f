"""Safe image loading: any common photo file -> HxWx3 uint8 RGB, EXIF orientation applied.

Decisions (the app side feeds camera buffers directly; these rules govern files and uploads)
- Formats: JPEG, PNG, WebP, TIFF, BMP. Anything else, or bytes that are not an image, -> InputError.
- Size limits, checked from the header BEFORE any pixel is decoded, so a decompression bomb (a tiny file whose
  header claims e.g. 30000 x 30000) never allocates: at most MAX_PIXELS = 8192 * 8192 pixels, and at least
  MIN_SIDE = 64 pixels on the short side (smaller cannot hold one 64 px patch).
- Truncated or corrupt files are refused, never padded with grey (PIL's LOAD_TRUNCATED_IMAGES must stay
  False; decoding refuses to run if something switched it on).
- EXIF orientation is applied (PIL ImageOps.exif_transpose): the array is upright as a person saw it.
- Colour modes: L / 1 (grey) are replicated to RGB; P (palette) is expanded; CMYK and YCbCr use PIL's convert
  (no ICC colour management: embedded ICC profiles are ignored and values are taken as sRGB);
  16-bit (I;16*, I) grey is scaled to 8 bit as (v * 255 + 32767) // 65535 (v clipped to 0..65535);
  modes with alpha (RGBA, LA, PA, P with transparency) are composited over WHITE in 8-bit sRGB values:
  out = (c * a + 255 * (255 - a) + 127) // 255. White, because viewers show a transparent region of an
  uploaded image on white, and the colour under alpha = 0 is arbitrary (often black) and must not become
  evidence.
  Float (F) images are refused.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from cardlive.errors import InputError

MAX_PIXELS = 8192 * 8192
MIN_SIDE = 64
FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP")


def load_rgb(path: Path) -> NDArray[np.uint8]:
    """Read an image file as HxWx3 uint8 RGB (EXIF orientation applied); InputError saying why otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        with path.open("rb") as fh:
            return _decode(fh, str(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc})") from None


def decode_rgb(data: bytes, name: str = "<bytes>") -> NDArray[np.uint8]:
    """Decode an in-memory image (e.g. an upload) as HxWx3 uint8 RGB; `name` is used in error messages."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"{name}: expected the image file's bytes, got {type(data).__name__}")
    return _decode(io.BytesIO(bytes(data)), name)


def _decode(fh: IO[bytes], name: str) -> NDArray[np.uint8]:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise InputError("PIL ImageFile.LOAD_TRUNCATED_IMAGES is on (pads truncated files); refusing")
    fh.seek(0, io.SEEK_END)
    if fh.tell() == 0:
        raise InputError(f"{name}: the file is empty (0 bytes)")
    fh.seek(0)
    try:
        img = Image.open(fh, formats=list(FORMATS))  # reads the header only
    except Image.DecompressionBombError as exc:
        raise InputError(f"{name}: image too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image in a supported format ({', '.join(FORMATS)})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name}: unreadable image header ({exc})") from None
    with img:
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise InputError(
                f"{name}: image of {w}x{h} = {w * h / 1e6:.1f} MP is over the {MAX_PIXELS / 1e6:.1f} MP limit"
            )
        if min(w, h) < MIN_SIDE:
            raise InputError(f"{name}: image of {w}x{h} px is too small; expected >= {MIN_SIDE} px per side")
        try:
            img.load()
            upright = ImageOps.exif_transpose(img)
            return _to_rgb(upright, name)
        except Image.DecompressionBombError as exc:
            raise InputError(f"{name}: image too large to decode safely ({exc})") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise InputError(f"{name}: corrupt or truncated image data ({exc})") from None


def _to_rgb(img: Image.Image, name: str) -> NDArray[np.uint8]:
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode == "F":
        raise InputError(f"{name}: floating-point images are not supported; expected 8- or 16-bit images")
    if mode.startswith("I"):  # I;16, I;16B, I;16L, I (PNG 16-bit grey); 16-bit range
        v = np.clip(np.asarray(img, dtype=np.int64), 0, 65535)
        grey = ((v * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if (mode == "P" and "transparency" in img.info) or mode in ("PA", "LA", "La", "RGBa"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode == "RGBA":
        rgba = np.asarray(img, dtype=np.uint32)
        alpha = rgba[:, :, 3:4]
        return ((rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
