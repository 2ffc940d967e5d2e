"""One forward and backward pass on numbers, for the document's worked example.

Every number comes from the expressions SymPy derived, evaluated with 30 significant digits
(``lambdify`` to mpmath, on exact one-decimal inputs, so the document is the same on every
machine): the forward pass from each activation as the code evaluates it, ∂E/∂A and δ⁽ᴸ⁾ from
the output's derivation, f′ from each layer's, and each layer's gradients and ∂E/∂A⁽ˡ⁻¹⁾ from its
kind's derived sums (the dense layer's matrix forms, the convolution's correlations, the pooling's
routing: :meth:`~derive.layers.LayerKind.backward_numbers`). The central differences,
(E(w + h) − E(w − h)) / 2h with h = 10⁻⁴, come from the loss alone, computed from the definitions
(never a derived factor), so the table that sets them side by side is an independent check.

The batch is the spec's ``[data]`` (at most :data:`ROWS` rows), the user's data, or a seeded batch
of one-decimal numbers; the parameters are seeded one-decimal numbers, so a reader can redo the
first steps by hand. The cost is bounded by the network's size: 30 digits where the forward passes
the example needs (one, and two per central difference) stay within :data:`EXACT_OPERATIONS`
multiply-adds, float64 beyond.
"""

from __future__ import annotations

import contextvars
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from derive import naming, optimizers
from derive.network import LayerDerivation, NetworkDerivation
from derive.optimizers import OPTIMIZERS
from derive.stable import NAMED, RowSum

ROWS = 4
H = mpmath.mpf("1e-4")
DIGITS = 30
MAX_CHECKED = 300  # central differences for at most this many entries (a seeded sample beyond)
FIRST = 3  # entries of each parameter array always checked: the ones the document shows
SMALLEST, LARGEST = 1e-300, 1e300  # the sizes a number of the example may have: what float64 and a table show
ATTEMPTS = 50  # draws of the parameters tried for one clear of every kink and tie
OFF_GRID = 0.005  # added to the biases of a last draw: a sum of one-decimal products plus it is never 0
EXACT_OPERATIONS = 1_000_000  # multiply-adds of the example's forward passes up to which it has 30 digits (about 2 s)


def _step_function(u: object, at_zero: object = 0.5) -> object:
    return mpmath.mpf(1) if u > 0 else mpmath.mpf(0) if u < 0 else mpmath.mpf(at_zero)


_MPMATH = [{**{function.__name__: function.mpmath for function in NAMED if function is not RowSum},
            "Heaviside": _step_function}, "mpmath"]
_NUMPY = [{function.__name__: function.float64 for function in NAMED}, "numpy"]
_EXACT: contextvars.ContextVar[bool] = contextvars.ContextVar("exact", default=True)


@dataclass(frozen=True)
class Batch:
    X: np.ndarray
    Y: np.ndarray
    origin: str  # spec | file | seeded


@dataclass(frozen=True)
class WorkedExample:
    """The numbers of one forward and backward pass. Per layer l (list index l − 1): Z⁽ˡ⁾, f′(Z⁽ˡ⁾) and
    δ⁽ˡ⁾ where the layer has an activation (None otherwise; f′ None for softmax); A[l] for l = 0…L
    (A[0] = X, images as (n, C, H, W)); ``upstream[l]`` = ∂E/∂A⁽ˡ⁾ where the backward pass computed it."""

    batch: Batch
    params: dict[str, np.ndarray]  # W1, b1, … in the shapes of the generated module
    Z: tuple[np.ndarray | None, ...]
    A: tuple[np.ndarray, ...]  # A[0] = X
    E: object  # an mpmath number
    output_gradient: np.ndarray  # ∂E/∂A⁽ᴸ⁾
    slopes: tuple[np.ndarray | None, ...]  # f′(Z⁽ˡ⁾), None for softmax and for a kind without an activation
    deltas: tuple[np.ndarray | None, ...]
    upstream: tuple[np.ndarray | None, ...]
    gradients: dict[str, np.ndarray]
    central: dict[str, np.ndarray]  # central differences; None where not computed
    checked: int  # how many entries have a central difference
    updated: dict[str, np.ndarray]  # after one step of the spec's optimizer on this batch

    def differences(self) -> dict[str, np.ndarray]:
        """gradient − central difference per entry (None where no central difference was computed)."""
        return {key: np.vectorize(lambda g, c: None if c is None else g - c, otypes=[object])(
            self.gradients[key], self.central[key]) for key in self.gradients}

    def representable(self) -> bool:
        """Whether every number of the example is 0 or of a size between 10⁻³⁰⁰ and 10³⁰⁰, as a table of
        numbers (and float64) can show it; exp(exp(exp(z))) on a batch of 3s is not, nor is σ′ at 10¹⁰⁰."""
        arrays = [*self.Z, *self.A, *self.slopes, *self.deltas, *self.upstream, self.output_gradient,
                  *self.gradients.values(), *self.updated.values(), np.array([self.E])]
        return all(_shown(value) for array in arrays if array is not None for value in np.asarray(array).flat)

    def largest_difference(self) -> object:
        return max(abs(d) for values in self.differences().values() for d in values.flat if d is not None)


