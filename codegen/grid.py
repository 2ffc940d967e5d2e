"""What the generated module of a network with typed layers says (conv2d, pooling, flatten, dense).

Layout. The module takes X as (n, C, H, W), as PyTorch does, and keeps every image inside as
(m, H, W, C): then the windows of a convolution are a view (``sliding_window_view`` over the
height and width axes gives (m, Ho, Wo, C, kh, kw), rows in the order of W.reshape(F, C·kh·kw)),
and im2col is one copy of that view into a matrix. Per layer l:

* conv2d: P{l} the zero-padded input, C{l} the im2col matrix (m·Ho·Wo, C·kh·kw), and Z{l}, A{l},
  d{l} = δ{l} as (m·Ho·Wo, F) matrices with (m, Ho, Wo, F) views A{l}g, d{l}g. Forward is one
  matrix product; ∂E/∂W is δᵀ C{l}; ∂E/∂A⁽ˡ⁻¹⁾ is δ W (into C{l}, no longer needed) added back
  window by window, one strided slice per kernel offset (col2im).
* maxpool2d / avgpool2d: A{l} and g{l} = ∂E/∂A{l} as (m, Ho, Wo, C); max pooling keeps the
  index of each window's first maximum (I{l}) to route δ, as PyTorch does at ties.
* flatten: A{l} (m, C·H·W) in PyTorch's (C, H, W) order, a transposing copy; g{l} back.
* dense: as in :mod:`codegen.model`.

Every array is allocated once per batch size in ``_work``. Decisions are made here; the
template only lays them out.
"""

from __future__ import annotations

import sympy as sp

from codegen.env import source_label
from codegen.inplace import InPlace, Scratch
from codegen.model import (
    INIT_WORDS,
    SCALE,
    SMALL,
    LayerCode,
    Line,
    ModelContext,
    _commented,
    _loss_lines,
    _scaled,
    _uses_erf,
    _wrapped,
)
from codegen.printers import code
from derive.layers.network import GridLayer, GridNetworkDerivation

NOTATION = """\
Notation  conv2d: Zl[k, f, i, j] = bl[f] + Σ_c Σ_u Σ_v Wl[f, c, u, v] A(l-1)[k, c, s·i + u - p, s·j + v - p];
          dense: Zl = A(l-1) Wl + bl;  Al = fl(Zl),  A0 = X,  dl = δl = ∂E/∂Zl,  gl = ∂E/∂Al.
          X is (n, C, H, W) and a conv2d W is (filters, C, kh, kw), as in PyTorch; inside, images are
          kept as (m, H, W, C), so that every window of a convolution is a view."""


class GridWork:
    """The arrays of one batch of m samples, in the order ``_work`` returns them, and scratch pools."""

    def __init__(self, net: GridNetworkDerivation) -> None:
        self.lines: list[Line] = []
        self.names: list[str] = []
        self.pools: dict[int, Scratch] = {}
        self.shapes: dict[int, str] = {}
        for layer in net.layers:
            if layer.unit is not None:
                self.pools[layer.index] = Scratch(f"T{layer.index}")
                self.shapes[layer.index] = _rows_by_columns(layer)

    def array(self, name: str, columns: int | str, why: str = "", kind: str = "dtype") -> None:
        shape = f"(m, {columns})" if isinstance(columns, int) else columns
        self.lines.append(Line(f"{name} = np.empty({shape}, {kind})", (why,) if why else ()))
        self.names.append(name)

    def zeros(self, name: str, shape: str, why: str) -> None:
        self.lines.append(Line(f"{name} = np.zeros({shape}, dtype)", (why,)))
        self.names.append(name)

    def alias(self, name: str, other: str, why: str = "") -> None:
        self.lines.append(Line(f"{name} = {other}", (why,) if why else ()))
        self.names.append(name)

    def emitter(self, layer: int) -> InPlace:
        return InPlace(self.pools[layer], SMALL)

    def finish(self) -> None:
        for layer, pool in self.pools.items():
            for index, name in enumerate(pool.names):
                self.array(name, self.shapes[layer], f"scratch for layer {layer}" if index == 0 else "")


def _rows_by_columns(layer: GridLayer) -> str:
    """The shape of Z{l}: (m, units) for dense, (m·Ho·Wo, F) for conv2d."""
    if layer.kind == "dense":
        return f"(m, {layer.out_shape[0]})"
    filters, height, width = layer.out_shape
    return f"(m * {height * width}, {filters})"


