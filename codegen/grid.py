"""What the generated module of a network with typed layers says (conv2d, pooling, flatten, dense).

The module takes X as (n, C, H, W), as PyTorch does, and keeps every image inside as (m, H, W, C),
so that the windows of a convolution or a pooling layer are a view. Each layer kind's lines come
from its module in :mod:`codegen.layers`; this module assembles them: the forward pass layer by
layer, the output δ and the loss as for a dense network, and the backward pass from the output
back to the first layer with parameters, each activation's f′ applied where a layer has one.
Every array is allocated once per batch size in ``_work``. Decisions are made here and in
:mod:`codegen.layers`; the template only lays them out.
"""

from __future__ import annotations

import math

import sympy as sp

from codegen.env import source_label
from codegen.layers import KINDS
from codegen.layers.base import GridWork, image
from codegen.model import (
    INIT_WORDS,
    LayerCode,
    Line,
    ModelContext,
    _commented,
    _loss_lines,
    _scaled,
    _wrapped,
    output_delta,
    task_words,
    uses_erf,
)
from codegen.printers import code
from derive.layers.network import GridLayer, GridNetworkDerivation

NOTATION = """\
Notation  conv2d: Zl[k, f, i, j] = bl[f] + Σ_c Σ_u Σ_v Wl[f, c, u, v] A(l-1)[k, c, s·i + u - p, s·j + v - p];
          dense: Zl = A(l-1) Wl + bl;  Al = fl(Zl),  A0 = X,  dl = δl = ∂E/∂Zl,  gl = ∂E/∂Al.
          X is (n, C, H, W) and a conv2d W is (filters, C, kh, kw), as in PyTorch; inside, images are
          kept as (m, H, W, C), so that every window of a convolution is a view."""


def grid_context(net: GridNetworkDerivation, source: str, tool: str, version: str) -> ModelContext:
    spec = net.spec
    work = GridWork(net)
    channels, height, width = spec.input_shape  # type: ignore[attr-defined]
    forward = []
    if image(net, 0) == "A0":
        work.array("A0", f"(m, {height}, {width}, {channels})", "the input batch as (m, H, W, C)")
        forward = [Line("np.copyto(A0, X.transpose(0, 2, 3, 1))", ("X is (m, C, H, W); the layers read (m, H, W, C)",))]
    codes = []
    for layer in net.layers:
        forward += KINDS[layer.kind].forward(net, layer, work)
        if layer.has_params:
            codes.append(_layer_code(layer))
    last = net.layers[-1]
    assert last.unit is not None
    loss_lines = _loss_lines(_Last(net), work)  # type: ignore[arg-type]
    backward = _hoisted(list(_backward(net, work)))
    forward = _hoisted(forward)
    work.finish()
    if last.unit.rule.kind == "softmax" and last.out_shape[0] > 1:
        accuracy = "argmax"
    elif last.unit.rule.name == "sigmoid":
        accuracy = "threshold"
    else:
        accuracy = "none"
    train = {
        "optimizer": spec.train.optimizer, "learning_rate": spec.train.learning_rate, "epochs": spec.train.epochs,
        "batch_size": spec.train.batch_size, "seed": spec.train.seed, "momentum": spec.train.momentum,
        "beta1": spec.train.beta1, "beta2": spec.train.beta2, "epsilon": spec.train.epsilon,
    }
    shapes = []
    for layer in net.layers:
        if layer.kind == "conv2d":
            kh, kw = layer.settings.kernel
            shapes += [(f"W{layer.index}", (layer.out_shape[0], layer.in_shape[0], kh, kw)),
                       (f"b{layer.index}", (layer.out_shape[0],))]
        elif layer.kind == "dense":
            shapes += [(f"W{layer.index}", (layer.in_shape[0], layer.out_shape[0])),
                       (f"b{layer.index}", (layer.out_shape[0],))]
    summary = " -> ".join([f"X(n, {channels}, {height}, {width})", *map(_words, net.layers),
                           f"E = {spec.loss.name}, reduction {spec.reduction}"])
    return ModelContext(
        name=spec.name, tool=tool, version=version, source=source_label(source), sizes=spec.sizes, summary=summary,
        dtype=spec.dtype, loss_name=spec.loss.name, reduction=spec.reduction, targets=spec.loss.targets,
        accuracy=accuracy, layers=tuple(codes), work=tuple(work.lines), work_names=_wrapped(work.names),
        output=f"A{last.index}", loss_lines=loss_lines, loss_uses_n=_uses_n(net.output.scale),
        backward=backward, backward_uses_n=_uses_n(net.output.delta), train=train,
        uses_erf=uses_erf(_Last(net)),  # type: ignore[arg-type]
        forward=tuple(forward), shapes=tuple(shapes), headline="a convolutional network", notation=NOTATION,
        last=last.index, input_shape=tuple(spec.input_shape),  # type: ignore[attr-defined]
        **task_words(net, accuracy), summary_table=_summary_table(net, dict(shapes)),
    )