def _shown(value: object) -> bool:
    if value is None:
        return True
    try:
        size = abs(value)  # type: ignore[arg-type]
        return bool(size == 0 or (SMALLEST <= size <= LARGEST))
    except (TypeError, ValueError, OverflowError):
        return False


def seeded_batch(net: NetworkDerivation, rows: int = ROWS) -> Batch:
    spec = net.spec
    rng = random.Random(spec.train.seed)
    X = np.array([[rng.randint(-10, 10) / 10 for _ in range(spec.inputs)] for _ in range(rows)])
    X = X.reshape(rows, *spec.input_shape)
    outputs, targets = spec.outputs, spec.loss.targets
    if targets == "distribution":
        Y = np.eye(outputs)[[rng.randrange(outputs) for _ in range(rows)]]
    elif targets == "unit":
        Y = np.array([[float(rng.randint(0, 1)) for _ in range(outputs)] for _ in range(rows)])
    else:
        Y = np.array([[rng.randint(-10, 10) / 10 for _ in range(outputs)] for _ in range(rows)])
    return Batch(X, Y, "seeded")


def seeded_params(net: NetworkDerivation, attempt: int = 0) -> dict[str, np.ndarray]:
    """Weights and biases drawn entry by entry in row-major order. Where the example has 30 digits: one-decimal
    weights in [−1, 1] and biases in [−0.5, 0.5], to be redone by hand. In float64 (a large network): normal
    with Glorot's standard deviation √(2/(fan_in + fan_out)), biases 0.1 of it, so that the sums stay of the
    order of one and no two of them tie by coincidence, as one-decimal numbers often do."""
    rng = random.Random(net.spec.train.seed + 1 + 1000 * attempt)
    params = {}
    for layer in net.layers:
        for key, shape in layer.parameter_shapes.items():
            size = math.prod(shape)
            if _EXACT.get():
                bound = 5 if key.startswith("b") else 10
                values = [rng.randint(-bound, bound) / 10 for _ in range(size)]
            else:
                std = math.sqrt(2 / (layer.fan_in + layer.fan_out)) * (0.1 if key.startswith("b") else 1)
                values = [rng.gauss(0, std) for _ in range(size)]
            params[key] = np.array(values).reshape(shape)
    return params


def is_exact(worked: WorkedExample) -> bool:
    """Whether the example was computed with 30 digits on one-decimal parameters (else float64)."""
    return any(isinstance(value, mpmath.mpf) for value in worked.A[-1].flat)


def operations(net: NetworkDerivation, rows: int = ROWS) -> int:
    """Multiply-adds of the worked example's forward passes: one pass, and two per central difference."""
    per_sample = sum(layer.kind.parameter_count(layer.settings, layer.in_shape, layer.out_shape)
                     * (math.prod(layer.out_shape[1:]) if len(layer.out_shape) == 3 else 1)
                     + math.prod(layer.in_shape) for layer in net.layers)
    entries = sum(math.prod(shape) for layer in net.layers for shape in layer.parameter_shapes.values())
    return rows * per_sample * (1 + 2 * min(entries, MAX_CHECKED))


