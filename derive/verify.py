"""The matrix form checked against the chain rule on the scalar entries, as SymPy identities, layer by layer.

On a small instance (``samples`` rows; the spec's layer sizes, each capped at ``max_width``)
every entry of X, Y, W⁽ˡ⁾, b⁽ˡ⁾ and of each pre-activation Z⁽ˡ⁾ is a symbol, A⁽ˡ⁾ = f(Z⁽ˡ⁾) by
the definitions (no derived factor), and G⁽ˡ⁾ is a matrix of symbols standing for ∂E/∂Z⁽ˡ⁾.
The vectorised formulas, filled with the factors SymPy derived (δ⁽ᴸ⁾ and each f′ in its
rewritten form), must equal these derivatives, each difference 0 as a rational function of the
entries and of the function applications:

* the output: δ⁽ᴸ⁾_kc = ∂E/∂Z⁽ᴸ⁾_kc, E = c Σ ℓ(f(Z⁽ᴸ⁾), Y) (softmax couples a row);
* each layer, with S = Σ_kj G⁽ˡ⁾_kj Z⁽ˡ⁾_kj and Z⁽ˡ⁾ = f(Z⁽ˡ⁻¹⁾)W⁽ˡ⁾ + b⁽ˡ⁾ written out:
  (A⁽ˡ⁻¹⁾ᵀG⁽ˡ⁾)_ij = ∂S/∂W⁽ˡ⁾_ij, (Σ_k G⁽ˡ⁾_k)_j = ∂S/∂b⁽ˡ⁾_j and
  ((G⁽ˡ⁾W⁽ˡ⁾ᵀ) ⊙ f′(Z⁽ˡ⁻¹⁾))_ki = ∂S/∂Z⁽ˡ⁻¹⁾_ki.

By the multivariable chain rule (∂E/∂Z⁽ˡ⁻¹⁾ = Σ ∂E/∂Z⁽ˡ⁾ · ∂Z⁽ˡ⁾/∂Z⁽ˡ⁻¹⁾, with G⁽ˡ⁾ = ∂E/∂Z⁽ˡ⁾
by the step above), these identities prove that the matrix form gives ∂E/∂w of the whole
network for every entry; each involves one layer, so the proof takes time linear in depth, where
differentiating the expanded E took minutes for five layers. A parameter's entry is reported as
failing when its own identity fails or any identity above it does (its gradient is built on them).

Piecewise activations (relu, leaky_relu, abs, max, min, a step function) are proved on each
side of every kink: each piecewise application gets a 0/1 symbol s for "its argument is
positive" (max(p, q) = q + (p − q)s, |u| = u(2s − 1), H(u) = s), the same s wherever the same
argument appears, so the identity is checked on every region where the signs are fixed at
once. At a kink itself the derivative does not exist and the code's H(0) = 0 is a choice.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from derive import naming
from derive.elementwise import at_kinks
from derive.loss import n
from derive.network import LayerDerivation, NetworkDerivation
from derive.stable import RowSum, unstable


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda r, c: sp.Symbol(f"{name}_{r}_{c}", real=True))


def verify_matrix_form(net: NetworkDerivation, samples: int = 2, max_width: int = 3) -> list[str]:
    """The entries where the derived forms and ∂E/∂w of the expanded E differ (empty: proved).

    Each layer kind proves its own sums on a small instance of the layer's settings (the convolution's,
    the pooling's routing: :meth:`~derive.layers.LayerKind.verify`); the dense layers at the top of the
    network are proved together with the loss and the output δ through the whole chain, below.
    """
    failures: list[str] = []
    proved: set[tuple[str, object]] = set()
    for layer in net.layers:
        if (layer.kind.name, layer.settings) not in proved:
            proved.add((layer.kind.name, layer.settings))
            failures += [f"layer {layer.index}: {failure}" for failure in layer.kind.verify(layer)]
    return failures + _verify_chain(dense_top(net), samples, max_width)


def dense_top(net: NetworkDerivation) -> NetworkDerivation:
    """The network made of the dense layers above the last layer of another kind (all of a dense network),
    its input the output of that layer: the part proved with the loss and the output δ, layer by layer."""
    from derive.network import derive_network
    from derive.spec import Spec

    first = max((layer.index for layer in net.layers if layer.kind.name != "dense"), default=0)
    if first == 0:
        return net
    spec = net.spec
    top = spec.layers[first:]
    return derive_network(Spec(spec.name, spec.shapes[first][0], top, spec.loss, spec.reduction, spec.dtype,
                               spec.train, spec.source, shapes=spec.shapes[first:]))


def _verify_chain(net: NetworkDerivation, samples: int, max_width: int) -> list[str]:
    """The dense network's matrix forms against the chain rule, layer by layer (the module's docstring)."""
    sizes = tuple(min(size, max_width) for size in net.spec.sizes)
    if net.output.softmax is None:  # the output width matters for softmax only through the row sums
        sizes = (*sizes[:-1], min(net.spec.sizes[-1], max_width))
    pieces = _Pieces()
    X = _matrix("x", samples, sizes[0])
    Y = _matrix("y", samples, sizes[-1])
    if net.output.softmax is not None and net.output.softmax.uses_target_sum:
        # The collapse δ = A − Y assumes rows of Y sum to 1: impose it on the instance.
        for r in range(samples):
            Y[r, sizes[-1] - 1] = 1 - sum(Y[r, c] for c in range(sizes[-1] - 1))
    Ws = [_matrix(f"w{l}", sizes[l - 1], sizes[l]) for l in range(1, len(sizes))]
    bs = [_matrix(f"b{l}", 1, sizes[l]) for l in range(1, len(sizes))]
    Zs = [_matrix(f"z{l}", samples, sizes[l]) for l in range(1, len(sizes))]  # pre-activations, free
    As = [X] + [_activated(layer, Z, pieces) for layer, Z in zip(net.layers, Zs, strict=True)]
    depth = len(net.layers)
    broken = [False] * (depth + 1)  # broken[l]: an identity of layer l (or the output, l = depth) failed
    element = net.output.loss.element
    scale = net.output.scale.subs(n, samples)
    E = scale * sum(pieces.of(element.subs({naming.a: As[-1][r, c], naming.y: Y[r, c]}))
                    for r in range(samples) for c in range(sizes[-1]))
    delta = _output_delta(net, As, Zs, Y, samples).applyfunc(pieces.of)
    broken[depth] = not _all_zero(((sp.diff(E, z) - delta[r, c]) for (r, c), z in _entries(Zs[-1])), pieces)
    failing: dict[int, list[str]] = {}
    for l in range(depth, 0, -1):
        G = _matrix(f"g{l}", samples, sizes[l])  # stands for ∂E/∂Z⁽ˡ⁾
        W, b, A = Ws[l - 1], bs[l - 1], As[l - 1]
        S = sum((G.multiply_elementwise(A * W + sp.ones(samples, 1) * b)), sp.Integer(0))
        grad_W, grad_b = A.T * G, sp.ones(1, samples) * G
        failing[l] = [f"dE/d{weight}" for (r, c), weight in _entries(W)
                      if not is_rational_zero(sp.diff(S, weight) - grad_W[r, c], pieces.sides)]
        failing[l] += [f"dE/d{bias}" for (_, c), bias in _entries(b)
                       if not is_rational_zero(sp.diff(S, bias) - grad_b[0, c], pieces.sides)]
        if l > 1:
            layer = net.layers[l - 2]
            back = _fill(unstable(_slope(layer)), layer.A, layer.Z, A, Zs[l - 2], Y).applyfunc(pieces.of)
            previous = (G * W.T).multiply_elementwise(back)
            broken[l - 1] = not _all_zero(((sp.diff(S, z) - previous[r, c]) for (r, c), z in _entries(Zs[l - 2])),
                                          pieces)
    failures = []
    for l in range(1, depth + 1):
        if any(broken[l:]):  # a δ it is built on is wrong: every entry of this layer's gradient is
            failures += [f"dE/d{entry}" for _, entry in _entries(Ws[l - 1]) + _entries(bs[l - 1])]
        else:
            failures += failing[l]
    return failures


def _activated(layer: LayerDerivation, Z: sp.Matrix, pieces: _Pieces) -> sp.Matrix:
    """A = f(Z) entry by entry from the definition (softmax along each row)."""
    if layer.elementwise is None:
        exps = Z.applyfunc(sp.exp)
        return sp.Matrix(Z.rows, Z.cols, lambda r, c: exps[r, c] / sum(exps.row(r)))
    definition = layer.elementwise.definition
    return Z.applyfunc(lambda v: pieces.of(definition.subs(naming.z, v)))


def _all_zero(differences: Iterable[sp.Expr], pieces: _Pieces) -> bool:
    return all(is_rational_zero(pieces.of(difference), pieces.sides) for difference in differences)


class _Pieces:
    """The 0/1 symbol of each piecewise application's argument: s = 1 where the argument is positive.

    max(a₁, …) = Σ_i a_i Π_{j≠i} [a_i > a_j] (ties have measure zero), which is also the form of
    SymPy's derivative of Max; min likewise with the comparisons turned around.
    """

    def __init__(self) -> None:
        self.keys: dict[sp.Expr, sp.Symbol] = {}

    @property
    def sides(self) -> frozenset[sp.Symbol]:
        return frozenset(self.keys.values())

    def side(self, argument: sp.Expr) -> sp.Expr:
        """[argument > 0] as a 0/1 symbol; c·u with c < 0 is 1 − [u > 0]."""
        argument = sp.expand(argument)
        if argument.could_extract_minus_sign():
            return 1 - self.side(-argument)
        _, key = argument.as_content_primitive()  # 0.99 z and z are positive together
        return self.keys.setdefault(key, sp.Dummy(f"s{len(self.keys)}"))

    def of(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with max, min, |·|, sign and H written with the side symbols of their arguments."""
        def maximum(*args: sp.Expr) -> sp.Expr:  # Σ_i a_i Π_{j≠i} [a_i > a_j], as SymPy differentiates Max
            return sp.Add(*(arg * sp.Mul(*(self.side(arg - other) for other in args if other is not arg))
                            for arg in args))

        def minimum(*args: sp.Expr) -> sp.Expr:
            return sp.Add(*(arg * sp.Mul(*(self.side(other - arg) for other in args if other is not arg))
                            for arg in args))

        expr = expr.replace(sp.Heaviside, lambda u, *rest: self.step(u))
        expr = expr.replace(sp.Max, maximum).replace(sp.Min, minimum)
        expr = expr.replace(sp.Abs, lambda u: u * (2 * self.side(u) - 1))
        expr = expr.replace(sp.sign, lambda u: 2 * self.side(u) - 1)
        return expr


    def step(self, argument: sp.Expr) -> sp.Expr:
        """H(u) as sides; H(x − max(v₁, …)) = Π_j [x > v_j], as SymPy's derivative of a Max of three or more
        arguments writes it (and the like for min), so that it uses the same comparisons as max itself."""
        for term in sp.Add.make_args(argument):
            coefficient, rest = term.as_coeff_Mul()
            if abs(coefficient) == 1 and isinstance(rest, (sp.Max, sp.Min)):
                x = argument - term
                others = rest.args
                if coefficient == -1 and isinstance(rest, sp.Max):  # x − max(v) > 0 ⟺ x > v_j for all j
                    return sp.Mul(*(self.side(x - v) for v in others))
                if coefficient == 1 and isinstance(rest, sp.Min):  # x + min(v) > 0 ⟺ v_j > −x for all j
                    return sp.Mul(*(self.side(v + x) for v in others))
                if coefficient == 1 and isinstance(rest, sp.Max):  # x + max(v) > 0 ⟺ not all v_j ≤ −x
                    return 1 - sp.Mul(*(1 - self.side(v + x) for v in others))
                return 1 - sp.Mul(*(1 - self.side(x - v) for v in others))  # x − min(v) > 0
        return self.side(self.of(argument))


