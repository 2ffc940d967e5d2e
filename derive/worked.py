"""One forward and backward pass on numbers, for the document's worked example.

Every number comes from the expressions SymPy derived, evaluated with 30 significant digits
(``lambdify`` to mpmath, on exact one-decimal inputs, so the document is the same on every
machine): the
forward pass from each activation as the code evaluates it, ∂E/∂A and δ⁽ᴸ⁾ from the output's
derivation, f′ from each layer's, and the gradients from the matrix forms of
:mod:`derive.affine`. The central differences, (E(w + h) − E(w − h)) / 2h with h = 10⁻⁴, come
from the loss alone, computed from the definitions (never a derived factor), so the table that
sets them side by side is an independent check.

The batch is the spec's ``[data]`` (at most :data:`ROWS` rows), the user's data, or a seeded batch
of one-decimal numbers; the parameters are seeded one-decimal numbers, so a reader can redo the
first steps by hand.
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from derive import naming
from derive.affine import derive_affine, for_layer
from derive.network import NetworkDerivation
from derive.stable import RowSum

ROWS = 4
H = mpmath.mpf("1e-4")
DIGITS = 30
MAX_CHECKED = 300  # central differences for at most this many entries (a seeded sample beyond)
FIRST = 3  # entries of each parameter array always checked: the ones the document shows
MAX_EXACT = 5000  # parameters up to which the example is computed with 30 digits; beyond, in float64


def _step_function(u: object, at_zero: object = 0.5) -> object:
    return mpmath.mpf(1) if u > 0 else mpmath.mpf(0) if u < 0 else mpmath.mpf(at_zero)


_MPMATH = [{"Sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)), "Softplus": lambda u: mpmath.log(1 + mpmath.exp(u)),
            "Log1p": mpmath.log1p, "Expm1": mpmath.expm1, "Heaviside": _step_function}, "mpmath"]
_NUMPY = [{"Sigmoid": lambda u: 0.5 + 0.5 * np.tanh(0.5 * u), "Softplus": lambda u: np.logaddexp(0, u),
           "Log1p": np.log1p, "Expm1": np.expm1, "RowSum": lambda u: np.sum(u, axis=1, keepdims=True)}, "numpy"]
_EXACT: contextvars.ContextVar[bool] = contextvars.ContextVar("exact", default=True)


@dataclass(frozen=True)
class Batch:
    X: np.ndarray
    Y: np.ndarray
    origin: str  # spec | file | seeded


@dataclass(frozen=True)
class WorkedExample:
    batch: Batch
    params: dict[str, np.ndarray]  # W1, b1, … (b as a row of one sample's width)
    Z: tuple[np.ndarray, ...]
    A: tuple[np.ndarray, ...]  # A[0] = X
    E: object  # an mpmath number
    output_gradient: np.ndarray  # ∂E/∂A⁽ᴸ⁾
    slopes: tuple[np.ndarray | None, ...]  # f′(Z⁽ˡ⁾), None for softmax
    deltas: tuple[np.ndarray, ...]
    gradients: dict[str, np.ndarray]
    central: dict[str, np.ndarray]  # central differences; None where not computed
    checked: int  # how many entries have a central difference
    updated: dict[str, np.ndarray]  # after one step of the spec's optimizer on this batch

    def differences(self) -> dict[str, np.ndarray]:
        """gradient − central difference per entry (None where no central difference was computed)."""
        return {key: np.vectorize(lambda g, c: None if c is None else g - c, otypes=[object])(
            self.gradients[key], self.central[key]) for key in self.gradients}

    def largest_difference(self) -> object:
        return max(abs(d) for values in self.differences().values() for d in values.flat if d is not None)


def seeded_batch(net: NetworkDerivation, rows: int = ROWS) -> Batch:
    spec = net.spec
    rng = random.Random(spec.train.seed)
    X = np.array([[rng.randint(-10, 10) / 10 for _ in range(spec.inputs)] for _ in range(rows)])
    outputs, targets = spec.outputs, spec.loss.targets
    if targets == "distribution":
        Y = np.eye(outputs)[[rng.randrange(outputs) for _ in range(rows)]]
    elif targets == "unit":
        Y = np.array([[float(rng.randint(0, 1)) for _ in range(outputs)] for _ in range(rows)])
    else:
        Y = np.array([[rng.randint(-10, 10) / 10 for _ in range(outputs)] for _ in range(rows)])
    return Batch(X, Y, "seeded")


def seeded_params(net: NetworkDerivation, attempt: int = 0) -> dict[str, np.ndarray]:
    rng = random.Random(net.spec.train.seed + 1 + 1000 * attempt)
    params = {}
    for layer in net.layers:
        params[f"W{layer.index}"] = np.array([[rng.randint(-10, 10) / 10 for _ in range(layer.fan_out)]
                                              for _ in range(layer.fan_in)])
        params[f"b{layer.index}"] = np.array([[rng.randint(-5, 5) / 10 for _ in range(layer.fan_out)]])
    return params


def work_example(net: NetworkDerivation, batch: Batch | None = None) -> WorkedExample:
    """The worked example of ``net`` on ``batch`` (default: the spec's data, else a seeded batch).

    Up to :data:`MAX_EXACT` parameters every number has 30 significant digits (the same on every
    machine); a larger network is computed in float64, which keeps the document quick to make.
    """
    parameters = sum((layer.fan_in + 1) * layer.fan_out for layer in net.layers)
    token = _EXACT.set(parameters <= MAX_EXACT)
    try:
        with mpmath.workdps(DIGITS):
            return _work_example(net, batch)
    finally:
        _EXACT.reset(token)


def _work_example(net: NetworkDerivation, batch: Batch | None) -> WorkedExample:
    if batch is None:
        batch = spec_batch(net) or seeded_batch(net)
    X, Y = _exact(batch.X[:ROWS]), _exact(batch.Y[:ROWS])
    for attempt in range(50):  # one-decimal numbers can sum to a kink exactly; draw again until none is near
        params = {key: _exact(value) for key, value in seeded_params(net, attempt).items()}
        Zs, As = _forward(net, params, X)
        if all(_clear_of_kinks(layer, Z) for layer, Z in zip(net.layers, Zs, strict=True)):
            break
    n = X.shape[0]
    out, last = net.output, net.layers[-1]
    values = {last.A: As[-1], naming.Y: Y, last.Z: Zs[-1], naming.n: _number(n)}
    output_gradient = _evaluate(out.gradient, values)
    deltas = [_evaluate(out.delta, values)]
    slopes: list[np.ndarray | None] = [None if last.backward is None else _evaluate(last.backward, values)]
    affine = derive_affine()
    for layer in reversed(net.layers[:-1]):
        assert layer.backward is not None
        slope = _evaluate(layer.backward, {layer.A: As[layer.index], layer.Z: Zs[layer.index - 1]})
        back = _matrix(for_layer(affine.input_sum.matrix, layer.index + 1), params, As, deltas[0])
        deltas.insert(0, back * slope)
        slopes.insert(0, slope)
    gradients = {}
    for layer in net.layers:
        arrays = {**params, naming.delta(layer.index).name: deltas[layer.index - 1]}
        gradients[f"W{layer.index}"] = _matrix(for_layer(affine.weight_sum.matrix, layer.index), arrays, As)
        gradients[f"b{layer.index}"] = _matrix(for_layer(affine.bias_sum.matrix, layer.index), arrays, As)
    central, checked = _central_differences(net, params, X, Y)
    return WorkedExample(batch, params, tuple(Zs), tuple(As), _loss(net, As[-1], Y), output_gradient, tuple(slopes),
                         tuple(deltas), gradients, central, checked, _step(net, params, gradients))


def spec_batch(net: NetworkDerivation) -> Batch | None:
    data = net.spec.data
    if data is None:
        return None
    return Batch(np.array(data[0], dtype=float), np.array(data[1], dtype=float), "spec")


def kinks(layer: object) -> list[float]:
    """Where the layer's f′ jumps: the roots of the (linear) arguments of its step and sign functions."""
    backward = getattr(layer, "backward", None)
    if backward is None:
        return []
    points = []
    for atom in backward.atoms(sp.Heaviside, sp.sign):
        argument = atom.args[0].subs(layer.Z, naming.z)
        if argument.is_polynomial(naming.z) and sp.degree(argument, naming.z) == 1:
            points.append(float(sp.solve(argument, naming.z)[0]))
    return points


def _clear_of_kinks(layer: object, Z: np.ndarray, margin: float = 0.01) -> bool:
    return all(abs(value - point) >= margin for point in kinks(layer) for value in Z.flat)


# -- evaluation ------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _compiled(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> Callable[..., object]:
    """The expression as a function of numbers (mpmath), and of rows for a row sum."""
    row_sums = sorted(expr.atoms(RowSum), key=sp.default_sort_key)
    if not row_sums:
        return sp.lambdify(symbols, expr, modules=_MPMATH)
    holders = [sp.Dummy(f"rowsum{index}") for index in range(len(row_sums))]
    outer = sp.lambdify((*symbols, *holders), expr.xreplace(dict(zip(row_sums, holders, strict=True))), modules=_MPMATH)
    inner = [sp.lambdify(symbols, row_sum.args[0], modules=_MPMATH) for row_sum in row_sums]
    return lambda *values: (outer, inner, values)  # resolved row by row in _evaluate


def _evaluate(expr: sp.Expr, values: dict[sp.Symbol, object]) -> np.ndarray:
    """A derived elementwise expression, evaluated entry by entry on arrays of mpmath numbers."""
    symbols = tuple(sorted(expr.free_symbols, key=lambda symbol: symbol.name))
    missing = [symbol for symbol in symbols if symbol not in values]
    if missing:
        raise KeyError(f"no value for {missing}")
    shape = next(np.shape(value) for value in values.values() if np.ndim(value) == 2)
    if not _EXACT.get():
        function = sp.lambdify(symbols, expr, modules=_NUMPY)
        with np.errstate(all="ignore"):
            return np.broadcast_to(function(*(values[symbol] for symbol in symbols)), shape).astype(float)
    arrays = [np.broadcast_to(np.asarray(values[symbol], dtype=object), shape) for symbol in symbols]
    function = _compiled(expr, symbols)
    result = np.empty(shape, dtype=object)
    row_sums = sorted(expr.atoms(RowSum), key=sp.default_sort_key)
    for row, column in np.ndindex(shape):
        entry = [array[row, column] for array in arrays]
        if row_sums:
            outer, inner, _ = function(*entry)
            sums = [sum(part(*(array[row, other] for array in arrays)) for other in range(shape[1])) for part in inner]
            result[row, column] = outer(*entry, *sums)
        else:
            result[row, column] = function(*entry)
    return result


def _matrix(expr: sp.MatrixExpr, params: dict[str, np.ndarray], As: list[np.ndarray],
            delta: np.ndarray | None = None) -> np.ndarray:
    """A matrix form of :mod:`derive.affine` (products, transposes, 𝟏) evaluated on arrays."""
    if isinstance(expr, sp.MatMul):
        result = None
        for factor in expr.args:
            value = _matrix(factor, params, As, delta)
            result = value if result is None else result @ value
        return result  # type: ignore[return-value]
    if isinstance(expr, sp.Transpose):
        return _matrix(expr.arg, params, As, delta).T
    name = expr.name
    if name == naming.ONES.name:
        return np.ones((As[0].shape[0], 1))
    if name == naming.X.name:
        return As[0]
    if name.startswith("A"):
        return As[int(name[1:])]
    if name.startswith("d") and name not in params:
        assert delta is not None
        return delta
    return params[name]


def _activation(definition: sp.Expr, Z: np.ndarray) -> np.ndarray:
    return _evaluate(definition.subs(naming.z, naming.Z(0)), {naming.Z(0): Z})


def _exact(array: np.ndarray) -> np.ndarray:
    """One-decimal numbers as exact mpmath numbers (0.1 is 1/10, not its nearest double); float64 for a large net."""
    if not _EXACT.get():
        return np.asarray(array, dtype=float)
    return np.vectorize(lambda value: mpmath.mpf(sp.Rational(repr(float(value)))), otypes=[object])(array)


def _number(value: object) -> object:
    """A number (the batch size, η, ε) in the arithmetic of the example."""
    return mpmath.mpf(sp.Rational(repr(value))) if _EXACT.get() else float(value)


def _forward(net: NetworkDerivation, params: dict[str, np.ndarray], X: np.ndarray,
             definitions: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Z⁽ˡ⁾ and A⁽ˡ⁾; with ``definitions`` each activation from its definition (for the central differences)."""
    Zs, As = [], [X]
    for layer in net.layers:
        Z = As[-1] @ params[f"W{layer.index}"] + params[f"b{layer.index}"]
        Zs.append(Z)
        if layer.elementwise is None:  # softmax, from its definition
            e = np.vectorize(mpmath.exp, otypes=[object])(Z) if _EXACT.get() else np.exp(Z - Z.max(axis=1,
                                                                                                  keepdims=True))
            As.append(e / e.sum(axis=1, keepdims=True))
        else:
            form = layer.elementwise.definition if definitions else layer.elementwise.forward
            As.append(_activation(form, Z))
    return Zs, As


def _loss(net: NetworkDerivation, A: np.ndarray, Y: np.ndarray) -> float:
    """E from the element loss's definition: c Σ_k Σ_j ℓ(A_kj, Y_kj)."""
    element = net.output.loss.element
    values = _evaluate(element.subs({naming.a: naming.A(0), naming.y: naming.Y}), {naming.A(0): A, naming.Y: Y})
    scale = sp.Rational(net.output.scale.subs(naming.n, A.shape[0]))
    scale = mpmath.mpf(scale) if _EXACT.get() else float(scale)
    return scale * np.sum(values)


def _central_differences(net: NetworkDerivation, params: dict[str, np.ndarray], X: np.ndarray,
                         Y: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    entries = [(key, index) for key, value in params.items() for index in np.ndindex(value.shape)]
    if len(entries) > MAX_CHECKED:  # the first entries of every array (the document shows them), then a sample
        first = {(key, index) for key, value in params.items() for index in list(np.ndindex(value.shape))[:FIRST]}
        rest = [position for position, entry in enumerate(entries) if entry not in first]
        keep = set(random.Random(0).sample(rest, max(0, MAX_CHECKED - len(first))))
        entries = [entry for position, entry in enumerate(entries) if entry in first or position in keep]
    central = {key: np.full(value.shape, None, dtype=object) for key, value in params.items()}

    def loss(shifted: dict[str, np.ndarray]) -> float:
        return _loss(net, _forward(net, shifted, X, definitions=True)[1][-1], Y)

    for key, index in entries:
        shifted = {name: value.copy() for name, value in params.items()}
        h = H if _EXACT.get() else float(H)
        shifted[key][index] += h
        up = loss(shifted)
        shifted[key][index] -= 2 * h
        central[key][index] = (up - loss(shifted)) / (2 * h)
    return central, len(entries)


def _step(net: NetworkDerivation, params: dict[str, np.ndarray],
          gradients: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters after the first step of the spec's optimizer on this batch."""
    train = net.spec.train
    eta, epsilon = _number(train.learning_rate), _number(train.epsilon)
    if train.optimizer == "adam":  # first step: M̂ = G, V̂ = G ⊙ G
        return {key: params[key] - eta * g / (np.vectorize(abs, otypes=[object])(g) + epsilon)
                for key, g in gradients.items()}
    return {key: params[key] - eta * g for key, g in gradients.items()}  # momentum's first step: V = −ηG


