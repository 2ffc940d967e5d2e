"""The conv2d layer: its spec fields, its partials from the indexed definition, the chain-rule sums,
their proof on a small instance, and its numbers.

For a layer l with stride s and padding p (written for one stride and padding on both axes;
the code takes (sh, sw) and (ph, pw) alike)::

    Z[k, f, i, j] = b[f] + Σ_{c<C} Σ_{u<kh} Σ_{v<kw} W[f, c, u, v] · A⁽ˡ⁻¹⁾[k, c, s·i + u − p, s·j + v − p]

(indices from 0, as in the code; an entry of A⁽ˡ⁻¹⁾ outside the image is the zero padding).
SymPy differentiates the sum by one entry W[g, c′, u′, v′], b[g] and A⁽ˡ⁻¹⁾[k′, c′, y, x]: the
Kronecker deltas it gives are summed away. The chain rule, with δ[k, f, i, j] = ∂E/∂Z[k, f, i, j],
then sums over every Z a parameter reaches; SymPy carries out the sums over the deltas and
leaves::

    ∂E/∂W[g, c′, u′, v′] = Σ_k Σ_i Σ_j δ[k, g, i, j] A⁽ˡ⁻¹⁾[k, c′, s·i + u′ − p, s·j + v′ − p]
                           (a correlation of the layer input with δ)
    ∂E/∂b[g]             = Σ_k Σ_i Σ_j δ[k, g, i, j]
    ∂E/∂A⁽ˡ⁻¹⁾[k′, c′, y, x] = Σ_f Σ_i Σ_j δ[k′, f, i, j] W[f, c′, y − s·i + p, x − s·j + p]
                           over the (i, j) where the kernel index is inside the kernel

Spec fields: ``filters``, ``kernel`` (k or [kh, kw]) required; ``stride`` (default 1), ``padding``
(p, [ph, pw], "same" or "valid"), ``activation``, ``init``. W is (filters, C, kh, kw) and b
(filters,), as in PyTorch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from derive.errors import SpecError
from derive.layers.kind import LayerKind, Settings, Shape
from derive.layers.sums import ChainSum, IndexedPartial, chain_sum, partial
from derive.layers.windows import padding, pair, window_out
from derive.naming import GENERIC
from derive.rules import ActivationRule

# Indices: sample k, filter f, output position (i, j), channel c, kernel offset (u, v);
# primed: the entry differentiated by; (y, x) a position of the layer input.
k, f, i, j, c, u, v = sp.symbols("k f i j c u v", integer=True)
k2, g, c2, u2, v2, y, x = sp.symbols("k' g c' u' v' y x", integer=True)
CHANNELS, FILTERS, SAMPLES = sp.symbols("C F n", integer=True, positive=True)
KH, KW = sp.symbols("k_h k_w", integer=True, positive=True)
HO, WO = sp.symbols("H_o W_o", integer=True, positive=True)  # output height and width
s, p = sp.Symbol("s", integer=True, positive=True), sp.Symbol("p", integer=True, nonnegative=True)
FULL_RANGE = frozenset({k2, g, c2, u2, v2, CHANNELS, FILTERS, SAMPLES, KH, KW})  # indices that always lie in range


@dataclass(frozen=True)
class Conv2dSpec(Settings):
    """Z[k, f, i, j] = b[f] + Σ_c Σ_u Σ_v W[f, c, u, v] A[k, c, s·i + u − p, s·j + v − p]."""

    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    activation: ActivationRule
    init: str = "auto"
    kind: ClassVar[str] = "conv2d"


@dataclass(frozen=True)
class ConvDerivation:
    definition: sp.Expr
    weight: IndexedPartial
    bias: IndexedPartial
    input: IndexedPartial
    weight_sum: ChainSum
    bias_sum: ChainSum
    input_sum: ChainSum


def bases() -> tuple[sp.IndexedBase, ...]:
    """A⁽ˡ⁻¹⁾, W⁽ˡ⁾, b⁽ˡ⁾, Z⁽ˡ⁾, δ⁽ˡ⁾ as indexed bases, in the notation of a general layer."""
    return tuple(sp.IndexedBase(GENERIC[role]) for role in ("A_prev", "W", "b", "Z", "delta"))


def definition(stride: sp.Expr = s, pad: sp.Expr = p, channels: sp.Expr = CHANNELS,
               kernel: tuple[sp.Expr, sp.Expr] = (KH, KW)) -> sp.Expr:
    """Z[k, f, i, j] as the indexed sum (for symbolic or given stride, padding and sizes)."""
    A, W, b, _, _ = bases()
    return b[f] + sp.Sum(W[f, c, u, v] * A[k, c, stride * i + u - pad, stride * j + v - pad],
                         (v, 0, kernel[1] - 1), (u, 0, kernel[0] - 1), (c, 0, channels - 1))


@lru_cache(maxsize=1)
def derive_conv2d() -> ConvDerivation:
    """The conv layer's partials and chain-rule sums, derived once (they hold for every conv layer)."""
    A, W, b, Z, D = bases()
    z = definition()
    weight, bias, inputs = (partial(z, wrt, FULL_RANGE) for wrt in (W[g, c2, u2, v2], b[g], A[k2, c2, y, x]))
    # Outermost first; the index of the Kronecker delta innermost, so SymPy sums it away.
    samples, filters = (k, 0, SAMPLES - 1), (f, 0, FILTERS - 1)
    positions = ((i, 0, HO - 1), (j, 0, WO - 1))
    delta, entry = D[k, f, i, j], Z[k, f, i, j]
    weight_sum = chain_sum(weight, delta, entry, (samples, *positions, filters), FULL_RANGE)
    bias_sum = chain_sum(bias, delta, entry, (samples, *positions, filters), FULL_RANGE)
    input_sum = chain_sum(inputs, delta, entry, (filters, *positions, samples), FULL_RANGE)
    return ConvDerivation(z, weight, bias, inputs, weight_sum, bias_sum, input_sum)