def grid_context(net: GridNetworkDerivation, source: str, tool: str, version: str) -> ModelContext:
    spec = net.spec
    work = GridWork(net)
    channels, height, width = spec.input_shape  # type: ignore[attr-defined]
    forward = []
    if _image(net, 0) == "A0":
        work.array("A0", f"(m, {height}, {width}, {channels})", "the input batch as (m, H, W, C)")
        forward = [Line("np.copyto(A0, X.transpose(0, 2, 3, 1))", ("X is (m, C, H, W); the layers read (m, H, W, C)",))]
    codes = []
    for layer in net.layers:
        forward += _forward(net, layer, work)
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
        uses_erf=_uses_erf(_Last(net)),  # type: ignore[arg-type]
        forward=tuple(forward), shapes=tuple(shapes), headline="a convolutional network", notation=NOTATION,
        x_shape=f"(n, {channels}, {height}, {width})",
        check_x=f'_as_images(X, "X", {spec.input_shape}, dtype)',  # type: ignore[attr-defined]
        first_weight=shapes[0][0], last=last.index, images=True, sample_shape="*X.shape[1:]",
    )


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


def _image(net: GridNetworkDerivation, index: int) -> str:
    """The (m, H, W, C) array holding the output of layer ``index`` (0: the input)."""
    if index == 0:  # a padded first conv layer copies X straight into its padded input
        first = net.layers[0]
        padded = first.kind == "conv2d" and first.settings.padding != (0, 0)
        return "X.transpose(0, 2, 3, 1)" if padded else "A0"
    return f"A{index}g" if net.layers[index - 1].kind == "conv2d" else f"A{index}"


def _image_gradient(net: GridNetworkDerivation, index: int) -> str:
    """The (m, H, W, C) array receiving ∂E/∂(output of layer ``index``)."""
    return f"d{index}g" if net.layers[index - 1].kind == "conv2d" else f"g{index}"


def _flat_gradient(net: GridNetworkDerivation, index: int) -> str:
    return f"d{index}" if net.layers[index - 1].kind == "dense" else f"g{index}"


def _forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    return {"conv2d": _conv_forward, "maxpool2d": _pool_forward, "avgpool2d": _pool_forward,
            "flatten": _flatten_forward, "dense": _dense_forward}[layer.kind](net, layer, work)


def _activation(layer: GridLayer, work: GridWork) -> list[Line]:
    """A{l} = f(Z{l}) into an array of Z{l}'s shape (or A{l} is Z{l} itself for the identity)."""
    unit, l = layer.unit, layer.index
    assert unit is not None
    shape = _rows_by_columns(layer)
    if unit.rule.kind == "softmax":
        work.array("Zs", shape, "softmax: Z shifted by its row maximum, and S = Σ_j exp(Zs) per row")
        work.array("S", "(m, 1)")
        work.array(f"A{l}", shape)
        return _commented("softmax, shifted by the row maximum so exp never overflows", [
            f"np.subtract(Z{l}, Z{l}.max(axis=1, keepdims=True), out=Zs)",
            f"np.exp(Zs, out=A{l})",
            f"np.add.reduce(A{l}, axis=1, keepdims=True, out=S)",
            f"A{l} /= S",
        ])
    if unit.forward == unit.Z:
        work.alias(f"A{l}", f"Z{l}", f"{unit.rule.name}: A{l} is Z{l} itself")
        return []
    assert unit.forward is not None
    work.array(f"A{l}", shape)
    emitter = work.emitter(l)
    emitter.once(unit.forward, lambda expr: emitter.assign(f"A{l}", expr))
    return _commented(f"A{l} = {code(unit.forward)}", emitter.lines)