def work_example(net: NetworkDerivation, batch: Batch | None = None) -> WorkedExample:
    """The worked example of ``net`` on ``batch`` (default: the spec's data, else a seeded batch).

    Where its forward passes take at most :data:`EXACT_OPERATIONS` multiply-adds every number has 30
    significant digits (the same on every machine); a larger network is computed in float64, which
    keeps the time the document takes bounded by the network's size.
    """
    token = _EXACT.set(operations(net) <= EXACT_OPERATIONS)
    try:
        with mpmath.workdps(DIGITS):
            return _work_example(net, batch)
    finally:
        _EXACT.reset(token)


def _work_example(net: NetworkDerivation, batch: Batch | None) -> WorkedExample:
    if batch is None:
        batch = spec_batch(net) or seeded_batch(net)
    X = _exact(batch.X[:ROWS].reshape(-1, *net.spec.input_shape))
    Y = _exact(batch.Y[:ROWS])
    for attempt in range(ATTEMPTS + 1):  # one-decimal numbers can sum to a kink or a tie exactly: draw again
        drawn = seeded_params(net, attempt % ATTEMPTS)
        if attempt == ATTEMPTS:  # no draw kept clear: biases off the grid of hundredths that the sums fall on
            drawn = {key: value + OFF_GRID if key.startswith("b") else value for key, value in drawn.items()}
        params = {key: _exact(value) for key, value in drawn.items()}
        Zs, As = _forward(net, params, X)
        if all(Z is None or _clear_of_kinks(layer, Z) for layer, Z in zip(net.layers, Zs, strict=True)) and \
                not any(layer.kind.near_tie(layer, As[layer.index - 1]) for layer in net.layers):
            break
    L = net.depth
    out, last = net.output, net.layers[-1]
    values = {last.A: As[-1], naming.Y: Y, last.Z: Zs[-1], naming.n: _number(X.shape[0])}
    output_gradient = _evaluate(out.gradient, values)
    deltas: list[np.ndarray | None] = [None] * L
    slopes: list[np.ndarray | None] = [None] * L
    upstream: list[np.ndarray | None] = [None] * (L + 1)
    deltas[-1] = _evaluate(out.delta, values)
    slopes[-1] = None if last.backward is None else _evaluate(last.backward, values)
    upstream[-1] = output_gradient
    gradients: dict[str, np.ndarray] = {}
    arriving = deltas[-1]  # ∂E/∂Z⁽ˡ⁾, or ∂E/∂A⁽ˡ⁾ for a kind without an activation
    for layer in reversed(net.layers):
        grads, back = layer.kind.backward_numbers(layer, _own(layer, params), As[layer.index - 1], arriving)
        gradients.update({f"{role}{layer.index}": value for role, value in grads.items()})
        if layer.index == net.first_with_parameters:
            break
        upstream[layer.index - 1] = back
        below = net.layers[layer.index - 2]
        arriving = back
        if below.has_activation:
            assert below.backward is not None  # softmax is the output layer's only
            slope = _evaluate(below.backward, {below.A: As[below.index], below.Z: Zs[below.index - 1]})
            slopes[below.index - 1] = slope
            arriving = deltas[below.index - 1] = back * slope
    gradients = {key: gradients[key] for key in params}  # in the order of the parameters
    central, checked = _central_differences(net, params, X, Y)
    return WorkedExample(batch, params, tuple(Zs), tuple(As), _loss(net, As[-1], Y), output_gradient, tuple(slopes),
                         tuple(deltas), tuple(upstream), gradients, central, checked, _step(net, params, gradients))


