"""The derivation told step by step: the sections a reader sees, in the seeds' notation.

Order: the network and its block diagram; the chain rule per layer; ∂E/∂A from the loss;
∂A/∂Z for each activation (derived, then rewritten in A, with the proof); ∂Z/∂W, ∂Z/∂b
and ∂Z/∂A⁽ˡ⁻¹⁾ from the indexed sum; δ⁽ᴸ⁾; the vectorised gradients layer by layer; for a
single neuron, the scalar steps ∂E/∂w_i and ∂E/∂b; the update rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import sympy as sp

from derive import naming
from derive.naming import partial
from derive.steps import Equation, Section, eq

if TYPE_CHECKING:
    from derive.network import LayerDerivation, NetworkDerivation

MAX_SCALAR_INPUTS = 8

UPDATE_RULES = {
    "gd": (r"w \leftarrow w - \eta \frac{\partial E}{\partial w}",
           "full-batch gradient descent: one step per epoch on the whole data set"),
    "sgd": (r"w \leftarrow w - \eta \frac{\partial E_B}{\partial w}",
            "stochastic gradient descent: one step per shuffled minibatch B"),
    "momentum": (r"v \leftarrow \mu v - \eta \frac{\partial E_B}{\partial w},\quad w \leftarrow w + v",
                 "gradient descent with momentum μ on shuffled minibatches"),
    "adam": (r"m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad "
             r"w \leftarrow w - \eta \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}",
             "Adam on shuffled minibatches, g = ∂E_B/∂w, t the step count"),
}


def sections(net: NetworkDerivation) -> Iterator[Section]:
    yield _network(net)
    yield _chain(net)
    yield _loss(net)
    seen: set[str] = set()
    for layer in net.layers:
        if layer.rule.name not in seen:
            seen.add(layer.rule.name)
            yield _activation(net, layer)
    yield _affine()
    yield _output_delta(net)
    yield _vectorised(net)
    if net.depth == 1 and net.layers[0].fan_out == 1 and net.layers[0].fan_in <= MAX_SCALAR_INPUTS:
        yield _perceptron(net)
    rule, words = UPDATE_RULES[net.spec.train.optimizer]
    yield Section("The update rule", f"{words}; η = {net.spec.train.learning_rate:g}.", (eq(rule),))


def _t(net: NetworkDerivation, layer: int) -> str:
    return naming.tag(layer, net.depth)


def _f(layer: LayerDerivation) -> str:
    return layer.rule.latex


def _network(net: NetworkDerivation) -> Section:
    equations = [eq(f"A{_t(net, 0) if net.depth > 1 else ''}", "X")] if net.depth > 1 else []
    for layer in net.layers:
        t, tp = _t(net, layer.index), _t(net, layer.index - 1)
        previous = "X" if layer.index == 1 else f"A{tp}"
        equations.append(eq(f"Z{t}", f"{previous} W{t} + b{t}"))
        equations.append(eq(f"A{t}", f"{_f(layer)}(Z{t})"))
    loss = net.spec.loss
    c = sp.latex(net.output.scale) if net.output.scale != 1 else ""
    reduce = r"\frac{1}{n}" if net.spec.reduction == "mean" else ""
    element = sp.latex(net.output.loss.element, symbol_names={naming.a: "A_{kj}", naming.y: "Y_{kj}"})
    body = rf"\sum_{{k=1}}^{{n}} \sum_{{j=1}}^{{{net.spec.outputs}}} {_paren(element)}"
    equations.append(eq("E", rf"{loss.latex}(A{_t(net, net.depth)}, Y)", f"{c} {body}".strip()))
    last = net.layers[-1]
    diagram = (rf"W{_t(net, 1)} \rightarrow f() \rightarrow Z{_t(net, 1)} \rightarrow {_f(net.layers[0])}() "
               rf"\rightarrow A{_t(net, 1)}")
    if net.depth > 1:
        t = _t(net, net.depth)
        diagram += rf" \rightarrow \cdots \rightarrow Z{t} \rightarrow {_f(last)}() \rightarrow A{t}"
    diagram += rf" \rightarrow {loss.latex}() \rightarrow E"
    sizes = " → ".join(str(size) for size in net.spec.sizes)
    text = (f"A network of {net.depth} dense layer(s), sizes {sizes}. Each row of X is one sample k = 1…n; "
            f"f() is the affine map, {reduce and 'the loss is averaged over the n samples; '}"
            "the block diagram reads left to right, the chain rule right to left.")
    return Section("The network", text, (*equations, eq(diagram)))


def _paren(text: str) -> str:
    return rf"\left({text}\right)"


def _chain(net: NetworkDerivation) -> Section:
    equations = []
    for layer in reversed(net.layers):
        t = _t(net, layer.index)
        if layer.index == net.depth:
            chain = (partial("E", f"A{t}") + partial(f"A{t}", f"Z{t}") + partial(f"Z{t}", f"W{t}"))
        else:
            tn = _t(net, layer.index + 1)
            chain = (partial("E", f"Z{tn}") + partial(f"Z{tn}", f"A{t}") + partial(f"A{t}", f"Z{t}")
                     + partial(f"Z{t}", f"W{t}"))
        equations.append(eq(partial("E", f"W{t}"), chain))
    text = ("Every weight reaches E through the layers after it; the chain rule multiplies the partial "
            "of each block. The factors are derived one by one below.")
    return Section("The chain rule", text, tuple(equations))


def _loss(net: NetworkDerivation) -> Section:
    loss = net.output.loss
    a, y = naming.a, naming.y
    element = eq(r"\ell(a, y)", loss.element)
    steps = [loss.derivative] if loss.derivative == loss.gradient else [loss.derivative, loss.gradient]
    derivative = eq(partial(r"\ell", "a"), rf"\frac{{\partial}}{{\partial a}}{_paren(sp.latex(loss.element))}", *steps)
    t = _t(net, net.depth)
    c = net.output.scale
    scaled = eq(partial("E", f"A{t}_{{kj}}"), c * loss.gradient.subs({a: sp.Symbol("A_{kj}"), y: sp.Symbol("Y_{kj}")}))
    words = (f"E sums ℓ over every sample k and output j; each A{t and '⁽ᴸ⁾'}_kj appears in exactly one term, so "
             "∂E/∂A is ∂ℓ/∂a element by element" + (", times the constant c of the reduction." if c != 1 else "."))
    return Section("∂E/∂A: the loss", words, (element, derivative, scaled))


def _activation(net: NetworkDerivation, layer: LayerDerivation) -> Section:
    f = _f(layer)
    if layer.elementwise is None:
        return _softmax(net)
    d = layer.elementwise
    Zs, As = sp.Symbol("Z"), sp.Symbol("A")
    show = {naming.z: Zs, naming.a: As}
    equations = [eq(rf"{f}(Z)", d.definition.subs(show))]
    chain = [d.derivative.subs(show)]
    if d.simplified != d.derivative:
        chain.append(d.simplified.subs(show))
    equations.append(eq(partial("A", "Z"), rf"{f}'(Z)", *chain))
    note = ""
    if d.in_output is not None:
        equations.append(eq(rf"{f}'(Z)", d.in_output.subs(naming.a, sp.Symbol(rf"{f}(Z)")), d.in_output.subs(show),
                            note=f"proved: simplify(f'(z) - g(f(z))) = 0 with g(a) = {d.in_output}"))
        note = "Rewritten in the layer output A, the backward pass reuses what the forward pass computed."
    elif d.named is not None:
        equations.append(eq(rf"{f}'(Z)", rf"{d.named.latex}(Z)",
                            note=f"proved: simplify(f'(z) - {d.named.name}(z)) = 0"))
        note = f"The derivative is itself a registered activation, {d.named.name}."
    elif d.backward != d.simplified:
        kink = d.backward.has(sp.Heaviside)
        equations.append(eq(rf"{f}'(Z)", d.backward.subs(show), note="H(0) = 0 at the kink" if kink
                            else "proved equal; this form does not overflow"))
        if kink:
            note = ("At Z = 0 the derivative does not exist (SymPy's step function H is ½ there); "
                    "the backward pass takes H(0) = 0, the subgradient PyTorch uses.")
    text = (f"A = {layer.rule.name}(Z) acts element by element, so ∂A/∂Z is diagonal: "
            f"each A_kj depends on Z_kj only. {note}")
    return Section(f"∂A/∂Z: {layer.rule.name}", text.strip(), tuple(equations))


def _softmax(net: NetworkDerivation) -> Section:
    s = net.output.softmax
    assert s is not None
    equations = [
        eq(r"A_j", s.indexed_definition),
        eq(partial("A_j", "Z_i"), s.indexed_jacobian, s.jacobian, note="proved entry by entry on a 3-output instance"),
        eq(r"\frac{\partial A}{\partial Z}", r"\operatorname{diag}(A) - A A^{\mathsf{T}}"),
        eq(r"\delta_i", r"\sum_j \frac{\partial E}{\partial A_j} A_j (\delta_{ij} - A_i)",
           r"A_i \left(\frac{\partial E}{\partial A_i} - \sum_j A_j \frac{\partial E}{\partial A_j}\right)"),
        eq(r"\delta_1 \text{ (3 outputs)}", s.contraction_instance),
    ]
    text = ("softmax couples the outputs of a sample: every A_j depends on every Z_i, so the Jacobian is full "
            "and the chain rule contracts it with ∂E/∂A.")
    if s.collapsed is not None:
        why = "Σ_j A_j = 1 and Σ_j Y_j = 1 (one-hot or probability targets)" if s.uses_target_sum else "Σ_j A_j = 1"
        equations.append(eq(r"\delta_i", s.collapsed.subs({naming.a: sp.Symbol("A_i"), naming.y: sp.Symbol("Y_i")}),
                            note=f"using {why}"))
        text += f" With {why} the contraction collapses to an elementwise formula."
    return Section("∂A/∂Z: softmax", text, tuple(equations))


def _affine() -> Section:
    i, j, k, p, q = sp.symbols("i j k p q", integer=True)
    d = sp.Symbol("d", integer=True, positive=True)
    A, W, b = sp.IndexedBase("A"), sp.IndexedBase("W"), sp.IndexedBase("b")
    z = sp.Sum(A[k, i] * W[i, j], (i, 1, d)) + b[j]
    equations = [eq("Z_{kj}", z)]
    for wrt, label in ((W[p, q], "W_{pq}"), (b[q], "b_q"), (A[k, p], "A_{kp}")):
        derivative = sp.diff(z, wrt)
        done = _in_range(derivative.doit())
        equations.append(eq(partial("Z_{kj}", label), derivative, done) if derivative != done
                         else eq(partial("Z_{kj}", label), done))
    text = ("f() is affine: Z = A W + b with A the previous layer's output (X for the first layer). SymPy "
            "differentiates the indexed sum (1 ≤ p ≤ d): ∂Z/∂W is the layer input, ∂Z/∂b is 1, and "
            "∂Z/∂A, the layer-to-layer term, is W.")
    return Section("∂Z/∂W, ∂Z/∂b, ∂Z/∂A: the affine map", text, tuple(equations))


def _in_range(expr: sp.Expr) -> sp.Expr:
    """Drop the 'index out of range' branch of a Piecewise: indices run over 1…d."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)


