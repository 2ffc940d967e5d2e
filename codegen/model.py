"""What the generated module says, decided here; ``model.py.jinja`` only lays it out.

Every backward line is printed from the derived SymPy expression, through
:mod:`codegen.inplace`, into arrays allocated once per batch size; a comment names the
chain-rule step each line implements and shows the expression it evaluates.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import sympy as sp

from codegen.env import source_label
from codegen.inplace import InPlace, Scratch
from codegen.printers import code
from derive import naming
from derive.loss import n
from derive.network import LayerDerivation, NetworkDerivation

INIT_WORDS = {
    "xavier": ("Xavier/Glorot normal", "np.sqrt(2.0 / ({fan_in} + {fan_out}))"),
    "he": ("He normal", "np.sqrt(2.0 / {fan_in})"),
}


@dataclass(frozen=True)
class Line:
    """One statement of generated code, with the comment lines above it."""

    code: str
    comments: tuple[str, ...] = ()


DENSE_NOTATION = """\
Notation  Zl = A(l-1) Wl + bl,  Al = fl(Zl),  A0 = X,  dl = δl = ∂E/∂Zl;
          X has one sample per row, so W has shape (fan_in, fan_out)."""
SCALE = sp.Symbol("scale", positive=True)  # what train() folds into δ⁽ᴸ⁾: 1, or the learning rate
SMALL = frozenset({n, SCALE, naming.EXPSUM})  # symbols that are not (m, units) arrays
WIDTH = 96


@dataclass(frozen=True)
class LayerCode:
    index: int
    fan_in: int
    fan_out: int
    activation: str
    init_words: str
    init_std: str
    forward: tuple[Line, ...]


@dataclass(frozen=True)
class ModelContext:
    name: str
    tool: str
    version: str
    source: str
    sizes: tuple[int, ...]
    summary: str
    dtype: str
    loss_name: str
    reduction: str
    targets: str
    accuracy: str  # argmax | threshold | none
    layers: tuple[LayerCode, ...]
    work: tuple[Line, ...]  # the allocations of _work(m, dtype)
    work_names: str  # "Z1, A1, d1, ..." wrapped, as returned by _work and unpacked by its users
    output: str  # "A2"
    loss_lines: tuple[Line, ...]
    loss_uses_n: bool
    backward: tuple[Line, ...]
    backward_uses_n: bool
    train: dict[str, object]
    labels: bool  # Y may be integer class labels, shape (n,) (cross_entropy, bce)
    classes: int  # labels run 0..classes-1
    target_words: str  # the shapes Y may have, for error messages
    kind_words: str  # "identity output, loss sse"
    task_words: str  # the module docstring's line on what the network does and which functions apply
    summary_table: tuple[str, ...]  # the lines summary() returns
    input_shape: tuple[int, ...]  # one sample: (d,) or (C, H, W)
    uses_erf: bool = False  # whether the module needs its own erf (codegen/erf.py)
    # What a network with typed layers (codegen/grid.py) says differently; the defaults are a dense network's.
    forward: tuple[Line, ...] = ()  # the forward pass; a dense network's is its layers' lines
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # SHAPES; a dense network's is (fan_in, fan_out) per W
    headline: str = "a dense network"
    notation: str = DENSE_NOTATION
    last: int = 0  # the output layer's index (a dense network: its depth)

    def __post_init__(self) -> None:
        if not self.forward:
            object.__setattr__(self, "forward", tuple(line for layer in self.layers for line in layer.forward))
        if not self.shapes:
            object.__setattr__(self, "shapes", tuple(
                (key, shape) for layer in self.layers
                for key, shape in ((f"W{layer.index}", (layer.fan_in, layer.fan_out)),
                                   (f"b{layer.index}", (layer.fan_out,)))))
        if not self.last:
            object.__setattr__(self, "last", len(self.layers))


class Work:
    """The arrays of one batch of m samples, in the order ``_work`` returns them, and the scratch and
    mask pools of each layer that has an activation (``shapes``: its Z's shape, as code)."""

    def __init__(self, shapes: dict[int, str]) -> None:
        self.lines: list[Line] = []
        self.names: list[str] = []
        self.shapes = shapes
        self.pools = {layer: Scratch(f"T{layer}") for layer in shapes}
        self.masks = {layer: Scratch(f"M{layer}") for layer in shapes}

    @classmethod
    def of(cls, net: NetworkDerivation) -> Work:
        return cls({layer.index: f"(m, {layer.fan_out})" for layer in net.layers})

    def array(self, name: str, shape: int | str, why: str = "", dtype: str = "dtype") -> None:
        """``name = memory.empty(shape, dtype)``; a number of columns means (m, columns)."""
        shape = f"(m, {shape})" if isinstance(shape, int) else shape
        self.lines.append(Line(f"{name} = memory.empty({shape}, {dtype})", (why,) if why else ()))
        self.names.append(name)

    def zeros(self, name: str, shape: str, why: str) -> None:
        self.lines.append(Line(f"{name} = memory.zeros({shape}, dtype)", (why,)))
        self.names.append(name)

    def alias(self, name: str, other: str, why: str = "") -> None:
        self.lines.append(Line(f"{name} = {other}", (why,) if why else ()))
        self.names.append(name)

    def emitter(self, layer: int) -> InPlace:
        return InPlace(self.pools[layer], SMALL, self.masks[layer])

    def finish(self) -> None:
        for layer, pool in self.pools.items():
            for index, name in enumerate(pool.names):
                self.array(name, self.shapes[layer], f"scratch for layer {layer}" if index == 0 else "")
            for index, name in enumerate(self.masks[layer].names):
                self.array(name, self.shapes[layer], f"mask for layer {layer}: where θ(u) = 1" if index == 0 else "",
                           dtype="bool")


def model_context(net: NetworkDerivation, source: str, tool: str, version: str) -> ModelContext:
    from codegen.grid import GridNetworkDerivation, grid_context  # conv2d, pooling, flatten
    if isinstance(net, GridNetworkDerivation):
        return grid_context(net, source, tool, version)
    spec = net.spec
    work = Work.of(net)
    layers = tuple(_layer(net, layer, work) for layer in net.layers)
    loss_lines = _loss_lines(net, work)
    backward = _backward_lines(net, work)
    work.finish()
    last = net.layers[-1]
    if last.rule.kind == "softmax" and last.fan_out > 1:
        accuracy = "argmax"
    elif last.rule.name == "sigmoid":
        accuracy = "threshold"
    else:
        accuracy = "none"
    hidden = " -> ".join(f"[{layer.units} {layer.activation.name}]" for layer in spec.layers)
    summary = f"X(n, {spec.inputs}) -> {hidden} -> E = {spec.loss.name}, reduction {spec.reduction}"
    train = {
        "optimizer": spec.train.optimizer, "learning_rate": spec.train.learning_rate, "epochs": spec.train.epochs,
        "batch_size": spec.train.batch_size, "seed": spec.train.seed, "momentum": spec.train.momentum,
        "beta1": spec.train.beta1, "beta2": spec.train.beta2, "epsilon": spec.train.epsilon,
    }
    return ModelContext(
        name=spec.name, tool=tool, version=version, source=source_label(source), sizes=spec.sizes, summary=summary,
        dtype=spec.dtype, loss_name=spec.loss.name, reduction=spec.reduction, targets=spec.loss.targets,
        accuracy=accuracy, layers=layers, work=tuple(work.lines), work_names=_wrapped(work.names),
        output=f"A{last.index}", loss_lines=loss_lines, loss_uses_n=n in net.output.scale.free_symbols,
        backward=backward, backward_uses_n=n in net.output.delta.free_symbols, train=train,
        **task_words(net, accuracy), summary_table=_summary_table(net), uses_erf=uses_erf(net),
        input_shape=(spec.inputs,),
    )


def uses_erf(net: NetworkDerivation) -> bool:
    """Whether any expression the module evaluates contains erf."""
    out = net.output
    printed = [out.delta, out.element_loss, *out.log_forms.values()]
    printed += [expr for layer in net.layers for expr in (layer.forward, layer.backward) if expr is not None]
    return any(expr.has(sp.erf) for expr in printed)


def task_words(net: NetworkDerivation, accuracy: str) -> dict[str, object]:
    """What the module says about its task: classifier or regression, the labels Y may be, the scores."""
    spec, last = net.spec, net.layers[-1]
    unit = getattr(last, "unit", last)  # a typed network's output layer is dense: its activation's part
    outputs, output = unit.fan_out, f"A{last.index}"
    classes = outputs if outputs > 1 else 2
    labels = spec.loss.targets in ("unit", "distribution")
    rows = "one-hot rows" if spec.loss.targets == "distribution" else "targets in [0, 1]"
    label_range = "0 or 1" if outputs == 1 else f"0..{outputs - 1}"
    kind = f"{unit.rule.name} output, loss {spec.loss.name}"
    if accuracy == "argmax":
        task = (f"a classifier of {outputs} classes ({kind}): predict_labels gives the argmax of {output}'s row, "
                "accuracy the fraction of samples whose argmax is Y's")
    elif accuracy == "threshold" and outputs == 1:
        task = (f"a classifier of 2 classes ({kind}): predict_labels gives 1 where {output} > 0.5, else 0; "
                "accuracy the fraction of samples classified right")
    elif accuracy == "threshold":
        task = (f"{outputs} yes/no outputs ({kind}): predict_labels thresholds each output at 0.5, shape "
                f"(n, {outputs}); accuracy the fraction of outputs classified right")
    else:
        task = f"a regression ({kind}): score gives R²; predict_labels and accuracy do not apply"
    return {
        "labels": labels, "classes": classes,
        "target_words": (f"shape (n, {outputs}) ({rows}) or (n,) (class labels {label_range})" if labels
                         else f"shape (n, {outputs})"),
        "kind_words": kind, "task_words": "\n          ".join(textwrap.wrap(task, WIDTH - 10)),
    }


def _summary_table(net: NetworkDerivation) -> tuple[str, ...]:
    """summary(): the layers as a table, then the totals, loss, reduction and dtype."""
    spec = net.spec
    rows = [("layer", "activation", "units", "W shape", "b shape", "parameters")]
    total = 0
    for layer in net.layers:
        count = layer.fan_in * layer.fan_out + layer.fan_out
        total += count
        rows.append((str(layer.index), layer.rule.name, str(layer.fan_out), f"({layer.fan_in}, {layer.fan_out})",
                     f"({layer.fan_out},)", str(count)))
    rows.append(("total", "", "", "", "", str(total)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [f"Network {spec.name}: {spec.inputs} inputs, {len(net.layers)} layers"]
    for row in rows:
        cells = [cell.rjust(width) if column in (2, 5) else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    lines.append(f"loss {spec.loss.name}, reduction {spec.reduction}, dtype {spec.dtype}")
    return tuple(lines)


def _wrapped(names: list[str]) -> str:
    """``a, b, c`` broken into lines of at most WIDTH characters (continuations indented 4 + 1)."""
    rows, row = [], ""
    for name in names:
        piece = f"{row}, {name}" if row else name
        if len(piece) > WIDTH and row:
            rows.append(row + ",")
            piece = name
        row = piece
    rows.append(row)
    return "\n     ".join(rows)


def _commented(comment: str, statements: list[str]) -> list[Line]:
    """Lines for ``statements``, the first one under ``comment``."""
    return [Line(text, (comment,) if index == 0 else ()) for index, text in enumerate(statements)]


def _layer(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> LayerCode:
    l, previous = layer.index, "X" if layer.index == 1 else f"A{layer.index - 1}"
    words, std = INIT_WORDS[layer.init]
    head = f"Layer {l}: Z{l} = {previous} W{l} + b{l}, A{l} = {layer.rule.name}(Z{l})"
    work.array(f"Z{l}", layer.fan_out, f"layer {l}: Z{l}, A{l} and δ{l} = ∂E/∂Z{l}")
    forward = [Line(f"np.matmul({previous}, params[\"W{l}\"], out=Z{l})", (head,)), Line(f"Z{l} += params[\"b{l}\"]")]
    if layer.rule.kind == "softmax":
        work.array("Zs", layer.fan_out, "softmax: Z shifted by its row maximum, and S = Σ_j exp(Zs) per row")
        work.array("S", 1)
        work.array("Zmax", 1)
        maximum = _row_maximum(work, l, layer.fan_out)
        work.array(f"A{l}", layer.fan_out)
        forward += _commented("softmax, shifted by the row maximum so exp never overflows", [
            *maximum,
            f"np.subtract(Z{l}, Zmax, out=Zs)",
            f"np.exp(Zs, out=A{l})",
            f"np.add.reduce(A{l}, axis=1, keepdims=True, out=S)",
            f"A{l} /= S",
        ])
    elif layer.forward == layer.Z:
        work.alias(f"A{l}", f"Z{l}", f"{layer.rule.name}: A{l} is Z{l} itself")
    else:
        assert layer.forward is not None
        work.array(f"A{l}", layer.fan_out)
        emitter = work.emitter(l)
        emitter.once(layer.forward, lambda expr: emitter.assign(f"A{l}", expr))
        forward += _commented(f"A{l} = {code(layer.forward)}", emitter.lines)
    work.array(f"d{l}", layer.fan_out)
    return LayerCode(l, layer.fan_in, layer.fan_out, layer.rule.name, words,
                     std.format(fan_in=layer.fan_in, fan_out=layer.fan_out), tuple(forward))


NARROW = 64  # below this many columns a row maximum is faster through the transpose


def _row_maximum(work: Work, l: int, columns: int) -> list[str]:
    """Statements leaving max_j Z_kj in Zmax (m, 1).

    NumPy reduces a short last axis row by row, 4x to 8x slower than it reduces the first
    axis in vector steps; so a narrow Z is copied to its transpose first. The maximum is
    exact whatever the order.
    """
    if columns >= NARROW:
        return [f"np.maximum.reduce(Z{l}, axis=1, keepdims=True, out=Zmax)"]
    work.array(f"Z{l}t", f"({columns}, m)", f"Z{l} transposed, for its row maximum")
    return [f"np.copyto(Z{l}t, Z{l}.T)", f"np.maximum.reduce(Z{l}t, axis=0, out=Zmax[:, 0])"]


def _loss_lines(net: NetworkDerivation, work: Work) -> tuple[Line, ...]:
    out, last = net.output, net.layers[-1]
    lines: list[Line] = []
    for symbol, form in out.log_forms.items():
        what = "log A" if symbol == naming.LOG_A else "log(1 - A)"
        work.array(str(symbol), last.fan_out, f"{what} in the log domain")
        emitter = work.emitter(last.index)
        emitter.assign(str(symbol), form)
        lines += _commented(f"{what} = {code(form)}, in the log domain: never log(0)", emitter.lines)
    emitter = work.emitter(last.index)
    coefficient, body = _split_coefficient(out.element_loss * out.scale)
    terms = body.args if isinstance(body, sp.Add) else (body,)
    for index, term in enumerate(terms):
        _sum_of(emitter, term, first=index == 0)
    words = "Σ_k Σ_j l(A, Y)" if out.scale == 1 else f"{code(out.scale)} * Σ_k Σ_j l(A, Y)"
    lines += _commented(f"E = {words}, l(a, y) = {out.loss.element}", emitter.lines)
    lines.append(Line(f"return float({code(coefficient * sp.Symbol('E'))})"))
    return tuple(lines)


def _split_coefficient(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(c, rest) with expr = c · rest and c free of arrays."""
    factors = expr.args if isinstance(expr, sp.Mul) else (expr,)
    small = [f for f in factors if f.free_symbols <= SMALL]
    return sp.Mul(*small), sp.Mul(*[f for f in factors if not f.free_symbols <= SMALL])


def _sum_of(emitter: InPlace, term: sp.Expr, first: bool) -> None:
    """``E = Σ term`` (or ``E += …``): a dot product where the term is one, else a reduction."""
    coefficient, body = _split_coefficient(term)
    negative = coefficient.could_extract_minus_sign()
    coefficient = -coefficient if negative else coefficient
    prefix = ("E = -" if negative else "E = ") if first else ("E -= " if negative else "E += ")
    factor = "" if coefficient == 1 else f"({code(coefficient)}) * " if isinstance(coefficient, sp.Add) \
        else f"{code(coefficient)} * "
    factors = body.args if isinstance(body, sp.Mul) else (body,)
    if body.free_symbols <= SMALL:  # a constant term of ℓ (− log 2 in log cosh), once per entry of Y
        emitter.emit(f"{prefix}{factor}Y.size" if body == 1 else f"{prefix}{factor}{code(body)} * Y.size")
    elif len(factors) == 1 and isinstance(body, sp.Pow) and body.exp == 2:
        emitter.with_value(body.base, lambda v: emitter.emit(f"{prefix}{factor}np.vdot({v}, {v})"))
    elif len(factors) == 2 and not any(isinstance(f, sp.Pow) and f.exp.is_negative for f in factors):
        emitter.with_value(factors[0], lambda v: emitter.with_value(
            factors[1], lambda w: emitter.emit(f"{prefix}{factor}np.vdot({v}, {w})")))
    else:
        emitter.with_value(body, lambda v: emitter.emit(f"{prefix}{factor}np.add.reduce({v}, axis=None)"))


def _scaled(emitter: InPlace, target: str, factor: sp.Expr) -> list[str]:
    """The statements for ``target *= factor``."""
    emitter.once(factor, lambda expr: emitter.scale(target, expr))
    return emitter.lines


def output_delta(net: NetworkDerivation, last: LayerDerivation, emitter: InPlace) -> list[Line]:
    """δ⁽ᴸ⁾ = scale · (the derived output δ) into d{L}, commented with the chain-rule step it implements."""
    out, L = net.output, last.index
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
    emitter.once(SCALE * out.delta, lambda expr: emitter.assign(f"d{L}", expr))
    return [Line(emitter.lines[0], (why, f"d{L} = scale * {code(out.delta)}")), *map(Line, emitter.lines[1:])]


def parameter_gradients(l: int, previous: str) -> list[Line]:
    """∂E/∂b and ∂E/∂W of a dense layer l whose input is ``previous``, from its δ.

    Σ_k δ comes first, while δ is still in cache; the product for ∂E/∂W streams far more memory.
    """
    return [Line(f"np.add.reduce(d{l}, axis=0, out=grads[\"b{l}\"])", (f"∂E/∂b{l} = Σ_k δ{l}   (∂Z{l}/∂b{l} = 1)",)),
            Line(f"np.matmul({previous}.T, d{l}, out=grads[\"W{l}\"])",
                 (f"∂E/∂W{l} = {previous}ᵀ δ{l}   (∂Z{l}/∂W{l} = {previous})",))]


def _backward_lines(net: NetworkDerivation, work: Work) -> tuple[Line, ...]:
    last = net.layers[-1]
    lines = output_delta(net, last, work.emitter(last.index))
    for layer in reversed(net.layers):
        l = layer.index
        previous = "X" if l == 1 else f"A{l - 1}"
        lines += parameter_gradients(l, previous)
        if l == 1:
            break
        below = net.layers[l - 2]
        assert below.backward is not None
        step = f"δ{l - 1} = (δ{l} W{l}ᵀ) ⊙ {below.rule.name}'(Z{l - 1})   (∂Z{l}/∂A{l - 1} = W{l})"
        lines.append(Line(f"np.matmul(d{l}, params[\"W{l}\"].T, out=d{l - 1})", (step,)))
        if below.backward != 1:
            lines += _commented(f"{below.rule.name}'(Z{l - 1}) = {code(below.backward)}",
                                _scaled(work.emitter(l - 1), f"d{l - 1}", below.backward))
    return tuple(lines)