def is_rational_zero(expr: sp.Expr, sides: frozenset[sp.Symbol] = frozenset()) -> bool:
    """Whether ``expr`` is 0 as a rational function of its variables and function atoms.

    exp(−u) is first written 1/exp(u), so that e^u and e^{−u} are one generator; then every
    remaining function application (exp, tanh, log, …) is a generator of its own and the
    numerator of ``together(expr)`` must expand to 0. Sufficient for an identity, and fast
    where ``simplify`` on the expanded network is not.
    """
    exponentials: dict[sp.Basic, sp.Symbol] = {}
    others: dict[sp.Basic, sp.Symbol] = {}

    def exp_of(argument: sp.Expr) -> sp.Expr:
        # e^{Σ c_i t_i} = Π (e^{t_i})^{c_i}: one generator per term, whatever SymPy merged.
        product: sp.Expr = sp.Integer(1)
        for term in sp.Add.make_args(sp.expand(argument)):
            coefficient, rest = term.as_coeff_Mul()
            product *= exponentials.setdefault(rest, sp.Dummy("e")) ** coefficient
        return product

    def generator(function: sp.Expr) -> sp.Expr:
        if isinstance(function, sp.exp):
            return exp_of(function.args[0])
        return others.setdefault(function, sp.Dummy("g"))

    flat = unstable(expr)
    hyperbolic = (sp.tanh, sp.sinh, sp.cosh)
    if len({type(atom) for atom in flat.atoms(*hyperbolic)}) > 1:  # tanh = sinh/cosh: one generator, e^u
        flat = flat.replace(lambda e: isinstance(e, hyperbolic), lambda e: e.rewrite(sp.exp))
    flat = flat.replace(lambda e: isinstance(e, sp.Function), generator)
    numerator, _ = sp.fraction(sp.together(flat))
    numerator = sp.expand(numerator)
    if sides:  # a side symbol is 0 or 1, so s**k = s
        numerator = sp.expand(numerator.replace(lambda e: e.is_Pow and e.base in sides and e.exp.is_Integer
                                                and e.exp > 1, lambda e: e.base))
    return numerator == 0