def _conv_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    s, l = layer.settings, layer.index
    (channels, height, width), (filters, out_h, out_w) = layer.in_shape, layer.out_shape
    (kh, kw), (sh, sw), (ph, pw) = s.kernel, s.stride, s.padding
    source = _image(net, l - 1)
    head = (f"Layer {l}: conv2d, {filters} filters {kh}x{kw}, stride ({sh}, {sw}), padding ({ph}, {pw}): "
            f"Z{l}[k, f, i, j] = b{l}[f] + Σ_c,u,v W{l}[f, c, u, v] "
            f"A{l - 1}[k, c, {sh}·i + u - {ph}, {sw}·j + v - {pw}]")
    lines: list[Line] = []
    if (ph, pw) != (0, 0):
        work.zeros(f"P{l}", f"(m, {height + 2 * ph}, {width + 2 * pw}, {channels})",
                   f"layer {l}: the input with {ph}, {pw} rows and columns of zeros around it")
        lines.append(Line(f"np.copyto(P{l}[:, {ph}:{ph + height}, {pw}:{pw + width}], {source})", (head,)))
        padded = f"P{l}"
    else:
        padded = source
    work.array(f"C{l}", f"(m * {out_h * out_w}, {kh * kw * channels})",
               f"layer {l}: im2col, one row per output position, columns in (u, v, c) order (channels innermost, "
               f"as in the input), and W{l} as K{l} with its columns in the same order")
    work.alias(f"C{l}w", f"C{l}.reshape(m, {out_h}, {out_w}, {kh}, {kw}, {channels})")
    work.array(f"K{l}", f"({filters}, {kh * kw * channels})")
    work.alias(f"V{l}", f"np.lib.stride_tricks.sliding_window_view({padded}, ({kh}, {kw}), axis=(1, 2))"
                        f"{_strided(sh, sw)}", f"layer {l}: every window of the input, a view (m, Ho, Wo, C, kh, kw)")
    work.array(f"Z{l}", f"(m * {out_h * out_w}, {filters})", f"layer {l}: Z{l}, A{l} and δ{l} as (m·Ho·Wo, F)")
    kernels = f"K{l}.reshape({filters}, {kh}, {kw}, {channels})"
    lines.append(Line(f"np.copyto({kernels}, params[\"W{l}\"].transpose(0, 2, 3, 1))", () if lines else (head,)))
    lines.append(Line(f"np.copyto(C{l}w, V{l}.transpose(0, 1, 2, 4, 5, 3))"))
    lines.append(Line(f"np.dot(C{l}, K{l}.T, out=Z{l})",
                      (f"Z{l} = im2col(A{l - 1}) W{l}ᵀ + b{l}: one matrix product for every position",)))
    lines.append(Line(f"Z{l} += params[\"b{l}\"]"))
    lines += _activation(layer, work)
    work.alias(f"A{l}g", f"A{l}.reshape(m, {out_h}, {out_w}, {filters})")
    work.array(f"d{l}", f"(m * {out_h * out_w}, {filters})")
    work.alias(f"d{l}g", f"d{l}.reshape(m, {out_h}, {out_w}, {filters})")
    return lines


def _strided(sh: int, sw: int) -> str:
    """The slice that keeps every s-th window (nothing for stride 1)."""
    return "" if (sh, sw) == (1, 1) else f"[:, ::{sh}, ::{sw}]"


def _tiles(layer: GridLayer) -> bool:
    """Whether the pooling windows tile the input: stride = pool, so a reshape shows every window."""
    return layer.settings.stride == layer.settings.pool


def _window_entry(layer: GridLayer) -> str:
    """The entry (u, v) of every window at once, (m, Ho, Wo, C): a strided view of the input."""
    return f"R{layer.index}[:, :, u, :, v]" if _tiles(layer) else f"V{layer.index}[..., u, v]"


