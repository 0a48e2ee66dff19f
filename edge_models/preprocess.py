"""The preprocessing contract: the one recipe that turns (frame, card quad) into model inputs.

Apps (Swift / Kotlin) re-implement this recipe; the texture patches must come out bit-identical, so every step
below is written so that it can be copied literally. Read DESIGN.md "The preprocessing contract" for the why.

Conventions (exact)
- Card coordinates: millimetres on the ID-1 card (85.60 x 53.98), origin at the card's top-left corner,
  x right, y down.
- Frame coordinates: continuous pixel coordinates, origin at the top-left CORNER of the top-left pixel;
  pixel (column i, row j) covers [i, i+1) x [j, j+1) and its centre is (i + 0.5, j + 0.5). The quad is
  given in these coordinates (as produced by `capture_sim.geometry`): 4 corners (x, y), clockwise on
  screen, starting at the card's top-left corner. OpenCV's warp functions put pixel centres at integers:
  opencv = continuous - 0.5.
- The frame is HxWx3 uint8 RGB with its EXIF orientation already applied (see `edge_models.images`).

Texture patches (integer crops, no resampling; all arithmetic in IEEE float64, no FMA contraction)
1. Card -> frame map from the quad (x_k, y_k), k = 0..3 (TL, TR, BR, BL), Heckbert's closed form; evaluate the
   expressions left to right exactly as written:
       dx1 = x1 - x2;  dx2 = x3 - x2;  dx3 = x0 - x1 + x2 - x3     (and dy1, dy2, dy3 from the y's)
       den = dx1 * dy2 - dx2 * dy1
       g = (dx3 * dy2 - dx2 * dy3) / den;   h = (dx1 * dy3 - dx3 * dy1) / den
       a = x1 - x0 + g * x1;   b = x3 - x0 + h * x3;   c = x0
       d = y1 - y0 + g * y1;   e = y3 - y0 + h * y3;   f = y0
2. For each canonical centre (x_mm, y_mm) of the spec:
       u = x_mm / 85.60;   v = y_mm / 53.98;   w = g * u + h * v + 1.0
       X = (a * u + b * v + c) / w;   Y = (d * u + e * v + f) / w
3. Round half up, explicitly (NOT banker's rounding as numpy's np.round / Swift's .toNearestOrEven):
       x0 = floor(X + 0.5) - P / 2;   y0 = floor(Y + 0.5) - P / 2      (P = patch_size, even)
   i.e. the P x P window is the integer-aligned window nearest to the square of side P centred on (X, Y).
4. Clamp the window inside the frame (W x H pixels) so every patch is full size, and report it:
       x0' = min(max(x0, 0), W - P);   y0' = min(max(y0, 0), H - P);   clamped = (x0', y0') != (x0, y0)
5. Patch k = frame[y0' : y0' + P, x0' : x0' + P, :] (rows, columns, RGB), copied byte for byte.
Exact ties (X + 0.5 an integer) are rare; apps must evaluate in double without fused multiply-add
(C/C++: -ffp-contract=off) so that they round the same way.

Global view (the only resampled input)
One cv2.warpPerspective(frame, M, (w, h), flags=INTER_LINEAR | WARP_INVERSE_MAP,
borderMode=BORDER_CONSTANT, borderValue=0) where M maps OpenCV destination pixels (i, j) to OpenCV source
pixels (see `global_view_matrix`):
    M = S @ Hq @ D,  S = [[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]],  Hq = [[a, b, c], [d, e, f], [g, h, 1]],
    D = [[sx / 85.60, 0, (0.5 * sx - m) / 85.60], [0, sy / 53.98, (0.5 * sy - m) / 53.98], [0, 0, 1]],
    sx = (85.60 + 2 m) / w,  sy = (53.98 + 2 m) / h   (mm per destination pixel; m = global_margin_mm),
so destination pixel centre (i + 0.5, j + 0.5) shows card point ((i + 0.5) sx - m, (j + 0.5) sy - m) mm:
the card plus a margin of m mm on every side, stretched independently per axis to w x h (card + 3 mm is
91.60 x 59.98 mm, aspect 1.527, shown at 128 x 80, aspect 1.6). Bilinear ("linear"): with (Xs, Ys) =
M (i, j, 1) dehomogenised, x = floor(Xs), fx = Xs - x (likewise y, fy),
    out = (1-fy) ((1-fx) I[y, x] + fx I[y, x+1]) + fy ((1-fx) I[y+1, x] + fx I[y+1, x+1]),
samples outside the frame are 0, then floor(out + 0.5) to uint8. OpenCV's integer internals differ from
this exact float64 formula by at most 1 level (tested on white noise, where it matters most), so the
global view is the tolerance-governed input and the patches are the bit-exact one. Bilinear does not
prefilter: a card much wider than w pixels is point-sampled (aliased), by design identical on all platforms
that sample at the same positions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import ParameterError

ID1_SIZE_MM = (85.60, 53.98)
Quad = NDArray[np.float64]

# K = 8 canonical centres (mm), mirror-symmetric about the card's vertical centre line (x = 42.8) so that
# portrait-left and portrait-right designs are covered alike; rows at 24 (portrait / upper fields), 14.5 (name
# fields), 30-36 (lower fields, ghost image, guilloche rosette, seals) and 47 mm (MRZ clear zone on TD1 cards,
# bottom band otherwise). Where they look, in the layouts of capture_sim.cards and of real ID-1 cards:
DEFAULT_PATCH_CENTRES_MM: tuple[tuple[float, float], ...] = (
    (14.0, 24.0),  # portrait (left-portrait designs); left OVD stripes / ovals
    (71.6, 24.0),  # portrait (right-portrait designs); right OVD shields, stars, stripes
    (42.8, 14.5),  # name fields: fine print on security line-work
    (42.8, 30.0),  # lower fields, central guilloche rosette, ghost image
    (26.0, 36.0),  # below / beside the portrait: OVD seals, background line-work
    (59.6, 36.0),  # lower right fields: OVD ovals and seals
    (21.4, 47.0),  # MRZ left half (OCR-B, high-contrast edges on lightened line-work)
    (64.2, 47.0),  # MRZ right half; lower-right OVD windows
)
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} is not a finite number")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(f"{name}={value!r} is not allowed; expected an integer in [{low}, {high}]")
    return value


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ParameterError(f"{name}={value!r} is not allowed; expected a pair of 2 numbers")
    return value[0], value[1]


@dataclass(frozen=True)
class InputSpec:
    """Everything an app needs to build model inputs; travels with the weights into every exported artefact.

    patch_size: P, side of the square uint8 patches in frame pixels (even, 16..256).
    patch_centres_mm: K canonical centres in card millimetres (inside the card).
    global_size: (width, height) of the global view in pixels (16..1024 each).
    global_interpolation: "linear" (cv2.INTER_LINEAR, formula in the module docstring); the only one allowed.
    global_margin_mm: context kept around the card in the global view (0..20 mm); bezel and paper edges
        are evidence.
    channel_order "RGB", value_range (0, 255) uint8: models take raw uint8 RGB and normalise inside the graph.
    card_size_mm: (85.60, 53.98), ID-1.
    """

    version: str = "1"
    patch_size: int = 64
    patch_centres_mm: tuple[tuple[float, float], ...] = DEFAULT_PATCH_CENTRES_MM
    global_size: tuple[int, int] = (128, 80)
    global_interpolation: str = "linear"
    global_margin_mm: float = 3.0
    channel_order: str = "RGB"
    value_range: tuple[int, int] = (0, 255)
    card_size_mm: tuple[float, float] = ID1_SIZE_MM

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not _VERSION_RE.match(self.version):
            raise ParameterError(f"version={self.version!r} is not allowed; expected 1-64 of [A-Za-z0-9._/-]")
        p = _integer("patch_size", self.patch_size, 16, 256)
        if p % 2:
            raise ParameterError(f"patch_size={p} is not allowed; expected an even integer in [16, 256]")
        w_mm, h_mm = (_number("card_size_mm", v) for v in _pair("card_size_mm", self.card_size_mm))
        if (w_mm, h_mm) != ID1_SIZE_MM:
            raise ParameterError(f"card_size_mm={self.card_size_mm!r} is not allowed; expected {ID1_SIZE_MM}")
        centres = self.patch_centres_mm
        if not isinstance(centres, tuple | list) or not 1 <= len(centres) <= 64:
            raise ParameterError(f"patch_centres_mm must hold 1 to 64 (x, y) pairs, got {centres!r}")
        norm: list[tuple[float, float]] = []
        for k, c in enumerate(centres):
            x, y = (_number(f"patch_centres_mm[{k}]", v) for v in _pair(f"patch_centres_mm[{k}]", c))
            if not (0.0 <= x <= w_mm and 0.0 <= y <= h_mm):
                raise ParameterError(
                    f"patch_centres_mm[{k}]={c!r} lies off the card; expected [0, {w_mm}] x [0, {h_mm}]"
                )
            norm.append((x, y))
        gw, gh = _pair("global_size", self.global_size)
        size = (_integer("global_size[0]", gw, 16, 1024), _integer("global_size[1]", gh, 16, 1024))
        if self.global_interpolation != "linear":
            raise ParameterError(
                f"global_interpolation={self.global_interpolation!r} is not allowed; expected 'linear'"
            )
        margin = _number("global_margin_mm", self.global_margin_mm)
        if not 0.0 <= margin <= 20.0:
            raise ParameterError(f"global_margin_mm={margin!r} is outside the allowed range [0.0, 20.0]")
        if self.channel_order != "RGB":
            raise ParameterError(f"channel_order={self.channel_order!r} is not allowed; expected 'RGB'")
        lo, hi = _pair("value_range", self.value_range)
        if (lo, hi) != (0, 255) or isinstance(lo, bool) or isinstance(hi, bool):
            raise ParameterError(f"value_range={self.value_range!r} is not allowed; expected (0, 255), uint8")
        # normalise lists to tuples and ints to floats, so that from_json(to_json(s)) == s exactly
        object.__setattr__(self, "patch_centres_mm", tuple(norm))
        object.__setattr__(self, "global_size", size)
        object.__setattr__(self, "global_margin_mm", margin)
        object.__setattr__(self, "value_range", (int(lo), int(hi)))
        object.__setattr__(self, "card_size_mm", (w_mm, h_mm))

    @property
    def num_patches(self) -> int:
        return len(self.patch_centres_mm)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, compact); floats are written with Python's shortest exact repr."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def digest(self) -> str:
        """sha256 hex of `to_json()`, to name the spec in manifests."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> InputSpec:
        """Parse `to_json()` output; unknown or missing keys and wrong types raise ParameterError."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ParameterError(f"input spec is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ParameterError(f"input spec must be a JSON object, got {type(data).__name__}")
        expected = {f.name for f in fields(cls)}
        if set(data) != expected:
            unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
            raise ParameterError(f"input spec keys do not match: unknown {unknown}, missing {missing}")
        return cls(**data)


def _refuse_constant(name: str) -> None:
    raise ParameterError(f"input spec contains {name}; expected finite numbers")


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """Model inputs of one frame: patches (K, P, P, 3) uint8 RGB, global_view (h, w, 3) uint8 RGB, the
    (x0, y0) = (column, row) frame-pixel origins the patches were cut at (K, 2) int64, and which windows were
    clamped into the frame (K,) bool."""

    patches: NDArray[np.uint8]
    global_view: NDArray[np.uint8]
    patch_origins: NDArray[np.int64]
    clamped: NDArray[np.bool_]


def _check_frame(frame: Any) -> None:
    if not isinstance(frame, np.ndarray):
        raise ParameterError(f"frame must be a numpy array (HxWx3 uint8 RGB), got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ParameterError(f"frame must be HxWx3 uint8 RGB, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise ParameterError(f"frame must be uint8 RGB in 0..255, got dtype {frame.dtype}")


def check_quad(quad: Any) -> Quad:
    """The quad as a (4, 2) float64 array; ParameterError unless finite, strictly convex and clockwise on
    screen (TL, TR, BR, BL in y-down frame coordinates)."""
    try:
        q = np.asarray(quad, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"quad must be 4 (x, y) corners in frame pixels, got {quad!r}") from None
    if q.shape != (4, 2):
        raise ParameterError(f"quad must have shape (4, 2) (TL, TR, BR, BL corners), got {q.shape}")
    if not np.all(np.isfinite(q)) or np.abs(q).max() > 1e6:
        raise ParameterError(f"quad corners must be finite frame pixels (|v| <= 1e6), got {q.tolist()}")
    edges = np.roll(q, -1, axis=0) - q
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if np.all(turns < 0):
        raise ParameterError("quad is counter-clockwise; expected clockwise on screen: TL, TR, BR, BL")
    if not np.all(turns > 0):
        raise ParameterError(f"quad is degenerate or not convex (zero area, crossed): {q.tolist()}")
    return q


def _coefficients(q: Quad) -> tuple[float, ...]:
    """(a, b, c, d, e, f, g, h) of the unit-square -> quad map, in the exact order of the module docstring."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (tuple(float(v) for v in row) for row in q)
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    den = dx1 * dy2 - dx2 * dy1
    g = (dx3 * dy2 - dx2 * dy3) / den
    h = (dx1 * dy3 - dx3 * dy1) / den
    return (x1 - x0 + g * x1, x3 - x0 + h * x3, x0, y1 - y0 + g * y1, y3 - y0 + h * y3, y0, g, h)