def _summary_table(net: GridNetworkDerivation, shapes: dict[str, tuple[int, ...]]) -> tuple[str, ...]:
    """summary(): each layer's kind, activation, output shape per sample, W and b shapes and parameter
    count, then the total, loss, reduction and dtype."""
    spec = net.spec
    rows = [("layer", "kind", "activation", "output", "W shape", "b shape", "parameters")]
    total = 0
    for layer in net.layers:
        weight, bias = shapes.get(f"W{layer.index}"), shapes.get(f"b{layer.index}")
        count = math.prod(weight) + math.prod(bias) if weight and bias else 0
        total += count
        rows.append((str(layer.index), layer.kind, layer.unit.rule.name if layer.unit else "",
                     str(tuple(layer.out_shape)), str(weight) if weight else "", str(bias) if bias else "", str(count)))
    rows.append(("total", "", "", "", "", "", str(total)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [f"Network {spec.name}: input {tuple(spec.input_shape)}, {len(net.layers)} layers"]  # type: ignore[attr-defined]
    for row in rows:
        cells = [cell.rjust(width) if column == 6 else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    lines.append(f"loss {spec.loss.name}, reduction {spec.reduction}, dtype {spec.dtype}")
    return tuple(lines)


def _hoisted(lines: list[Line]) -> tuple[Line, ...]:
    """The comments of the lines inside a loop moved above the loop's ``for`` (the template writes every
    comment at the function's indentation)."""
    out: list[Line] = []
    head = -1
    for line in lines:
        if line.code.startswith(" ") and line.comments and head >= 0:
            out[head] = Line(out[head].code, out[head].comments + line.comments)
            line = Line(line.code)
        elif not line.code.startswith(" "):
            head = len(out)
        out.append(line)
    return tuple(out)


def _uses_n(expr: sp.Expr) -> bool:
    return any(symbol.name == "n" for symbol in expr.free_symbols)


class _Last:
    """The network as :func:`codegen.model._loss_lines` sees it: its output and the units of its layers."""

    def __init__(self, net: GridNetworkDerivation) -> None:
        self.output = net.output
        self.layers = tuple(layer.unit for layer in net.layers if layer.unit is not None)


def _words(layer: GridLayer) -> str:
    s = layer.settings
    if layer.kind == "conv2d":
        return (f"[conv2d {s.filters}@{s.kernel[0]}x{s.kernel[1]} stride {s.stride[0]},{s.stride[1]} "
                f"pad {s.padding[0]},{s.padding[1]} {s.activation.name}]")
    if layer.kind in ("maxpool2d", "avgpool2d"):
        return f"[{layer.kind} {s.pool[0]}x{s.pool[1]} stride {s.stride[0]},{s.stride[1]}]"
    if layer.kind == "flatten":
        return "[flatten]"
    return f"[{s.units} {s.activation.name}]"


def _layer_code(layer: GridLayer) -> LayerCode:
    unit = layer.unit
    assert unit is not None
    words, std = INIT_WORDS[unit.init]
    return LayerCode(layer.index, unit.fan_in, unit.fan_out, unit.rule.name, words,
                     std.format(fan_in=unit.fan_in, fan_out=unit.fan_out), ())


def _output_delta(net: GridNetworkDerivation, work: GridWork) -> list[Line]:
    """δ⁽ᴸ⁾ of the dense output layer, as :mod:`codegen.model` writes it."""
    last = net.layers[-1].unit
    assert last is not None
    return output_delta(net, last, work.emitter(last.index))


def _backward(net: GridNetworkDerivation, work: GridWork) -> tuple[Line, ...]:
    lines = _output_delta(net, work)
    first = min(layer.index for layer in net.layers if layer.has_params)
    for layer in reversed(net.layers):
        l = layer.index
        lines += KINDS[layer.kind].parameters(net, layer, work)
        if l == first:
            break
        lines += KINDS[layer.kind].input_gradient(net, layer, work)
        below = net.layers[l - 2]
        if below.unit is not None:
            assert below.unit.backward is not None
            if below.unit.backward != 1:
                lines += _commented(f"δ{l - 1} = ∂E/∂A{l - 1} ⊙ {below.unit.rule.name}'(Z{l - 1}), "
                                    f"{below.unit.rule.name}'(Z{l - 1}) = {code(below.unit.backward)}",
                                    _scaled(work.emitter(l - 1), f"d{l - 1}", below.unit.backward))
    return tuple(lines)