def _output_delta(net: NetworkDerivation) -> Section:
    last = net.layers[-1]
    t = _t(net, last.index)
    out = net.output
    delta = sp.Symbol(rf"\delta{t}")
    if out.form == "elementwise":
        lhs_chain = partial("E", f"A{t}") + r" \odot " + rf"{_f(last)}'(Z{t})"
        product = out.gradient * last.backward
        parts: list[sp.Basic | str] = [lhs_chain, sp.Mul(out.gradient, last.backward, evaluate=False)]
        if out.delta != product:
            parts.append(out.delta)
        equations: tuple[Equation, ...] = (eq(delta, *parts),)
    elif out.form == "softmax-collapsed":
        equations = (eq(delta, partial("E", f"Z{t}"), out.delta),)
    else:
        equations = (eq(delta, rf"A{t} \odot \left(G - \left(A{t} \odot G\right)\mathbf{{1}}\right)", out.delta),
                     eq("G", partial("E", f"A{t}"), out.gradient))
    text = "δ = ∂E/∂Z of the output layer, one row per sample, printed as the generated code computes it."
    return Section(f"δ{t and '⁽ᴸ⁾'}: the output layer", text, equations)


def _vectorised(net: NetworkDerivation) -> Section:
    equations: list[Equation] = []
    for layer in reversed(net.layers):
        t, tp = _t(net, layer.index), _t(net, layer.index - 1)
        previous = "X" if layer.index == 1 else f"A{tp}"
        if layer.index < net.depth:
            tn = _t(net, layer.index + 1)
            assert layer.backward is not None
            factor = sp.latex(layer.backward, symbol_names=naming.latex_names(net.depth))
            back = rf"\left(\delta{tn} W{tn}{{}}^{{\mathsf{{T}}}}\right) \odot"
            equations.append(eq(rf"\delta{t}", rf"{back} {_f(layer)}'(Z{t})", rf"{back} {_paren(factor)}"))
        equations.append(eq(partial("E", f"W{t}"), rf"{previous}^{{\mathsf{{T}}}} \delta{t}"))
        equations.append(eq(partial("E", f"b{t}"), rf"\sum_{{k=1}}^{{n}} \delta{t}_{{k}}"))
    text = ("Summing the chain over samples turns the per-element factors into matrix products: "
            "∂Z/∂W = A⁽ˡ⁻¹⁾ gives the transpose-product, ∂Z/∂b = 1 the column sums, and ∂Z⁽ˡ⁺¹⁾/∂A⁽ˡ⁾ = W⁽ˡ⁺¹⁾ "
            "carries δ back one layer. ⊙ is the element-by-element product.")
    return Section("The vectorised gradients", text, tuple(equations))