def card_homography(quad: Any) -> NDArray[np.float64]:
    """3x3 homography from card millimetres to continuous frame pixels (corner origin), from the 4 corners
    (clockwise from the card's top-left). Equal, up to float rounding, to cv2.getPerspectiveTransform of the
    card corners; the patch recipe evaluates it in the factored order of the module docstring instead."""
    a, b, c, d, e, f, g, h = _coefficients(check_quad(quad))
    hq = np.array([[a, b, c], [d, e, f], [g, h, 1.0]])
    return np.asarray(hq @ np.diag([1.0 / ID1_SIZE_MM[0], 1.0 / ID1_SIZE_MM[1], 1.0]))


def _check_card_size(q: Quad, spec: InputSpec) -> None:
    width_px = 0.5 * (float(np.linalg.norm(q[1] - q[0])) + float(np.linalg.norm(q[2] - q[3])))
    if width_px < 2 * spec.patch_size:
        raise ParameterError(
            f"card too small for the patch spec: card width {width_px:.1f} px (mean of top and bottom edges) "
            f"< 2 * patch_size = {2 * spec.patch_size} px; move the camera closer"
        )


def patch_origins(quad: Any, spec: InputSpec) -> NDArray[np.int64]:
    """(K, 2) int64 top-left corners (x0, y0) = (column, row) of the P x P windows, BEFORE clamping to a
    frame (steps 1-3 of the module docstring). ParameterError: bad quad, or card narrower than 2 P px."""
    q = check_quad(quad)
    _check_card_size(q, spec)
    a, b, c, d, e, f, g, h = _coefficients(q)
    cm = np.asarray(spec.patch_centres_mm, dtype=np.float64)
    u = cm[:, 0] / ID1_SIZE_MM[0]
    v = cm[:, 1] / ID1_SIZE_MM[1]
    w = g * u + h * v + 1.0
    x = (a * u + b * v + c) / w
    y = (d * u + e * v + f) / w
    half = spec.patch_size // 2
    return np.stack([np.floor(x + 0.5), np.floor(y + 0.5)], axis=1).astype(np.int64) - half


