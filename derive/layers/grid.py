"""A spec with image input or typed layers: its layer kinds, their fields and every shape.

Contract (TOML)::

    inputs = [1, 8, 8]         # C, H, W (an integer stays a flat vector)
    [[layers]]
    type = "conv2d"            # dense (default) | conv2d | maxpool2d | avgpool2d | flatten
    filters = 8
    kernel = 3                 # k or [kh, kw]
    stride = 1                 # s or [sh, sw]
    padding = 1                # p, [ph, pw], "same" (stride 1; odd kernel) or "valid" (= 0)
    activation = "relu"
    init = "auto"
    [[layers]]
    type = "maxpool2d"         # or avgpool2d
    pool = 2                   # k or [ph, pw]
    stride = 2                 # defaults to pool
    [[layers]]
    type = "flatten"
    [[layers]]
    units = 10                 # dense; the last layer must be dense
    activation = "softmax"

Output size of a window layer along one axis: ⌊(H + 2p − k) / s⌋ + 1, as in PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from derive.errors import SpecError
from derive.rules import ActivationRule
from derive.spec import (
    DTYPES,
    INITS,
    MAX_UNITS,
    REDUCTIONS,
    TOP_KEYS,
    LayerSpec,
    Spec,
    _activation,
    _choice,
    _identifier,
    _integer,
    _known_keys,
    _loss,
    _partial_domains,
    _type,
    _unwise,
    layer_list,
)

KINDS = ("dense", "conv2d", "maxpool2d", "avgpool2d", "flatten")
KIND_KEYS = {
    "dense": ("type", "units", "activation", "init"),
    "conv2d": ("type", "filters", "kernel", "stride", "padding", "activation", "init"),
    "maxpool2d": ("type", "pool", "stride"),
    "avgpool2d": ("type", "pool", "stride"),
    "flatten": ("type",),
}
MAX_SIDE = 4096
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Conv2dSpec:
    """Z[k, f, i, j] = b[f] + Σ_c Σ_u Σ_v W[f, c, u, v] A[k, c, s·i + u − p, s·j + v − p]."""

    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    activation: ActivationRule
    init: str = "auto"
    kind: str = "conv2d"


@dataclass(frozen=True)
class Pool2dSpec:
    """A[k, c, i, j] = max (or mean) over u < ph, v < pw of A⁽ˡ⁻¹⁾[k, c, s·i + u, s·j + v]."""

    kind: str  # maxpool2d | avgpool2d
    pool: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True)
class FlattenSpec:
    """A[k, (c·H + i)·W + j] = A⁽ˡ⁻¹⁾[k, c, i, j]: PyTorch's order."""

    kind: str = "flatten"


def is_grid(data: dict[str, Any]) -> bool:
    """Whether a spec table needs this reader: image input, or a layer that is not dense."""
    layers = data.get("layers")
    typed = isinstance(layers, list) and any(isinstance(item, dict) and item.get("type", "dense") != "dense"
                                             for item in layers)
    return isinstance(data.get("inputs"), list) or typed


def input_shape(value: Any) -> Shape:
    """``inputs``: an integer (flat features) or [C, H, W]."""
    if isinstance(value, list):
        if len(value) != 3:
            raise SpecError("inputs", f"expected an integer or [channels, height, width], got {len(value)} numbers")
        return tuple(_side(v, f"inputs[{index}]") for index, v in enumerate(value))
    return (_side(value, "inputs", 1_000_000),)


def _side(value: Any, path: str, most: int = MAX_SIDE) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"expected an integer, got {value!r}")
    if not 1 <= value <= most:
        raise SpecError(path, f"expected an integer from 1 to {most}, got {value}")
    return value


def pair(value: Any, path: str, least: int = 1) -> tuple[int, int]:
    """k or [kh, kw] as (kh, kw)."""
    values = value if isinstance(value, list) else [value, value]
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise SpecError(path, f"expected an integer or [height, width] of integers, got {value!r}")
    for v in values:
        if not least <= v <= MAX_SIDE:
            raise SpecError(path, f"expected integers from {least} to {MAX_SIDE}, got {value!r}")
    return values[0], values[1]


