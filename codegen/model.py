"""What the generated module says, decided here; ``model.py.jinja`` only lays it out.

The forward pass, the loss, the output δ and the backward pass are written once, here, and ask
each layer's kind for its lines (:mod:`codegen.layers`). Every elementwise line is printed from
the derived SymPy expression, through :mod:`codegen.inplace`, into arrays allocated once per batch
size; a comment names the chain-rule step each line implements and shows the expression it evaluates.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import sympy as sp

from codegen import optimizers
from codegen.env import source_label
from codegen.inplace import InPlace, Scratch
from codegen.optimizers import UpdateCode
from codegen.printers import code
from derive import naming
from derive.layers import LayerKind
from derive.loss import n
from derive.network import LayerDerivation, NetworkDerivation
from derive.optimizers import OPTIMIZERS

INIT_WORDS = {
    "xavier": ("Xavier/Glorot normal", "np.sqrt(2.0 / ({fan_in} + {fan_out}))"),
    "he": ("He normal", "np.sqrt(2.0 / {fan_in})"),
}


@dataclass(frozen=True)
class Line:
    """One statement of generated code, with the comment lines above it."""

    code: str
    comments: tuple[str, ...] = ()


COMMON_NOTATION = "Al = fl(Zl),  A0 = X,  dl = δl = ∂E/∂Zl"
IMAGE_NOTATION = ("X is (n, C, H, W), as in PyTorch; inside, images are kept as (m, H, W, C), so that every "
                  "window of a convolution or a pooling is a view; gl = ∂E/∂Al where a layer has no activation.")
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
    forward: tuple[Line, ...]  # the forward pass
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # SHAPES: each parameter's shape
    headline: str  # "a dense network"
    notation: str  # the module docstring's notation lines
    last: int  # the output layer's index
    updates: tuple[UpdateCode, ...]  # each optimizer's update function
    settings: tuple[tuple[str, str, str], ...]  # each optimizer setting: train()'s keyword, its code name, bounds
    schedule_words: str  # train()'s docstring: which optimizers step per epoch, which per minibatch
    uses_erf: bool = False  # whether the module needs its own erf (codegen/erf.py)


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
        """The work of ``net``: a pool of scratch arrays and masks, of Z's shape, per layer with an activation."""
        return cls({layer.index: layer.kind.code().rows(layer) for layer in net.layers if layer.has_activation})

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
    spec = net.spec
    work = Work.of(net)
    forward = _input_lines(net, work)
    for layer in net.layers:
        forward += layer.kind.code().forward(net, layer, work)
    loss_lines = _loss_lines(net, work)
    backward = _backward_lines(net, work)
    work.finish()
    last = net.layers[-1]
    assert last.rule is not None
    if last.is_softmax and last.out_shape[0] > 1:
        accuracy = "argmax"
    elif last.rule.name == "sigmoid":
        accuracy = "threshold"
    else:
        accuracy = "none"
    train = {"optimizer": spec.train.optimizer, "learning_rate": spec.train.learning_rate, "epochs": spec.train.epochs,
             "batch_size": spec.train.batch_size, "seed": spec.train.seed, **spec.train.settings}
    shapes = tuple((key, shape) for layer in net.layers for key, shape in layer.parameter_shapes.items())
    return ModelContext(
        name=spec.name, tool=tool, version=version, source=source_label(source), sizes=spec.sizes,
        summary=_summary_line(net), dtype=spec.dtype, loss_name=spec.loss.name, reduction=spec.reduction,
        targets=spec.loss.targets, accuracy=accuracy,
        layers=tuple(_layer_code(layer) for layer in net.layers if layer.has_parameters),
        work=tuple(work.lines), work_names=_wrapped(work.names), output=f"A{last.index}", loss_lines=loss_lines,
        loss_uses_n=n in net.output.scale.free_symbols, backward=backward,
        backward_uses_n=n in net.output.delta.free_symbols, train=train, **task_words(net, accuracy),
        summary_table=_summary_table(net), input_shape=spec.input_shape, forward=_hoisted(forward), shapes=shapes,
        headline=_headline(net), notation=_notation(net), last=last.index, uses_erf=uses_erf(net),
        updates=optimizers.updates(), settings=optimizers.settings(),
        schedule_words=_schedule_words(),
    )


