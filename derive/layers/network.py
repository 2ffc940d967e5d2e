"""A network with typed layers (conv2d, pooling, flatten, dense), derived layer by layer.

Each layer is a :class:`GridLayer`: its kind and settings, the sample shape it reads and
writes, and what SymPy derived for it: the activation's f and f′ (dense and conv2d, as for a
dense network), the conv layer's partials and chain-rule sums (:mod:`derive.layers.conv2d`), a
pooling window's partials (:mod:`derive.layers.pool2d`). Each rule is derived once and cached,
so derivation time stays linear in depth. The output layer is dense; its δ is derived as in
:mod:`derive.network`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from derive import naming
from derive.bounded import STEP_SECONDS, NotProvedError
from derive.elementwise import derive_elementwise
from derive.errors import SpecError
from derive.layers.conv2d import ConvDerivation, derive_conv2d
from derive.layers.grid import Conv2dSpec, GridSpec, Pool2dSpec, Shape
from derive.layers.pool2d import PoolDerivation, derive_pool2d
from derive.network import LayerDerivation, NetworkDerivation, _output
from derive.spec import LayerSpec


@dataclass(frozen=True)
class GridLayer:
    index: int  # l, from 1
    kind: str  # dense | conv2d | maxpool2d | avgpool2d | flatten
    settings: Any  # LayerSpec | Conv2dSpec | Pool2dSpec | FlattenSpec
    in_shape: Shape  # a sample's shape: (C, H, W) or (d,)
    out_shape: Shape
    unit: LayerDerivation | None  # dense and conv2d: the activation (f, f′) and the init's fans
    conv: ConvDerivation | None = None
    pool: PoolDerivation | None = None

    @property
    def has_params(self) -> bool:
        return self.kind in ("dense", "conv2d")


@dataclass(frozen=True)
class GridNetworkDerivation(NetworkDerivation):
    """``layers`` holds :class:`GridLayer` items; ``spec`` is a :class:`GridSpec`."""


def derive_grid(spec: GridSpec) -> GridNetworkDerivation:
    layers = tuple(_layer(spec, index) for index in range(1, len(spec.layers) + 1))
    last = layers[-1].unit
    assert last is not None  # the spec reader makes the output layer dense
    try:
        output = _output(spec, last)
    except NotProvedError as error:
        raise SpecError("loss", f"{error} within {STEP_SECONDS:g} s; try a simpler loss formula",
                        spec.source) from None
    return GridNetworkDerivation(spec, layers, output)  # type: ignore[arg-type]


def _layer(spec: GridSpec, index: int) -> GridLayer:
    settings = spec.layers[index - 1]
    in_shape, out_shape = spec.shapes[index - 1], spec.shapes[index]
    if isinstance(settings, LayerSpec):
        return GridLayer(index, "dense", settings, in_shape, out_shape,
                         _unit(index, settings, in_shape[0], out_shape[0]))
    if isinstance(settings, Conv2dSpec):
        area = settings.kernel[0] * settings.kernel[1]
        unit = _unit(index, settings, in_shape[0] * area, settings.filters * area)
        return GridLayer(index, "conv2d", settings, in_shape, out_shape, unit, conv=derive_conv2d())
    if isinstance(settings, Pool2dSpec):
        return GridLayer(index, settings.kind, settings, in_shape, out_shape, None,
                         pool=derive_pool2d(settings.kind, settings.pool))
    assert math.prod(in_shape) == out_shape[0]
    return GridLayer(index, "flatten", settings, in_shape, out_shape, None)


def _unit(index: int, settings: LayerSpec | Conv2dSpec, fan_in: int, fan_out: int) -> LayerDerivation:
    """The activation of a dense or conv layer, as :func:`derive.network._layer` derives it.
    fan_in and fan_out are the init's: a conv layer's are C·kh·kw and F·kh·kw, as in PyTorch."""
    rule = settings.activation
    init = settings.init if settings.init != "auto" else rule.init
    units = fan_out
    if rule.kind == "softmax":
        return LayerDerivation(index, fan_in, units, rule, init, None, None, None)
    derived = derive_elementwise(rule)
    names = {naming.z: naming.Z(index), naming.a: naming.A(index)}
    return LayerDerivation(index, fan_in, units, rule, init, derived,
                           derived.forward.subs(names), derived.backward.subs(names))
