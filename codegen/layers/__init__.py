"""The generated code of each layer kind of a network with typed layers, one module per kind,
found in one table (as the activations are in :mod:`derive.rules`)."""

from __future__ import annotations

from codegen.layers import conv2d, dense, flatten, pool2d
from codegen.layers.base import KindCode

KINDS: dict[str, KindCode] = {
    "dense": dense.CODE,
    "conv2d": conv2d.CODE,
    "maxpool2d": pool2d.MAX,
    "avgpool2d": pool2d.AVG,
    "flatten": flatten.CODE,
}
