"""flatten: the (C, H, W) values of each sample as one row, in PyTorch's order, and its derivative.

A[k, (c·H + i)·W + j] = A⁽ˡ⁻¹⁾[k, c, i, j]. Each output entry is one input entry, so ∂A/∂A⁽ˡ⁻¹⁾ is 1
from each entry to its place and 0 elsewhere: ∂E/∂A⁽ˡ⁻¹⁾ is ∂E/∂A put back into the image's shape.
No spec fields besides ``type``; no parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from derive.errors import SpecError
from derive.layers.kind import LayerKind, Settings, Shape


@dataclass(frozen=True)
class FlattenSpec(Settings):
    """A[k, (c·H + i)·W + j] = A⁽ˡ⁻¹⁾[k, c, i, j]: PyTorch's order."""

    kind: ClassVar[str] = "flatten"
    activation: ClassVar[None] = None
    init: ClassVar[str] = "auto"


class FlattenKind(LayerKind):
    name = "flatten"
    needs = "image"
    stage = "flatten"

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[FlattenSpec, Shape]:
        if len(shape) != 3:
            raise SpecError(f"{path}.type", f"flatten needs an image input [C, H, W], got a flat input of {shape[0]}")
        return FlattenSpec(), (math.prod(shape),)

    def forward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        return A.reshape(A.shape[0], -1)  # row-major: channel, then row, then column

    def backward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return {}, delta.reshape(A.shape)