def padding(value: Any, path: str, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """An integer, [ph, pw], "valid" (0) or "same" (output size = input size: stride 1, odd kernel)."""
    if value == "valid":
        return 0, 0
    if value == "same":
        if stride != (1, 1):
            raise SpecError(path, f'"same" padding needs stride 1, got stride {list(stride)}')
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise SpecError(path, f'"same" padding needs an odd kernel (pad (k - 1)/2 on each side), '
                                  f"got kernel {list(kernel)}")
        return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    if isinstance(value, str):
        raise SpecError(path, f"unknown value {value!r}; expected an integer, [height, width], \"same\" or \"valid\"")
    return pair(value, path, least=0)


def window_out(shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int],
               path: str, what: str) -> tuple[int, int]:
    """(Ho, Wo) of a window slid over the padded (H, W), or the one-line error when it does not fit."""
    _, height, width = shape
    padded = (height + 2 * pad[0], width + 2 * pad[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        where = f"padded input {padded[0]}x{padded[1]}" if pad != (0, 0) else f"input {height}x{width}"
        raise SpecError(path, f"{what} {kernel[0]}x{kernel[1]} is larger than its {where} "
                              f"(shape {list(shape)})")
    return (padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1


LayerKind = Conv2dSpec | Pool2dSpec | FlattenSpec  # and derive.spec.LayerSpec for dense layers


@dataclass(frozen=True)
class GridSpec(Spec):
    """A spec with typed layers: ``layers`` holds a LayerSpec (dense) or a kind spec per layer,
    ``shapes`` the sample shape before the first layer and after each ((C, H, W) or (d,)).
    ``inputs`` is the number of features of a sample, C·H·W."""

    shapes: tuple[Shape, ...] = ()

    @property
    def sizes(self) -> tuple[Any, ...]:  # type: ignore[override]
        return tuple(shape if len(shape) == 3 else shape[0] for shape in self.shapes)

    @property
    def input_shape(self) -> Shape:
        return self.shapes[0]


def grid_spec(checker: Any, data: dict[str, Any]) -> GridSpec:
    """Check a spec with typed layers (``checker`` is derive.spec's, for the fields all specs share)."""
    _known_keys(data, TOP_KEYS, "")
    for required in ("name", "inputs", "layers", "loss"):
        if required not in data:
            raise SpecError(required, "missing (required)")
    if "data" in data:
        raise SpecError("data", "a [data] table is not supported with typed layers yet; "
                                "pass a batch with --data instead")
    name = _identifier(data["name"], "name")
    shape = input_shape(data["inputs"])
    layers, shapes = _layers(data["layers"], shape)
    loss = _loss(data["loss"])
    reduction = _choice(data.get("reduction", "sum"), "reduction", REDUCTIONS)
    dtype = _choice(data.get("dtype", "float64"), "dtype", DTYPES)
    train = checker.train(data.get("train", {}))
    dense = tuple(layer for layer in layers if isinstance(layer, LayerSpec))
    warnings = tuple(_partial_domains(dense) + _unwise(layers[-1], loss, len(layers)))
    return GridSpec(name, math.prod(shape), layers, loss, reduction, dtype, train, checker.source, warnings,
                    None, shapes)


def _layers(value: Any, shape: Shape) -> tuple[tuple[Any, ...], tuple[Shape, ...]]:
    layers: list[Any] = []
    shapes = [shape]
    for index, item in enumerate(layer_list(value)):
        path = f"layers[{index}]"
        if not isinstance(item, dict):
            raise SpecError(path, f"expected a table with a type and its settings, got {_type(item)}")
        kind = _choice(item.get("type", "dense"), f"{path}.type", KINDS)
        _known_keys(item, KIND_KEYS[kind], path)
        layer, out = _layer(kind, item, shapes[-1], path)
        layers.append(layer)
        shapes.append(out)
    for index, layer in enumerate(layers[:-1]):
        if getattr(layer, "activation", None) is not None and layer.activation.kind == "softmax":
            raise SpecError(f"layers[{index}].activation", "softmax is supported on the output layer only")
    if not isinstance(layers[-1], LayerSpec):
        raise SpecError(f"layers[{len(layers) - 1}].type", f"the output layer must be dense (add flatten and a "
                                                           f"dense layer), got {layers[-1].kind}")
    return tuple(layers), tuple(shapes)


def _layer(kind: str, item: dict[str, Any], shape: Shape, path: str) -> tuple[Any, Shape]:
    image = len(shape) == 3
    if kind != "dense" and kind != "flatten" and not image:
        raise SpecError(f"{path}.type", f"{kind} needs an image input [C, H, W], got a flat input of {shape[0]}")
    if kind == "dense":
        if image:
            raise SpecError(f"{path}.type", f"a dense layer needs a flat input, got shape {list(shape)}; "
                                            'add a layer with type = "flatten" before it')
        if "units" not in item:
            raise SpecError(f"{path}.units", "missing (required)")
        units = _integer(item["units"], f"{path}.units", 1, MAX_UNITS)
        activation = _activation(item.get("activation", "identity"), f"{path}.activation")
        return LayerSpec(units, activation, _choice(item.get("init", "auto"), f"{path}.init", INITS)), (units,)
    if kind == "flatten":
        if not image:
            raise SpecError(f"{path}.type", f"flatten needs an image input [C, H, W], got a flat input of {shape[0]}")
        return FlattenSpec(), (math.prod(shape),)
    if kind == "conv2d":
        for required in ("filters", "kernel"):
            if required not in item:
                raise SpecError(f"{path}.{required}", "missing (required)")
        filters = _integer(item["filters"], f"{path}.filters", 1, MAX_UNITS)
        kernel = pair(item["kernel"], f"{path}.kernel")
        stride = pair(item.get("stride", 1), f"{path}.stride")
        pad = padding(item.get("padding", 0), f"{path}.padding", kernel, stride)
        activation = _activation(item.get("activation", "identity"), f"{path}.activation")
        init = _choice(item.get("init", "auto"), f"{path}.init", INITS)
        height, width = window_out(shape, kernel, stride, pad, f"{path}.kernel", "kernel")
        return Conv2dSpec(filters, kernel, stride, pad, activation, init), (filters, height, width)
    if "pool" not in item:
        raise SpecError(f"{path}.pool", "missing (required)")
    pool = pair(item["pool"], f"{path}.pool")
    stride = pair(item.get("stride", item["pool"]), f"{path}.stride")
    height, width = window_out(shape, pool, stride, (0, 0), f"{path}.pool", "pooling window")
    return Pool2dSpec(kind, pool, stride), (shape[0], height, width)
