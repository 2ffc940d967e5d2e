"""Layer kinds: one object per kind, registered here once; every stage asks it (:mod:`derive.layers.kind`).

A kind's stages live in modules named after its ``stage``: ``derive/layers/<stage>.py`` (spec fields,
derivation, proof, numbers), ``derive/story/layers/<stage>.py`` (its part of the document) and
``codegen/layers/<stage>.py`` (its generated lines). A new kind is one module per stage and one line below.

Shapes: a sample is a flat vector (d,) or an image (C, H, W), as in PyTorch; a batch is (n, d) or
(n, C, H, W). The generated code keeps images as (n, H, W, C) inside, where a window is a view.
"""

from __future__ import annotations

from derive.layers.conv2d import Conv2dKind
from derive.layers.dense import DenseKind
from derive.layers.flatten import FlattenKind
from derive.layers.kind import LayerKind, Settings, Shape
from derive.layers.pool2d import PoolKind

KINDS: dict[str, LayerKind] = {kind.name: kind for kind in (
    DenseKind(),
    Conv2dKind(),
    PoolKind("maxpool2d"),
    PoolKind("avgpool2d"),
    FlattenKind(),
)}

__all__ = ["KINDS", "LayerKind", "Settings", "Shape"]