def _entries(M: sp.Matrix) -> list[tuple[tuple[int, int], sp.Symbol]]:
    return [((r, c), M[r, c]) for r in range(M.rows) for c in range(M.cols)]


def _output_delta(net: NetworkDerivation, As: list[sp.Matrix], Zs: list[sp.Matrix], Y: sp.Matrix,
                  samples: int) -> sp.Matrix:
    """δ⁽ᴸ⁾ as the code computes it, on the instance."""
    last = net.layers[-1]
    return _fill(unstable(net.output.delta).subs(n, samples), last.A, last.Z, As[-1], Zs[-1], Y)


def _slope(layer: LayerDerivation) -> sp.Expr:
    """f′ as the code evaluates it; where that is written in the output through |A| or sign(A)
    (softsign′ = (|A| − 1)²), f′ in Z instead, whose equality with it SymPy proved when deriving it:
    the sign of A as a function of Z is not something the side symbols can follow."""
    assert layer.backward is not None and layer.elementwise is not None
    if layer.A in layer.backward.free_symbols and layer.backward.has(sp.Abs, sp.sign):
        return at_kinks(layer.elementwise.simplified).subs(naming.z, layer.Z)
    return layer.backward


def _fill(expr: sp.Expr, A: sp.Symbol, Z: sp.Symbol, As: sp.Matrix, Zs: sp.Matrix, Y: sp.Matrix) -> sp.Matrix:
    """An elementwise expression in A, Z, Y (with RowSum over a row) as a matrix."""
    def entry(r: int, c: int) -> sp.Expr:
        def at(column: int, inner: sp.Expr) -> sp.Expr:
            values = {A: As[r, column], Z: Zs[r, column]}
            if inner.has(naming.Y):  # only the output layer's factors use Y, which has that layer's width
                values[naming.Y] = Y[r, column]
            return inner.subs(values, simultaneous=True)
        expanded = expr.replace(RowSum, lambda inner: sum(at(j, inner) for j in range(As.cols)))
        return at(c, expanded)
    return sp.Matrix(As.rows, As.cols, entry)