def small_input(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of an input with two output positions per axis: H + 2p − kh = s."""
    return (max(kernel[0] - 2 * pad[0] + stride[0], 1), max(kernel[1] - 2 * pad[1] + stride[1], 1))


@cache
def verify_conv2d(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int], channels: int = 2,
                  filters: int = 2, samples: int = 1) -> tuple[str, ...]:
    """The entries where the derived sums and ∂E/∂(entry) of the expanded E differ (empty: proved).

    On a small instance (an input just large enough for two output positions per axis) every entry of
    A⁽ˡ⁻¹⁾, W, b and δ is a symbol and E = Σ δ[k, f, i, j] Z[k, f, i, j] with Z expanded from the
    definition (entries outside the image are the padding's zeros): then ∂E/∂Z = δ, and the chain
    rule says ∂E/∂w = Σ δ ∂Z/∂w. SymPy differentiates the expanded E by every entry; the derived sums,
    evaluated at that entry, must give the same polynomial.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if sh != sw or ph != pw:  # the derived formulas take one stride and one padding: check each axis alone
        return verify_conv2d((kh, kw), (sh, sh), (ph, ph), channels, filters, samples) + \
            verify_conv2d((kh, kw), (sw, sw), (pw, pw), channels, filters, samples)
    height, width = small_input(kernel, stride, pad)
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    A, W, b, _, D = bases()
    values = {A: sp.IndexedBase("a"), W: sp.IndexedBase("w"), b: sp.IndexedBase("bias"), D: sp.IndexedBase("g")}

    def inside(entry: sp.Indexed) -> sp.Expr:
        """An entry of the instance: a symbol, or 0 for the padding outside the image."""
        if entry.base == A:
            _, _, row, column = entry.indices
            if not (0 <= row < height and 0 <= column < width):
                return sp.Integer(0)
        name = values[entry.base]
        return sp.Symbol(f"{name}_{'_'.join(str(index) for index in entry.indices)}", real=True)

    def concrete(expr: sp.Expr, at: dict[sp.Symbol, int]) -> sp.Expr:
        sizes = {s: sh, p: ph, CHANNELS: channels, FILTERS: filters, SAMPLES: samples, KH: kh, KW: kw,
                 HO: out_h, WO: out_w}
        done = expr.subs({**sizes, **at}).doit()
        return done.replace(lambda e: isinstance(e, sp.Indexed), inside)

    layer = definition(sh, ph, channels, (kh, kw))
    E = sp.Integer(0)
    for position in itertools.product(range(samples), range(filters), range(out_h), range(out_w)):
        E += inside(D[position]) * concrete(layer, dict(zip((k, f, i, j), position, strict=True)))
    d = derive_conv2d()
    failures = []
    checks = [(d.weight_sum, (g, c2, u2, v2), (range(filters), range(channels), range(kh), range(kw))),
              (d.bias_sum, (g,), (range(filters),)),
              (d.input_sum, (k2, c2, y, x), (range(samples), range(channels), range(height), range(width)))]
    for chain, indices, ranges in checks:
        for point in itertools.product(*ranges):
            at = dict(zip(indices, point, strict=True))
            entry = inside(chain.wrt.subs(at))
            if sp.expand(sp.diff(E, entry) - concrete(chain.summed, at)) != 0:
                failures.append(f"dE/d{entry}")
    return tuple(failures)


def _windows(A: np.ndarray, settings: Conv2dSpec, out_shape: Shape) -> tuple[np.ndarray, Any]:
    """The input padded with zeros, and the slices that pick kernel offset (u, v) of every window."""
    (ph, pw), (sh, sw) = settings.padding, settings.stride
    samples, channels, height, width = A.shape
    padded = np.zeros((samples, channels, height + 2 * ph, width + 2 * pw), dtype=A.dtype)
    padded[:, :, ph:ph + height, pw:pw + width] = A
    _, out_h, out_w = out_shape

    def offset(row: int, column: int) -> tuple[slice, ...]:
        return (slice(None), slice(None), slice(row, row + sh * (out_h - 1) + 1, sh),
                slice(column, column + sw * (out_w - 1) + 1, sw))
    return padded, offset


class Conv2dKind(LayerKind):
    name = "conv2d"
    keys = ("filters", "kernel", "stride", "padding", "activation", "init")
    needs = "image"
    has_parameters = True
    stage = "conv2d"

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[Conv2dSpec, Shape]:
        from derive.spec import INITS, MAX_UNITS, activation_rule, choice, integer

        for required in ("filters", "kernel"):
            if required not in item:
                raise SpecError(f"{path}.{required}", "missing (required)")
        filters = integer(item["filters"], f"{path}.filters", 1, MAX_UNITS)
        kernel = pair(item["kernel"], f"{path}.kernel")
        stride = pair(item.get("stride", 1), f"{path}.stride")
        pad = padding(item.get("padding", 0), f"{path}.padding", kernel, stride)
        rule = activation_rule(item.get("activation", "identity"), f"{path}.activation")
        init = choice(item.get("init", "auto"), f"{path}.init", INITS)
        height, width = window_out(shape, kernel, stride, pad, f"{path}.kernel", "kernel")
        return Conv2dSpec(filters, kernel, stride, pad, rule, init), (filters, height, width)

    def derive(self, settings: Settings) -> ConvDerivation:
        return derive_conv2d()

    def fans(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> tuple[int, int]:
        """C·kh·kw and F·kh·kw, as PyTorch counts a convolution's fans."""
        area = settings.kernel[0] * settings.kernel[1]  # type: ignore[attr-defined]
        return in_shape[0] * area, out_shape[0] * area

    def parameter_shapes(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> dict[str, Shape]:
        kh, kw = settings.kernel  # type: ignore[attr-defined]
        return {"W": (out_shape[0], in_shape[0], kh, kw), "b": (out_shape[0],)}

    def verify(self, layer: Any) -> list[str]:
        settings = layer.settings
        return list(verify_conv2d(settings.kernel, settings.stride, settings.padding))

    def forward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        """Z[k, f, i, j] = b[f] + Σ_c,u,v W[f, c, u, v] A[k, c, s·i + u − p, s·j + v − p], one (u, v) at a time."""
        W, b = params["W"], params["b"]
        padded, offset = _windows(A, layer.settings, layer.out_shape)
        Z = np.zeros((A.shape[0], *layer.out_shape), dtype=A.dtype) + b.reshape(1, -1, 1, 1)
        for row, column in np.ndindex(*W.shape[2:]):
            product = np.tensordot(padded[offset(row, column)], W[:, :, row, column], axes=([1], [1]))
            Z = Z + product.transpose(0, 3, 1, 2)
        return Z

    def backward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The derived sums: ∂E/∂W a correlation of the input with δ, ∂E/∂b the sum of δ over samples and
        positions, ∂E/∂A⁽ˡ⁻¹⁾ each window's δ·W added back at its place (the padding's share dropped)."""
        W = params["W"]
        padded, offset = _windows(A, layer.settings, layer.out_shape)
        grad_W = np.zeros(W.shape, dtype=A.dtype)
        grad_padded = np.zeros(padded.shape, dtype=A.dtype)
        for row, column in np.ndindex(*W.shape[2:]):
            grad_W[:, :, row, column] = np.tensordot(delta, padded[offset(row, column)], axes=([0, 2, 3], [0, 2, 3]))
            grad_padded[offset(row, column)] = grad_padded[offset(row, column)] + np.tensordot(
                delta, W[:, :, row, column], axes=([1], [0])).transpose(0, 3, 1, 2)
        (ph, pw), (height, width) = layer.settings.padding, A.shape[2:]
        grad_b = delta.sum(axis=(0, 2, 3))
        return {"W": grad_W, "b": grad_b}, grad_padded[:, :, ph:ph + height, pw:pw + width]