def _schedule_words() -> str:
    full = [rule.name for rule in OPTIMIZERS.values() if not rule.minibatch]
    minibatch = [rule.name for rule in OPTIMIZERS.values() if rule.minibatch]
    return "\n    ".join(textwrap.wrap(f"One step per epoch on all of X with {', '.join(full)}; one per minibatch of a "
                                     f"seeded shuffle with {', '.join(minibatch)}.", WIDTH - 4))


def _kinds(net: NetworkDerivation) -> list[LayerKind]:
    return list(dict.fromkeys(layer.kind for layer in net.layers))


def _headline(net: NetworkDerivation) -> str:
    names = [kind.name for kind in _kinds(net)]
    if names == ["dense"]:
        return "a dense network"
    return f"a network of {', '.join(names[:-1])} and {names[-1]} layers"


def _notation(net: NetworkDerivation) -> str:
    """Each kind's formula, the notation all share, each kind's note on layouts, and the images' layout."""
    codes = [kind.code() for kind in _kinds(net)]
    formulas = [module.formula(net) for module in codes]
    notes = [note for note in (module.layout(net) for module in codes) if note]
    if len(net.spec.input_shape) == 3:
        notes.append(IMAGE_NOTATION)
    if len(formulas) == 1:
        head = [f"{formulas[0]},  {COMMON_NOTATION};"]
    else:
        head = [f"{formula};" for formula in formulas] + [f"{COMMON_NOTATION};"]
    lines = [*head, *(wrapped for note in notes for wrapped in textwrap.wrap(note, WIDTH - 10))]
    return "Notation  " + "\n          ".join(lines)


def _summary_line(net: NetworkDerivation) -> str:
    spec = net.spec
    inputs = ", ".join(map(str, spec.input_shape))
    layers = [layer.kind.code().words(layer) for layer in net.layers]
    return " -> ".join([f"X(n, {inputs})", *layers, f"E = {spec.loss.name}, reduction {spec.reduction}"])


def _input_lines(net: NetworkDerivation, work: Work) -> list[Line]:
    """An image batch copied once into A0 (m, H, W, C), the layout every image layer reads (unless the
    first layer reads X itself); a flat batch is read as it is."""
    from codegen.layers.base import output_of

    if output_of(net, 0) != "A0":
        return []
    channels, height, width = net.spec.input_shape
    work.array("A0", f"(m, {height}, {width}, {channels})", "the input batch as (m, H, W, C)")
    return [Line("np.copyto(A0, X.transpose(0, 2, 3, 1))", ("X is (m, C, H, W); the layers read (m, H, W, C)",))]


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


def uses_erf(net: NetworkDerivation) -> bool:
    """Whether any expression the module evaluates contains erf."""
    out = net.output
    printed = [out.delta, out.element_loss, *out.log_forms.values()]
    printed += [expr for layer in net.layers for expr in (layer.forward, layer.backward) if expr is not None]
    return any(expr.has(sp.erf) for expr in printed)


