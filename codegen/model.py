"""What the generated module says, decided here; ``model.py.jinja`` only lays it out.

Every backward line is printed from the derived SymPy expression by the NumPy printer,
with a comment naming the chain-rule step it implements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class LayerCode:
    index: int
    fan_in: int
    fan_out: int
    activation: str
    init_words: str
    init_std: str
    softmax: bool
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
    cache: str  # "Z1, A1, Z2, A2"
    loss_lines: tuple[Line, ...]
    loss_uses_n: bool
    backward: tuple[Line, ...]
    backward_uses_n: bool
    train: dict[str, object]


def model_context(net: NetworkDerivation, source: str, tool: str, version: str) -> ModelContext:
    spec = net.spec
    layers = tuple(_layer(net, layer) for layer in net.layers)
    names = []
    for layer in net.layers:  # the output A⁽ᴸ⁾ comes last
        names += [f"Z{layer.index}", *(["Zs", "S"] if layer.rule.kind == "softmax" else []), f"A{layer.index}"]
    loss_lines = _loss_lines(net)
    backward = _backward_lines(net)
    targets = spec.loss.targets
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
        name=spec.name, tool=tool, version=version, source=source, sizes=spec.sizes, summary=summary,
        dtype=spec.dtype, loss_name=spec.loss.name, reduction=spec.reduction, targets=targets,
        accuracy=accuracy, layers=layers, cache=", ".join(names), loss_lines=loss_lines,
        loss_uses_n=any("n" in _words(line.code) for line in loss_lines),
        backward=backward, backward_uses_n=n in net.output.delta.free_symbols,
        train=train,
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _layer(net: NetworkDerivation, layer: LayerDerivation) -> LayerCode:
    l, previous = layer.index, "X" if layer.index == 1 else f"A{layer.index - 1}"
    words, std = INIT_WORDS[layer.init]
    head = f"Layer {l}: Z{l} = {previous} W{l} + b{l}, A{l} = {layer.rule.name}(Z{l})"
    forward = [Line(f"Z{l} = {previous} @ params[\"W{l}\"]", (head,)), Line(f"Z{l} += params[\"b{l}\"]")]
    if layer.rule.kind == "softmax":
        forward += [
            Line(f"Zs = Z{l} - np.max(Z{l}, axis=1, keepdims=True)", ("softmax, shifted by the row maximum so exp never overflows",)),
            Line("S = np.sum(np.exp(Zs), axis=1, keepdims=True)"),
            Line(f"A{l} = np.exp(Zs) / S"),
        ]
    else:
        assert layer.forward is not None
        forward.append(Line(f"A{l} = {code(layer.forward)}"))
    return LayerCode(l, layer.fan_in, layer.fan_out, layer.rule.name, words,
                     std.format(fan_in=layer.fan_in, fan_out=layer.fan_out), layer.rule.kind == "softmax",
                     tuple(forward))


def _loss_lines(net: NetworkDerivation) -> tuple[Line, ...]:
    out = net.output
    lines = []
    for symbol, form in out.log_forms.items():
        what = "log A" if symbol == naming.LOG_A else "log(1 - A)"
        lines.append(Line(f"{symbol} = {code(form)}", (f"{what} in the log domain, never log(0)",)))
    element = code(out.element_loss)
    scale = "" if out.scale == 1 else f"{code(out.scale)} * "
    lines.append(Line(f"return float({scale}np.sum({element}))",
                      (f"E = {scale}sum over samples k and outputs j of l(A, Y), l(a, y) = {out.loss.element}",)))
    return tuple(lines)


def _backward_lines(net: NetworkDerivation) -> tuple[Line, ...]:
    out, last = net.output, net.layers[-1]
    L = last.index
    lines: list[Line] = []
    if out.form == "elementwise":
        assert last.backward is not None
        why = (f"δ{L} = ∂E/∂A{L} ⊙ ∂A{L}/∂Z{L}, with ∂E/∂A{L} = {code(out.gradient)}, "
               f"{last.rule.name}'(Z{L}) = {code(last.backward)}")
    elif out.form == "softmax-collapsed":
        why = f"δ{L} = ∂E/∂A{L} · (diag(A{L}) - A{L} A{L}ᵀ), which collapses to this because rows of A{L} and Y sum to 1"
    else:
        why = f"δ{L} = A{L} ⊙ (G - rowsum(A{L} ⊙ G)), the softmax Jacobian contracted with G = ∂E/∂A{L} = {code(out.gradient)}"
    lines.append(Line(f"d{L} = {code(out.delta)}", (why,)))
    for layer in reversed(net.layers):
        l = layer.index
        previous = "X" if l == 1 else f"A{l - 1}"
        lines.append(Line(f"np.matmul({previous}.T, d{l}, out=grads[\"W{l}\"])",
                          (f"∂E/∂W{l} = {previous}ᵀ δ{l}   (∂Z{l}/∂W{l} = {previous})",)))
        lines.append(Line(f"np.sum(d{l}, axis=0, out=grads[\"b{l}\"])",
                          (f"∂E/∂b{l} = Σ_k δ{l}   (∂Z{l}/∂b{l} = 1)",)))
        if l == 1:
            break
        below = net.layers[l - 2]
        assert below.backward is not None
        step = f"δ{l - 1} = (δ{l} W{l}ᵀ) ⊙ {below.rule.name}'(Z{l - 1})   (∂Z{l}/∂A{l - 1} = W{l})"
        lines.append(Line(f"d{l - 1} = d{l} @ params[\"W{l}\"].T", (step,)))
        if below.backward != 1:
            lines.append(Line(f"d{l - 1} *= {code(below.backward)}",
                              (f"{below.rule.name}'(Z{l - 1}) = {code(below.backward)}",)))
    return tuple(lines)
