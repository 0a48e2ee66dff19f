"""Print recapture: the diffuse reflectance of a printed copy of the card, area-prefiltered at each sample.

The renderer asks for the sheet's linear-RGB diffuse reflectance at sample points given in millimetres
relative to the top-left corner of the printed card image (the card occupies [0, 85.60] x [0, 53.98]; outside
it the sheet is bare paper). Halftone moire is not painted here: it appears when the camera samples the print.

Physics
- Separation (a calibrated driver; inks.py): linear reflectance relative to paper -> channel densities ->
  solid-ink amounts by the masking equations, full grey-component replacement into K, 280 % total area limit;
  amounts become dot areas through the Yule-Nielsen inverse. Grey copy: luminance -> K only. Contone: dye
  amounts.
- Mechanical dot gain a + g sin(pi a) on top, not compensated by the driver (halftone.mechanical_dot_gain).
- Screens (halftone.py): AM rotated round dots at C 15, M 75, Y 0, K 45 degrees by default, FM blue noise;
  dot edges prefiltered at the sample footprint.
- Inks are imperfect filters (inks.py): a solid ink has a linear-RGB double-pass transmittance t (cyan absorbs
  red strongly and some green, magenta green and some blue, yellow blue, black all). Overlapping inks multiply
  (a Neugebauer model with independent screens), which gives the reduced gamut of a print; `ink_density`
  scales absorbance, t -> t ** density.
- Optical dot gain, physically: R = paper * T * (G_sigma * T), T the single-pass transmittance of the ink
  layer, G_sigma the lateral light spread in paper (paper.py), sigma calibrated so that a 50 % screen shows
  the requested Yule-Nielsen n. Where a sample cannot resolve the screen, its ink fraction a enters through
  the Yule-Nielsen relation: each ink multiplies T by (1 - a + a t^(1/n))^(n/2) (exactly sqrt(t) for a solid
  dot), so R = paper * [sum of Demichel weights * R_k^(1/n)]^n for a mixed sample.
- Contone (dye-sub): R = paper * prod t_i ** amount_i after a Gaussian dye-diffusion blur.
- Paper: whiteness per channel times fibre and formation texture in sheet millimetres (paper.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM
from capture_sim.ops import register_op
from capture_sim.presentation.halftone import LEVELS, Footprint, am_ink, am_luts, fm_ink, fm_luts
from capture_sim.presentation.inks import COPIER_TONER as COPIER_TONER
from capture_sim.presentation.inks import DYE_INKS as DYE_INKS
from capture_sim.presentation.inks import PIGMENT_INKS as PIGMENT_INKS
from capture_sim.presentation.inks import (
    STRIP_ROWS,
    area_levels,
    float_lut,
    ink_transmittance,
    separate_amounts,
)
from capture_sim.presentation.inks import separate_inks as separate_inks
from capture_sim.presentation.paper import (
    effective_n,
    ink_layer_transmittance,
    paper_scatter,
    paper_texture,
    scatter_sigma_cells,
    yule_nielsen_coefficients,
)
from capture_sim.rng import make_rng
from capture_sim.validation import check_choice, check_range
from cardlive.errors import ParameterError

FloatArray = NDArray[np.float32]

PRINT_FAMILIES = ("laser_am", "inkjet_fm", "dyesub_photo", "grey_copy")
PRINT_PROCESSES = ("am", "fm", "contone")
SHEETS = ("cut", "a4", "letter")
DEFAULT_SCREEN_ANGLES = (15.0, 75.0, 0.0, 45.0)
FAMILY_PROCESS = {"laser_am": "am", "inkjet_fm": "fm", "dyesub_photo": "contone", "grey_copy": "am"}
_SHEET_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}


@dataclass(frozen=True)
class PrintParams:
    """One printer + paper. Ranges are checked in __post_init__ (units in the field comments)."""

    family: str  # one of PRINT_FAMILIES
    process: str  # "am", "fm" or "contone"; must match the family
    grey: bool  # K only (grey copy)
    lpi: float  # AM screen ruling, 85-200 lines per inch
    screen_angles_deg: tuple[float, float, float, float] = DEFAULT_SCREEN_ANGLES  # C, M, Y, K
    fm_dot_um: float = 30.0  # FM printer cell / droplet diameter, 15-80 um
    dot_gain: float = 0.12  # mechanical dot gain at 50 % coverage, 0-0.30
    yule_nielsen_n: float = 1.7  # optical dot gain, 1.0-2.5
    paper_white: tuple[float, float, float] = (0.86, 0.87, 0.89)  # linear reflectance of bare paper, 0.6-0.95
    paper_texture: float = 0.05  # relative fibre / formation texture amplitude, 0-0.12
    ink_density: float = 1.0  # scale on ink absorbance, 0.7-1.1
    contone_blur_mm: float = 0.05  # dye diffusion blur (Gaussian sigma) for contone, 0.02-0.15 mm
    laminated: bool = False  # glossy laminate pouch over the print
    gloss: float = 0.03  # specular strength, 0-1 (matte ~0.02, photo ~0.3, laminate ~0.6)
    sheet: str = "cut"  # "cut" (cut to card size), "a4" or "letter"

    def __post_init__(self) -> None:
        check_choice("family", self.family, PRINT_FAMILIES)
        check_choice("process", self.process, (FAMILY_PROCESS[self.family],))
        check_choice("grey", self.grey, (self.family == "grey_copy",))
        check_range("lpi", self.lpi, 85.0, 200.0)
        if len(self.screen_angles_deg) != 4:
            raise ParameterError(f"screen_angles_deg={self.screen_angles_deg!r} must hold 4 angles (C, M, Y, K)")
        for name, angle in zip("CMYK", self.screen_angles_deg, strict=True):
            check_range(f"screen_angles_deg[{name}]", angle, -180.0, 180.0)
        check_range("fm_dot_um", self.fm_dot_um, 15.0, 80.0)
        check_range("dot_gain", self.dot_gain, 0.0, 0.30)
        check_range("yule_nielsen_n", self.yule_nielsen_n, 1.0, 2.5)
        if len(self.paper_white) != 3:
            raise ParameterError(f"paper_white={self.paper_white!r} must hold 3 reflectances (R, G, B)")
        for name, value in zip("RGB", self.paper_white, strict=True):
            check_range(f"paper_white[{name}]", value, 0.6, 0.95)
        check_range("paper_texture", self.paper_texture, 0.0, 0.12)
        check_range("ink_density", self.ink_density, 0.7, 1.1)
        check_range("contone_blur_mm", self.contone_blur_mm, 0.02, 0.15)
        check_choice("laminated", self.laminated, (False, True))
        check_range("gloss", self.gloss, 0.0, 1.0)
        check_choice("sheet", self.sheet, SHEETS)


class _Ranges(NamedTuple):
    """Per family: (low, high) of dot gain, Yule-Nielsen n, paper brightness, texture and ink density; the
    probability of a laminate pouch; sheet probabilities (cut, a4, letter)."""

    gain: tuple[float, float]
    n: tuple[float, float]
    white: tuple[float, float]
    texture: tuple[float, float]
    density: tuple[float, float]
    laminate: float
    sheet: tuple[float, float, float]


_R = _Ranges
_FAMILY_RANGES = {
    "laser_am": _R((0.05, 0.2), (1.4, 1.9), (0.82, 0.92), (0.03, 0.08), (0.85, 1.05), 0.3, (0.5, 0.35, 0.15)),
    "inkjet_fm": _R((0.05, 0.15), (1.5, 2.0), (0.8, 0.92), (0.01, 0.08), (0.9, 1.1), 0.2, (0.4, 0.4, 0.2)),
    "dyesub_photo": _R((0.0, 0.0), (1.0, 1.0), (0.86, 0.93), (0.0, 0.025), (0.85, 1.05), 0.15, (0.85, 0.1, 0.05)),
    "grey_copy": _R((0.12, 0.25), (1.5, 2.0), (0.78, 0.9), (0.04, 0.12), (0.75, 0.95), 0.1, (0.3, 0.5, 0.2)),
}


def sample_print_params(rng: np.random.Generator, family: str) -> PrintParams:
    """Draw one printer + paper of `family` (one of PRINT_FAMILIES) from its plausible ranges.

    laser_am: AM 100-200 lpi (30 % rational-tangent angle set), plain paper or laminated; inkjet_fm: FM
    15-40 um droplets on plain or photo paper; dyesub_photo: contone on glossy photo paper (gloss 0.2-0.5);
    grey_copy: AM K only, 85-150 lpi at 45 degrees, heavier dot gain, weaker toner, greyer paper (lower
    contrast).
    """
    check_choice("family", family, PRINT_FAMILIES)
    r = _FAMILY_RANGES[family]
    laminated = bool(rng.random() < r.laminate)
    photo = family == "dyesub_photo" or (family == "inkjet_fm" and bool(rng.random() < 0.4))
    angles = (18.43, 71.57, 0.0, 45.0) if family == "laser_am" and rng.random() < 0.3 else DEFAULT_SCREEN_ANGLES
    lpi = float(rng.uniform(85.0, 150.0) if family == "grey_copy" else rng.uniform(100.0, 200.0))
    base = rng.uniform(*r.white)
    kind = "oba" if photo else str(rng.choice(["oba", "neutral", "cream"], p=[0.55, 0.3, 0.15]))
    tint = {"oba": (-0.02, 0.0, 0.035), "neutral": (0.0, 0.0, 0.0), "cream": (0.01, 0.0, -0.07)}[kind]
    white = tuple(float(np.clip(base + t + rng.normal(0.0, 0.005), 0.6, 0.95)) for t in tint)
    texture = float(rng.uniform(*r.texture)) * (0.35 if photo and family == "inkjet_fm" else 1.0)
    gloss = rng.uniform(0.45, 0.7) if laminated else (rng.uniform(0.2, 0.4) if photo else rng.uniform(0.02, 0.08))
    if family == "dyesub_photo":  # glossy photo paper (its own overcoat, pouch or not)
        gloss = rng.uniform(0.2, 0.5)
    return PrintParams(
        family=family,
        process=FAMILY_PROCESS[family],
        grey=family == "grey_copy",
        lpi=lpi,
        screen_angles_deg=angles,
        fm_dot_um=float(rng.uniform(15.0, 40.0)),
        dot_gain=float(rng.uniform(*r.gain)),
        yule_nielsen_n=float(rng.uniform(*r.n)),
        paper_white=(white[0], white[1], white[2]),
        paper_texture=texture,
        ink_density=float(rng.uniform(*r.density)),
        contone_blur_mm=float(rng.uniform(0.02, 0.15)),
        laminated=laminated,
        gloss=float(gloss),
        sheet=str(rng.choice(SHEETS, p=list(r.sheet))),
    )


def sheet_size_mm(params: PrintParams) -> tuple[float, float]:
    """(width, height) of the sheet in mm: the card itself when cut, else A4 / Letter in portrait."""
    return (CARD_WIDTH_MM, CARD_HEIGHT_MM) if params.sheet == "cut" else _SHEET_MM[params.sheet]


def card_offset_on_sheet_mm(params: PrintParams, rng: np.random.Generator) -> tuple[float, float]:
    """Top-left corner of the card image in sheet coordinates (mm); (0, 0) for a cut print.

    On a page the card sits inside the printable area (>= 6 mm margins): mostly near the top-left corner as a
    document editor places it, sometimes centred horizontally, sometimes anywhere.
    """
    if params.sheet == "cut":
        return 0.0, 0.0
    w, h = _SHEET_MM[params.sheet]
    margin = 6.0
    mode = rng.choice(3, p=[0.5, 0.3, 0.2])
    if mode == 0:
        return float(rng.uniform(margin, 35.0)), float(rng.uniform(margin, 45.0))
    if mode == 1:
        return float((w - CARD_WIDTH_MM) / 2.0), float(rng.uniform(margin, 80.0))
    return float(rng.uniform(margin, w - CARD_WIDTH_MM - margin)), float(
        rng.uniform(margin, h - CARD_HEIGHT_MM - margin)
    )


def _check_inputs(content: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray, footprint: np.ndarray | float) -> None:
    if content.dtype != np.uint8 or content.ndim != 3 or content.shape[2] != 3:
        raise ParameterError(f"content_srgb must be uint8 (H, W, 3); got {content.dtype} {content.shape}")
    if x_mm.ndim != 2 or x_mm.shape != y_mm.shape:
        raise ParameterError(f"x_mm, y_mm must be (H, W) arrays of one shape; got {x_mm.shape}, {y_mm.shape}")
    foot = np.asarray(footprint)
    if foot.ndim not in (0, 2) or (foot.ndim == 2 and foot.shape != x_mm.shape):
        raise ParameterError(f"footprint_mm must be a scalar or of shape {x_mm.shape}; got {foot.shape}")
    if not float(foot.min()) > 0:
        raise ParameterError("footprint_mm must be > 0 (the side of a sample in mm)")


@register_op("printing.print_reflectance")
def print_reflectance(
    content_srgb: NDArray[np.uint8],
    x_mm: FloatArray,
    y_mm: FloatArray,
    footprint_mm: FloatArray | float,
    params: PrintParams,
    seed: int,
) -> FloatArray:
    """Linear-RGB diffuse reflectance (H, W, 3) float32 in [0, 1] of the printed sheet at (x_mm, y_mm).

    content_srgb: uint8 (h, w, 3) image covering the card area 85.60 x 53.98 mm; x_mm, y_mm: (H, W) sheet
    points in mm relative to the card's top-left corner; footprint_mm: side (mm) of the area each sample
    covers, scalar or (H, W); seed (>= 0): screen phases, FM threshold symmetries and paper texture.
    """
    return _finish(*print_reflectance_planes(content_srgb, x_mm, y_mm, footprint_mm, params, seed))


def print_reflectance_planes(
    content_srgb: NDArray[np.uint8],
    x_mm: FloatArray,
    y_mm: FloatArray,
    footprint_mm: FloatArray | float,
    params: PrintParams,
    seed: int,
) -> tuple[list[FloatArray], FloatArray]:
    """print_reflectance before its last step: the three (H, W) reflectance planes and the paper texture.
    finish_planes(planes, paper, rows) gives rows of print_reflectance's planes (a caller working in blocks of
    rows need not interleave the whole sheet)."""
    _check_inputs(content_srgb, x_mm, y_mm, footprint_mm)
    x = np.ascontiguousarray(x_mm, dtype=np.float32)
    y = np.ascontiguousarray(y_mm, dtype=np.float32)
    foot: FloatArray | float = float(footprint_mm) if np.ndim(footprint_mm) == 0 else np.asarray(footprint_mm)
    if isinstance(foot, np.ndarray):
        foot = np.ascontiguousarray(foot, dtype=np.float32)
        foot_med = float(np.median(foot[:: max(1, foot.shape[0] // 64), :: max(1, foot.shape[1] // 64)]))
    else:
        foot_med = foot
    rng = make_rng(seed, 0, "printing.screen")
    contone = params.process == "contone"
    amounts = separate_amounts(content_srgb, params)
    used = [i for i in ((3,) if params.grey else range(3 if contone else 4)) if float(amounts[i].max()) > 0.0]
    sx, sy = content_srgb.shape[1] / CARD_WIDTH_MM, content_srgb.shape[0] / CARD_HEIGHT_MM
    blur_px = np.hypot(0.3 * foot_med * sx, params.contone_blur_mm * sx if contone else 0.0)
    planes = [amounts[i] for i in used]
    if blur_px > 0.3:  # content prefilter at the footprint (and dye diffusion), at content resolution
        planes = [np.asarray(cv2.GaussianBlur(a, (0, 0), blur_px, borderType=cv2.BORDER_REPLICATE)) for a in planes]
    paper = paper_texture(x, y, foot, params.paper_texture, seed)
    refl = [np.full(x.shape, w, dtype=np.float32) for w in params.paper_white]
    if not planes:
        return refl, paper
    # ink amounts at 8 bits (like a RIP), sampled bilinearly at the sheet points; zero (paper) off the card
    levels = cv2.merge([cv2.convertScaleAbs(a, alpha=255.0) for a in planes])
    t = ink_transmittance(params)
    log_t, cell_mm = np.log(t), 25.4 / params.lpi if params.process == "am" else params.fm_dot_um / 1000.0
    fp = Footprint.of(foot, cell_mm)
    make_luts = am_luts if params.process == "am" else fm_luts
    luts = [] if contone else [make_luts(area_levels(params, i), fp.inv_ref) for i in used]
    phases = rng.uniform(0.0, 1.0, size=(4, 2))
    fm_seed = int(rng.integers(0, 2**31 - 1))
    sigma_px = scatter_sigma_cells(params.yule_nielsen_n, params.process) * cell_mm / foot_med
    # light mixing inside one sample: the print's n where samples cannot resolve the screen, else the n that
    # the scattering produces across a sample (1 without scattering, 2 when it spreads over many samples)
    n_mix = params.yule_nielsen_n if foot_med / cell_mm >= 0.5 else effective_n(sigma_px)
    k1, k2 = yule_nielsen_coefficients(t, n_mix)
    root_w = np.sqrt(np.asarray(params.paper_white, dtype=np.float64))
    for r0 in range(0, x.shape[0], STRIP_ROWS):
        rows = slice(r0, r0 + STRIP_ROWS)
        xs, ys = x[rows], y[rows]
        map_x = cv2.addWeighted(xs, sx, xs, 0.0, -0.5)
        map_y = cv2.addWeighted(ys, sy, ys, 0.0, -0.5)
        cover = [np.asarray(c, dtype=np.uint8) for c in cv2.split(cv2.remap(levels, map_x, map_y, cv2.INTER_LINEAR))]
        if contone:  # R = paper * prod t ** amount, in log space
            for c in range(3):
                dens = np.full(xs.shape, np.log(params.paper_white[c]), dtype=np.float32)
                for i, lv in zip(used, cover, strict=True):
                    dens += cv2.LUT(lv, float_lut(LEVELS * log_t[i, c]))
                np.exp(dens, out=refl[c][rows])
            continue
        fps = fp.rows(rows)
        if params.process == "am":
            angles = params.screen_angles_deg
            fracs = [
                am_ink(lv, xs, ys, fps, params.lpi, angles[i], (phases[i, 0], phases[i, 1]), lt)
                for i, lv, lt in zip(used, cover, luts, strict=True)
            ]
        else:
            fracs = fm_ink(cover, xs, ys, fps, params.fm_dot_um, fm_seed, luts)
        ink_layer_transmittance([r[rows] for r in refl], [k1[i] for i in used], [k2[i] for i in used], fracs, root_w)
    if not contone:  # R = T * (G_sigma * T): light enters through the ink, spreads in the paper, exits
        for r in refl:
            r *= paper_scatter(r, sigma_px)
    return refl, paper


def finish_planes(planes: list[FloatArray], paper: FloatArray, rows: slice) -> list[FloatArray]:
    """Rows of the reflectance planes times the paper texture, clipped to [0, 1] (in place; returns the views)."""
    out = []
    for p in planes:
        block = p[rows]
        block *= paper[rows]
        np.clip(block, 0.0, 1.0, out=block)
        out.append(block)
    return out


def _finish(planes: list[FloatArray], paper: FloatArray) -> FloatArray:
    return np.asarray(cv2.merge(finish_planes(planes, paper, slice(None))))