def task_words(net: NetworkDerivation, accuracy: str) -> dict[str, object]:
    """What the module says about its task: classifier or regression, the labels Y may be, the scores."""
    spec, last = net.spec, net.layers[-1]
    assert last.rule is not None
    outputs, output = last.out_shape[0], f"A{last.index}"
    classes = outputs if outputs > 1 else 2
    labels = spec.loss.targets in ("unit", "distribution")
    rows = "one-hot rows" if spec.loss.targets == "distribution" else "targets in [0, 1]"
    label_range = "0 or 1" if outputs == 1 else f"0..{outputs - 1}"
    kind = f"{last.rule.name} output, loss {spec.loss.name}"
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
    """summary(): each layer's kind, activation, output shape per sample, W and b shapes and parameter
    count, then the total, loss, reduction and dtype."""
    spec = net.spec
    rows = [("layer", "kind", "activation", "output", "W shape", "b shape", "parameters")]
    total = 0
    for layer in net.layers:
        shapes = layer.kind.parameter_shapes(layer.settings, layer.in_shape, layer.out_shape)
        weight, bias = shapes.get("W"), shapes.get("b")
        count = sum(math.prod(shape) for shape in shapes.values())
        total += count
        rows.append((str(layer.index), layer.kind.name, layer.rule.name if layer.rule else "",
                     str(tuple(layer.out_shape)), str(weight) if weight else "", str(bias) if bias else "", str(count)))
    rows.append(("total", "", "", "", "", "", str(total)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    inputs = f"{spec.inputs} inputs" if len(spec.input_shape) == 1 else f"input {tuple(spec.input_shape)}"
    lines = [f"Network {spec.name}: {inputs}, {len(net.layers)} layers"]
    for row in rows:
        cells = [cell.rjust(width) if column == 6 else cell.ljust(width)
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


def commented(comment: str, statements: list[str]) -> list[Line]:
    """Lines for ``statements``, the first one under ``comment``."""
    return [Line(text, (comment,) if index == 0 else ()) for index, text in enumerate(statements)]


def _layer_code(layer: LayerDerivation) -> LayerCode:
    """What init_params says of a layer with parameters: its initialisation and fans, as PyTorch counts them."""
    assert layer.rule is not None and layer.init is not None
    words, std = INIT_WORDS[layer.init]
    return LayerCode(layer.index, layer.fan_in, layer.fan_out, layer.rule.name, words,
                     std.format(fan_in=layer.fan_in, fan_out=layer.fan_out), ())


def _loss_lines(net: NetworkDerivation, work: Work) -> tuple[Line, ...]:
    out, last = net.output, net.layers[-1]
    lines: list[Line] = []
    for symbol, form in out.log_forms.items():
        what = "log A" if symbol == naming.LOG_A else "log(1 - A)"
        work.array(str(symbol), last.fan_out, f"{what} in the log domain")
        emitter = work.emitter(last.index)
        emitter.assign(str(symbol), form)
        lines += commented(f"{what} = {code(form)}, in the log domain: never log(0)", emitter.lines)
    emitter = work.emitter(last.index)
    coefficient, body = _split_coefficient(out.element_loss * out.scale)
    terms = body.args if isinstance(body, sp.Add) else (body,)
    for index, term in enumerate(terms):
        _sum_of(emitter, term, first=index == 0)
    words = "Σ_k Σ_j l(A, Y)" if out.scale == 1 else f"{code(out.scale)} * Σ_k Σ_j l(A, Y)"
    lines += commented(f"E = {words}, l(a, y) = {out.loss.element}", emitter.lines)
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


def _backward_lines(net: NetworkDerivation, work: Work) -> tuple[Line, ...]:
    """δ⁽ᴸ⁾, then from the output layer down to the first layer with parameters: each layer's gradients,
    ∂E/∂A⁽ˡ⁻¹⁾ into the buffer of the layer below, and, where that layer has an activation, its f′."""
    last = net.layers[-1]
    lines = output_delta(net, last, work.emitter(last.index))
    for layer in reversed(net.layers):
        module = layer.kind.code()
        lines += module.parameters(net, layer, work)
        if layer.index == net.first_with_parameters:
            break
        lines += module.input_gradient(net, layer, work)
        below = net.layers[layer.index - 2]
        if below.rule is not None and below.backward != 1:
            assert below.backward is not None
            lines += commented(f"{below.rule.name}'(Z{below.index}) = {code(below.backward)}",
                               _scaled(work.emitter(below.index), f"d{below.index}", below.backward))
    return _hoisted(lines)