def _pool_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    s, l = layer.settings, layer.index
    channels, out_h, out_w = layer.out_shape
    (ph, pw), (sh, sw) = s.pool, s.stride
    source = _image(net, l - 1)
    image = f"(m, {out_h}, {out_w}, {channels})"
    what = "max" if layer.kind == "maxpool2d" else "mean"
    head = (f"Layer {l}: {layer.kind} {ph}x{pw}, stride ({sh}, {sw}): "
            f"A{l}[k, c, i, j] = {what} of its window of A{l - 1}, one window entry (u, v) at a time")
    work.array(f"A{l}", image, f"layer {l}: A{l} and g{l} = ∂E/∂A{l} as (m, Ho, Wo, C)")
    work.array(f"g{l}", image)
    if _tiles(layer):
        work.alias(f"R{l}", f"{source}[:, :{out_h * ph}, :{out_w * pw}].reshape(m, {out_h}, {ph}, {out_w}, {pw}, "
                            f"{channels})", f"layer {l}: the windows tile the input: a reshape (m, Ho, ph, Wo, pw, C)")
    else:
        work.alias(f"V{l}", f"np.lib.stride_tricks.sliding_window_view({source}, ({ph}, {pw}), axis=(1, 2))"
                            f"{_strided(sh, sw)}",
                   f"layer {l}: every window of the input, a view (m, Ho, Wo, C, ph, pw)")
    entry = _window_entry(layer)
    first = entry.replace("u", "0").replace("v", "0")
    loop = [Line(f"for o in range(1, {ph * pw}):"), Line(f"    u, v = divmod(o, {pw})")]
    if layer.kind == "avgpool2d":
        return [Line(f"np.copyto(A{l}, {first})", (head,)), *loop, Line(f"    A{l} += {entry}"),
                Line(f"A{l} *= {1 / (ph * pw)!r}", (f"the mean: the window's sum times 1/({ph}·{pw})",))]
    kind = "np.int8" if ph * pw <= 127 else "np.intp"
    work.array(f"I{l}", image, f"layer {l}: the offset u·{pw} + v of each window's first maximum, and a mask",
               kind=kind)
    work.array(f"H{l}", image, kind=kind)
    work.array(f"G{l}", image, kind="bool")
    return [Line(f"np.copyto(A{l}, {first})", (head,)), Line(f"I{l}.fill(0)"), *loop,
            Line(f"    np.greater({entry}, A{l}, out=G{l})",
                 ("strictly greater: at a tie the first maximum stays (PyTorch's choice)",)),
            Line(f"    np.multiply(G{l}, o, out=H{l})",
                 ("I = o where the entry is greater: o exceeds every earlier offset, so a maximum does it",)),
            Line(f"    np.maximum(I{l}, H{l}, out=I{l})"),
            Line(f"    np.maximum(A{l}, {entry}, out=A{l})")]


def _flatten_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    work.array(f"A{l}", layer.out_shape[0], f"layer {l}: flatten in PyTorch's (C, H, W) order, and g{l} = ∂E/∂A{l}")
    work.array(f"g{l}", layer.out_shape[0])
    source = _image(net, l - 1)
    return [Line(f"np.copyto(A{l}.reshape(-1, {channels}, {height}, {width}), {source}.transpose(0, 3, 1, 2))",
                 (f"Layer {l}: flatten, A{l}[k, (c·{height} + i)·{width} + j] = A{l - 1}[k, c, i, j]",))]


def _dense_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l, unit = layer.index, layer.unit
    assert unit is not None
    previous = f"A{l - 1}"
    work.array(f"Z{l}", layer.out_shape[0], f"layer {l}: Z{l}, A{l} and δ{l} = ∂E/∂Z{l}")
    lines = [Line(f"np.dot({previous}, params[\"W{l}\"], out=Z{l})",
                  (f"Layer {l}: Z{l} = {previous} W{l} + b{l}, A{l} = {unit.rule.name}(Z{l})",)),
             Line(f"Z{l} += params[\"b{l}\"]")]
    lines += _activation(layer, work)
    work.array(f"d{l}", layer.out_shape[0])
    return lines


def _output_delta(net: GridNetworkDerivation, work: GridWork) -> list[Line]:
    """δ⁽ᴸ⁾ of the dense output layer, as :mod:`codegen.model` writes it."""
    out, last = net.output, net.layers[-1].unit
    assert last is not None
    L = last.index
    if out.form == "elementwise":
        assert last.backward is not None
        why = (f"δ{L} = ∂E/∂A{L} ⊙ ∂A{L}/∂Z{L}, with ∂E/∂A{L} = {code(out.gradient)}, "
               f"{last.rule.name}'(Z{L}) = {code(last.backward)}")
    elif out.form == "softmax-collapsed":
        why = (f"δ{L} = ∂E/∂A{L} · (diag(A{L}) - A{L} A{L}ᵀ), which collapses to this "
               f"because rows of A{L} and Y sum to 1")
    else:
        why = (f"δ{L} = A{L} ⊙ (G - rowsum(A{L} ⊙ G)), the softmax Jacobian contracted with "
               f"G = ∂E/∂A{L} = {code(out.gradient)}")
    emitter = work.emitter(L)
    emitter.once(SCALE * out.delta, lambda expr: emitter.assign(f"d{L}", expr))
    return [Line(emitter.lines[0], (why, f"d{L} = scale * {code(out.delta)}")), *map(Line, emitter.lines[1:])]