def _perceptron(net: NetworkDerivation) -> Section:
    layer = net.layers[0]
    xs = sp.symbols(f"x_1:{layer.fan_in + 1}", real=True)
    ws = sp.symbols(f"w_1:{layer.fan_in + 1}", real=True)
    bias = sp.Symbol("b", real=True)
    z = sum(w * x for w, x in zip(ws, xs, strict=True)) + bias
    A, Y = sp.Symbol("A"), sp.Symbol("Y")
    out = net.output
    g = (out.gradient / out.scale).subs({naming.A(1): A, naming.Y: Y}) if out.scale != 0 else out.gradient
    assert layer.backward is not None
    fprime = layer.backward.subs({naming.A(1): A, naming.Z(1): sp.Symbol("Z")})
    total = r"\sum_{k=1}^{n}" if out.scale == 1 else rf"{sp.latex(out.scale)} \sum_{{k=1}}^{{n}}"
    equations = [eq("Z", z)]
    for weight in (*ws, bias):
        dz = sp.diff(z, weight)
        label = sp.latex(weight)
        equations.append(eq(partial("Z", label), dz))
        chain = partial("E", "A") + partial("A", "Z") + partial("Z", label)
        factors = [g, fprime] + ([dz] if dz != 1 else [])
        product = r" \cdot ".join(_paren(sp.latex(f)) if isinstance(f, sp.Add) else sp.latex(f) for f in factors)
        equations.append(eq(partial("E", label), chain, rf"{total} {product}"))
    text = ("The same steps for a single neuron, weight by weight, as on paper: Z = w₁x₁ + w₂x₂ + … + b, "
            "so ∂Z/∂wᵢ = xᵢ and ∂Z/∂b = 1, and each gradient sums over the n samples.")
    return Section("Scalar view: one neuron", text, tuple(equations))