def _own(layer: LayerDerivation, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters of ``layer`` by role: W and b."""
    return {key[:-len(str(layer.index))]: params[key] for key in layer.parameter_shapes}


def spec_batch(net: NetworkDerivation) -> Batch | None:
    data = net.spec.data
    if data is None:
        return None
    return Batch(np.array(data[0], dtype=float), np.array(data[1], dtype=float), "spec")


def kinks(layer: LayerDerivation) -> list[float]:
    """Where the layer's f′ jumps: the roots of the (linear) arguments of its step and sign functions."""
    backward = layer.backward
    if backward is None:
        return []
    points = []
    for atom in backward.atoms(sp.Heaviside, sp.sign):
        argument = atom.args[0].subs(layer.Z, naming.z)
        if argument.is_polynomial(naming.z) and sp.degree(argument, naming.z) == 1:
            points.append(float(sp.solve(argument, naming.z)[0]))
    return points


def _clear_of_kinks(layer: LayerDerivation, Z: np.ndarray, margin: float = 0.01) -> bool:
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
    shape = next(np.shape(value) for value in values.values() if np.ndim(value) >= 2)
    if not _EXACT.get():
        function = sp.lambdify(symbols, expr, modules=_NUMPY)
        with np.errstate(all="ignore"):
            return np.broadcast_to(function(*(values[symbol] for symbol in symbols)), shape).astype(float)
    arrays = [np.broadcast_to(np.asarray(values[symbol], dtype=object), shape) for symbol in symbols]
    function = _compiled(expr, symbols)
    result = np.empty(shape, dtype=object)
    row_sums = sorted(expr.atoms(RowSum), key=sp.default_sort_key)
    for index in np.ndindex(shape):
        entry = [array[index] for array in arrays]
        if row_sums:  # an output row: (n, m)
            row, _ = index
            outer, inner, _ = function(*entry)
            sums = [sum(part(*(array[row, other] for array in arrays)) for other in range(shape[1])) for part in inner]
            result[index] = outer(*entry, *sums)
        else:
            result[index] = function(*entry)
    return result


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
             definitions: bool = False) -> tuple[list[np.ndarray | None], list[np.ndarray]]:
    """Z⁽ˡ⁾ (None for a kind without an activation) and A⁽ˡ⁾; with ``definitions`` each activation from its
    definition (for the central differences)."""
    Zs: list[np.ndarray | None] = []
    As = [X]
    for layer in net.layers:
        value = layer.kind.forward_numbers(layer, _own(layer, params), As[-1])
        if not layer.has_activation:
            Zs.append(None)
            As.append(value)
            continue
        Zs.append(value)
        if layer.elementwise is None:  # softmax, from its definition
            e = np.vectorize(mpmath.exp, otypes=[object])(value) if _EXACT.get() else np.exp(
                value - value.max(axis=1, keepdims=True))
            As.append(e / e.sum(axis=1, keepdims=True))
        else:
            form = layer.elementwise.definition if definitions else layer.elementwise.forward
            As.append(_activation(form, value))
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
    """The parameters after the first update of the spec's optimizer on this batch: its rule's assignments
    carried out entry by entry, from the zero state at t = 1."""
    train = net.spec.train
    rule = OPTIMIZERS[train.optimizer]
    settings = {naming.ETA: _number(train.learning_rate), naming.STEP: _number(1),
                **{setting.symbol: _number(train.settings[setting.name]) for setting in rule.hyperparameters}}
    updated = {}
    for key, theta in params.items():
        values: dict[sp.Symbol, object] = {**settings, optimizers.THETA: theta, optimizers.G: gradients[key],
                                           **{symbol: np.zeros(theta.shape, theta.dtype) for symbol in rule.state}}
        for target, value in rule.assignments():
            values[target] = _elementwise(value, values)
        updated[key] = values[optimizers.THETA]
    return updated


def _elementwise(expr: sp.Expr, values: dict[sp.Symbol, object]) -> np.ndarray:
    """``expr`` evaluated entry by entry on arrays (and numbers) of the example's arithmetic."""
    symbols = tuple(sorted(expr.free_symbols, key=lambda symbol: symbol.name))
    function = sp.lambdify(symbols, expr, modules=_MPMATH if _EXACT.get() else _NUMPY)
    return np.vectorize(function, otypes=[object if _EXACT.get() else float])(*(values[symbol] for symbol in symbols))