def _backward(net: GridNetworkDerivation, work: GridWork) -> tuple[Line, ...]:
    lines = _output_delta(net, work)
    first = min(layer.index for layer in net.layers if layer.has_params)
    for layer in reversed(net.layers):
        l = layer.index
        if layer.kind == "conv2d":
            lines += _conv_parameters(layer, work)
        elif layer.kind == "dense":
            previous = f"A{l - 1}"
            lines.append(Line(f"np.dot({previous}.T, d{l}, out=grads[\"W{l}\"])",
                              (f"∂E/∂W{l} = {previous}ᵀ δ{l}   (∂Z{l}/∂W{l} = {previous})",)))
            lines.append(Line(f"np.add.reduce(d{l}, axis=0, out=grads[\"b{l}\"])",
                              (f"∂E/∂b{l} = Σ_k δ{l}   (∂Z{l}/∂b{l} = 1)",)))
        if l == first:
            break
        lines += {"conv2d": _conv_input, "maxpool2d": _max_input, "avgpool2d": _avg_input,
                  "flatten": _flatten_input, "dense": _dense_input}[layer.kind](net, layer, work)
        below = net.layers[l - 2]
        if below.unit is not None:
            assert below.unit.backward is not None
            if below.unit.backward != 1:
                lines += _commented(f"δ{l - 1} = ∂E/∂A{l - 1} ⊙ {below.unit.rule.name}'(Z{l - 1}), "
                                    f"{below.unit.rule.name}'(Z{l - 1}) = {code(below.unit.backward)}",
                                    _scaled(work.emitter(l - 1), f"d{l - 1}", below.unit.backward))
    return tuple(lines)


def _conv_parameters(layer: GridLayer, work: GridWork) -> list[Line]:
    l, (filters, channels) = layer.index, (layer.out_shape[0], layer.in_shape[0])
    kh, kw = layer.settings.kernel
    work.array(f"KG{l}", f"({filters}, {kh * kw * channels})", f"layer {l}: ∂E/∂W{l} in K{l}'s (u, v, c) order")
    return [
        Line(f"np.dot(d{l}.T, C{l}, out=KG{l})",
             (f"∂E/∂W{l}[f, c, u, v] = Σ_k,i,j δ{l}[k, f, i, j] A{l - 1}[k, c, s·i + u - p, s·j + v - p]: "
              f"δ{l}ᵀ im2col(A{l - 1})",)),
        Line(f"np.copyto(grads[\"W{l}\"], KG{l}.reshape({filters}, {kh}, {kw}, {channels}).transpose(0, 3, 1, 2))"),
        Line(f"np.add.reduce(d{l}, axis=0, out=grads[\"b{l}\"])",
             (f"∂E/∂b{l}[f] = Σ_k,i,j δ{l}[k, f, i, j]   (∂Z{l}/∂b{l}[f] = 1)",)),
    ]


def _conv_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    """∂E/∂A⁽ˡ⁻¹⁾: δ W into the im2col matrix, then each kernel offset's column added back (col2im)."""
    s, l = layer.settings, layer.index
    (channels, height, width), (_, out_h, out_w) = layer.in_shape, layer.out_shape
    (kh, kw), (sh, sw), (ph, pw) = s.kernel, s.stride, s.padding
    target = _image_gradient(net, l - 1)
    if (ph, pw) != (0, 0):
        work.array(f"dP{l}", f"(m, {height + 2 * ph}, {width + 2 * pw}, {channels})",
                   f"layer {l}: ∂E/∂(padded input)")
        padded = f"dP{l}"
    else:
        padded = target
    rows, cols = _offset_slice("u", sh, out_h), _offset_slice("v", sw, out_w)
    lines = [
        Line(f"np.dot(d{l}, K{l}, out=C{l})",
             (f"∂E/∂A{l - 1}[k, c, y, x] = Σ_f,i,j δ{l}[k, f, i, j] W{l}[f, c, y - s·i + p, x - s·j + p] "
              "(a full convolution with the flipped kernel):",
              f"δ{l} W{l} gives each window's share (into C{l}, free now), added back at its place")),
        Line(f"{padded}.fill(0)"),
        Line(f"for u in range({kh}):"),
        Line(f"    for v in range({kw}):"),
        Line(f"        {padded}[:, {rows}, {cols}] += C{l}w[:, :, :, u, v]"),
    ]
    if padded != target:
        lines.append(Line(f"np.copyto({target}, {padded}[:, {ph}:{ph + height}, {pw}:{pw + width}])",
                          ("the padding's share is dropped: it is not an input",)))
    return lines


