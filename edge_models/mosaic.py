"""The recapture model's single input image: the preprocessing contract's outputs laid out in one mosaic.

Layout (uint8 RGB, NHWC): the K texture patches tiled row by row, `PATCH_COLS` per row, at the top; the global
view below them, left-aligned; everything else 0. One image keeps the model loadable by MediaPipe Tasks' image
classifier, and the layout is fixed by the InputSpec that travels with the weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardlive.errors import ParameterError
from edge_models.models.recapture import MosaicLayout
from edge_models.preprocess import InputSpec, Preprocessed, preprocess

PATCH_COLS = 4
RECAPTURE_SPEC = InputSpec(global_size=(256, 160))


def layout_for(spec: InputSpec) -> MosaicLayout:
    """The mosaic layout a spec implies (the model is built with the same layout)."""
    k = spec.num_patches
    return MosaicLayout(
        patch_size=spec.patch_size,
        patch_rows=math.ceil(k / PATCH_COLS),
        patch_cols=min(PATCH_COLS, k),
        global_width=spec.global_size[0],
        global_height=spec.global_size[1],
    )


def assemble(pre: Preprocessed, layout: MosaicLayout) -> NDArray[np.uint8]:
    """Place preprocessed patches and the global view into the mosaic."""
    p = layout.patch_size
    if pre.patches.shape[0] > layout.patches or pre.patches.shape[1:3] != (p, p):
        raise ParameterError(f"patches of shape {pre.patches.shape} do not fit the layout {layout}")
    if pre.global_view.shape[:2] != (layout.global_height, layout.global_width):
        raise ParameterError(f"global view of shape {pre.global_view.shape} does not fit the layout {layout}")
    mosaic = np.zeros((layout.height, layout.width, 3), dtype=np.uint8)
    for k, patch in enumerate(pre.patches):
        r, c = divmod(k, layout.patch_cols)
        mosaic[r * p : (r + 1) * p, c * p : (c + 1) * p] = patch
    top = layout.patch_rows * p
    mosaic[top : top + layout.global_height, : layout.global_width] = pre.global_view
    return mosaic


def build_mosaic(frame: NDArray[np.uint8], quad: Any, spec: InputSpec = RECAPTURE_SPEC) -> NDArray[np.uint8]:
    """Frame + card quad -> the recapture model's input image."""
    return assemble(preprocess(frame, quad, spec), layout_for(spec))