def clamp_origins(
    origins: NDArray[np.int64], frame_width: int, frame_height: int, patch_size: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Step 4: move each window inside a frame_width x frame_height frame; returns (origins, clamped (K,))."""
    if frame_width < patch_size or frame_height < patch_size:
        raise ParameterError(
            f"frame {frame_width}x{frame_height} px is smaller than one {patch_size}x{patch_size} patch"
        )
    limits = np.array([frame_width - patch_size, frame_height - patch_size], dtype=np.int64)
    clamped_origins = np.minimum(np.maximum(origins, 0), limits)
    return clamped_origins, np.any(clamped_origins != origins, axis=1)


def _cut(frame: NDArray[np.uint8], origins: NDArray[np.int64], p: int) -> NDArray[np.uint8]:
    return np.stack([frame[y0 : y0 + p, x0 : x0 + p] for x0, y0 in origins.tolist()])


def extract_patches(frame: Any, quad: Any, spec: InputSpec) -> NDArray[np.uint8]:
    """(K, P, P, 3) uint8 RGB integer crops of the frame at native resolution (steps 1-5), windows clamped
    inside the frame; `preprocess` also reports which were clamped."""
    _check_frame(frame)
    origins, _ = clamp_origins(patch_origins(quad, spec), frame.shape[1], frame.shape[0], spec.patch_size)
    return _cut(frame, origins, spec.patch_size)


def global_view_matrix(quad: Any, spec: InputSpec) -> NDArray[np.float64]:
    """M (3x3 float64): OpenCV destination pixel (i, j, 1) -> OpenCV source pixel of the frame, for
    cv2.warpPerspective(..., flags=INTER_LINEAR | WARP_INVERSE_MAP); M = S @ Hq @ D (module docstring)."""
    a, b, c, d, e, f, g, h = _coefficients(check_quad(quad))
    m = spec.global_margin_mm
    (wc, hc), (w, h_px) = ID1_SIZE_MM, spec.global_size
    sx, sy = (wc + 2.0 * m) / w, (hc + 2.0 * m) / h_px
    s = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    hq = np.array([[a, b, c], [d, e, f], [g, h, 1.0]])
    dm = np.array([[sx / wc, 0.0, (0.5 * sx - m) / wc], [0.0, sy / hc, (0.5 * sy - m) / hc], [0.0, 0.0, 1.0]])
    matrix = s @ hq @ dm
    corners = np.array([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [w, h_px, 1.0], [0.0, h_px, 1.0]]) - [0.5, 0.5, 0.0]
    if np.any((hq @ dm @ corners.T)[2] <= 1e-6):
        raise ParameterError("perspective too extreme: the global view's margin crosses the quad's horizon")
    return np.asarray(matrix)


def global_view(frame: Any, quad: Any, spec: InputSpec) -> NDArray[np.uint8]:
    """(h, w, 3) uint8 RGB: the card plus global_margin_mm of context, one perspective warp to
    spec.global_size (INTER_LINEAR, constant 0 border, OpenCV's accurate path)."""
    _check_frame(frame)
    matrix = global_view_matrix(quad, spec)
    out = cv2.warpPerspective(
        np.ascontiguousarray(frame),
        matrix,
        spec.global_size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
        hint=cv2.ALGO_HINT_ACCURATE,
    )
    return np.asarray(out, dtype=np.uint8)


def preprocess(frame: Any, quad: Any, spec: InputSpec) -> Preprocessed:
    """All model inputs of one frame; ParameterError (with what was expected) for a frame that is not HxWx3
    uint8, a bad quad (shape, non-finite, degenerate, non-convex, counter-clockwise) or a card narrower than
    2 * patch_size pixels."""
    _check_frame(frame)
    q = check_quad(quad)
    origins, clamped = clamp_origins(patch_origins(q, spec), frame.shape[1], frame.shape[0], spec.patch_size)
    return Preprocessed(_cut(frame, origins, spec.patch_size), global_view(frame, q, spec), origins, clamped)