def _max_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    why = f"∂A{l}/∂(window entry) = [entry is the window's first maximum] (SymPy: Π H(a - a')): g{l} routed there"
    return _scatter(net, layer, [
        Line(f"np.equal(I{l}, o, out=G{l})", (why,)),
        Line(f"np.multiply(g{l}, G{l}, out={{share}})")], work)


def _avg_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    (ph, pw) = layer.settings.pool
    why = f"∂A{l}/∂(window entry) = 1/({ph}·{pw}): each entry of a window gets g{l}/({ph}·{pw})"
    return [Line(f"g{l} *= {1 / (ph * pw)!r}", (why,)),
            *_scatter(net, layer, [Line(f"np.copyto({{share}}, g{l})")], work)]


def _scatter(net: GridNetworkDerivation, layer: GridLayer, share: list[Line], work: GridWork) -> list[Line]:
    """∂E/∂A⁽ˡ⁻¹⁾ from each window's share, one window offset (u, v) at a time: ``share`` writes the
    shares of offset o = u·pw + v, (m, Ho, Wo, C), into ``{share}``. Where the windows tile, that is
    the strided view of ∂E/∂A⁽ˡ⁻¹⁾ they cover; else a buffer added at its place (windows overlap)."""
    l = layer.index
    channels, out_h, out_w = layer.out_shape
    height, width = layer.in_shape[1:]
    (ph, pw), (sh, sw) = layer.settings.pool, layer.settings.stride
    target = _image_gradient(net, l - 1)
    lines = []
    loop = [Line(f"for o in range({ph * pw}):"), Line(f"    u, v = divmod(o, {pw})")]
    if _tiles(layer):
        if (out_h * ph, out_w * pw) != (height, width):
            lines.append(Line(f"{target}.fill(0)", ("the rows and columns no window covers get nothing",)))
        tiles = f"{target}[:, :{out_h * ph}, :{out_w * pw}].reshape(m, {out_h}, {ph}, {out_w}, {pw}, {channels})"
        work.alias(f"dR{l}", tiles, f"layer {l}: ∂E/∂A{l - 1} seen as its tiles (m, Ho, ph, Wo, pw, C)")
        body = [Line("    " + line.code.format(share=f"dR{l}[:, :, u, :, v]"), line.comments) for line in share]
        return [*lines, *loop, *body]
    work.array(f"U{l}", f"(m, {out_h}, {out_w}, {channels})", f"layer {l}: the shares of one window offset")
    rows, cols = _offset_slice("u", sh, out_h), _offset_slice("v", sw, out_w)
    body = [Line("    " + line.code.format(share=f"U{l}"), line.comments) for line in share]
    return [Line(f"{target}.fill(0)", ("windows overlap or leave gaps: add each offset's share",)), *loop, *body,
            Line(f"    {target}[:, {rows}, {cols}] += U{l}")]


def _flatten_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    return [Line(f"np.copyto({_image_gradient(net, l - 1)}, g{l}.reshape(-1, {channels}, {height}, {width})"
                 f".transpose(0, 2, 3, 1))", (f"flatten: ∂E/∂A{l - 1} is g{l} put back in shape",))]


def _dense_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    target = _flat_gradient(net, l - 1)
    return [Line(f"np.dot(d{l}, params[\"W{l}\"].T, out={target})",
                 (f"∂E/∂A{l - 1} = δ{l} W{l}ᵀ   (∂Z{l}/∂A{l - 1} = W{l})",))]



def _offset_slice(offset: str, stride: int, count: int) -> str:
    """The ``count`` positions offset, offset + stride, … as a slice (no step for stride 1)."""
    return f"{offset}:{offset} + {stride * (count - 1) + 1}" + (f":{stride}" if stride != 1 else "")
