"""The convolution's and pooling's chain-rule sums checked against the expanded scalar E.

On a small instance (n samples, C channels, F filters, an input just large enough for two
output positions per axis) every entry of A⁽ˡ⁻¹⁾, W, b and of δ is a symbol, and
E = Σ δ[k, f, i, j] Z[k, f, i, j] with Z expanded from the definition (entries outside the image
are the padding's zeros): then ∂E/∂Z = δ, and the chain rule says ∂E/∂w = Σ δ ∂Z/∂w. SymPy
differentiates the expanded E by every entry; the sums :mod:`derive.layers.conv2d` derived (the
correlation, the sum over positions, the full convolution with the flipped kernel), evaluated at
that entry, must give the same polynomial.

Pooling: E = Σ δ[k, c, i, j] pool(A⁽ˡ⁻¹⁾)[k, c, i, j] with the max written as SymPy's Max; the
entries are distinct rationals (a tie has no derivative), so SymPy's derivative, a product of
steps, is 0 or 1. The routing of the code (δ to the first maximum of each window; δ/(ph·pw) to
every entry for the mean) must give the same numbers.
"""

from __future__ import annotations

import itertools
import random
from functools import cache

import sympy as sp

from derive.layers import conv2d
from derive.layers.network import GridNetworkDerivation
from derive.layers.pool2d import derive_pool2d

Index = tuple[int, ...]


def small_input(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of an input with two output positions per axis: H + 2p − kh = s."""
    return (max(kernel[0] - 2 * pad[0] + stride[0], 1), max(kernel[1] - 2 * pad[1] + stride[1], 1))


@cache
def verify_conv2d(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int], channels: int = 2,
                  filters: int = 2, samples: int = 1) -> list[str]:
    """The entries where the derived sums and ∂E/∂(entry) of the expanded E differ (empty: proved).
    (Cached: a network's layers often share their settings; callers get a copy to keep.)"""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if sh != sw or ph != pw:  # the derived formulas take one stride and one padding: check each axis alone
        return verify_conv2d((kh, kw), (sh, sh), (ph, ph), channels, filters, samples) + \
            verify_conv2d((kh, kw), (sw, sw), (pw, pw), channels, filters, samples)
    height, width = small_input(kernel, stride, pad)
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    A, W, b, _, D = conv2d.bases()
    values = {A: sp.IndexedBase("a"), W: sp.IndexedBase("w"), b: sp.IndexedBase("bias"), D: sp.IndexedBase("g")}

    def inside(entry: sp.Indexed) -> sp.Expr:
        """An entry of the instance: a symbol, or 0 for the padding outside the image."""
        if entry.base == A:
            _, _, y, x = entry.indices
            if not (0 <= y < height and 0 <= x < width):
                return sp.Integer(0)
        name = values[entry.base]
        return sp.Symbol(f"{name}_{'_'.join(str(i) for i in entry.indices)}", real=True)

    def concrete(expr: sp.Expr, at: dict[sp.Symbol, int]) -> sp.Expr:
        sizes = {conv2d.s: sh, conv2d.p: ph, conv2d.CHANNELS: channels, conv2d.FILTERS: filters,
                 conv2d.SAMPLES: samples, conv2d.KH: kh, conv2d.KW: kw, conv2d.HO: out_h, conv2d.WO: out_w}
        done = expr.subs({**sizes, **at}).doit()
        return done.replace(lambda e: isinstance(e, sp.Indexed), inside)

    definition = conv2d.definition(sh, ph, channels, (kh, kw))
    E = sp.Integer(0)
    for k, f, i, j in itertools.product(range(samples), range(filters), range(out_h), range(out_w)):
        at = {conv2d.k: k, conv2d.f: f, conv2d.i: i, conv2d.j: j}
        E += inside(D[k, f, i, j]) * concrete(definition, at)
    d = conv2d.derive_conv2d()
    failures = []
    checks = [(d.weight_sum, (conv2d.g, conv2d.c2, conv2d.u2, conv2d.v2),
               (range(filters), range(channels), range(kh), range(kw))),
              (d.bias_sum, (conv2d.g,), (range(filters),)),
              (d.input_sum, (conv2d.k2, conv2d.c2, conv2d.y, conv2d.x),
               (range(samples), range(channels), range(height), range(width)))]
    for chain, indices, ranges in checks:
        for point in itertools.product(*ranges):
            at = dict(zip(indices, point, strict=True))
            entry = inside(chain.wrt.subs(at))
            if sp.expand(sp.diff(E, entry) - concrete(chain.summed, at)) != 0:
                failures.append(f"dE/d{entry}")
    return failures


def verify_pool2d(kind: str, pool: tuple[int, int], stride: tuple[int, int], channels: int = 2,
                  samples: int = 1, seed: int = 0) -> list[str]:
    """The input entries where the code's routing and ∂E/∂(entry) of the expanded E differ."""
    (ph, pw), (sh, sw) = pool, stride
    height, width = ph + sh + (1 if sh > ph else 0), pw + sw  # two windows per axis (and a gap when s > p)
    out_h, out_w = (height - ph) // sh + 1, (width - pw) // sw + 1
    generator = random.Random(seed)
    shape = (samples, channels, height, width)
    numbers = generator.sample(range(1, 10 * math_prod(shape)), math_prod(shape))  # distinct: no ties
    symbols = {index: sp.Symbol(f"a_{'_'.join(map(str, index))}", real=True)
               for index in itertools.product(*map(range, shape))}
    value = {symbols[index]: sp.Rational(number, 7) for index, number in zip(symbols, numbers, strict=True)}
    derived = derive_pool2d(kind, pool)
    E = sp.Integer(0)
    routed: dict[Index, sp.Expr] = {index: sp.Integer(0) for index in symbols}
    for k, c, i, j in itertools.product(range(samples), range(channels), range(out_h), range(out_w)):
        delta = sp.Symbol(f"g_{k}_{c}_{i}_{j}", real=True)
        window = [(k, c, sh * i + u, sw * j + v) for u in range(ph) for v in range(pw)]
        entries = [symbols[index] for index in window]
        if kind == "maxpool2d":
            E += delta * sp.Max(*entries)
            first = max(range(len(window)), key=lambda position: (value[entries[position]], -position))
            routed[window[first]] += delta
        else:
            E += delta * sp.Add(*entries) / (ph * pw)
            share = derived.partials[0].subs({sp.Symbol("p_h", integer=True, positive=True): ph,
                                              sp.Symbol("p_w", integer=True, positive=True): pw})
            for index in window:
                routed[index] += delta * share
    failures = []
    for index, symbol in symbols.items():
        expanded = sp.diff(E, symbol).subs(value)
        if sp.expand(expanded - routed[index]) != 0:
            failures.append(f"dE/d{symbol}")
    return failures


def math_prod(shape: tuple[int, ...]) -> int:
    product = 1
    for size in shape:
        product *= size
    return product


def verify_grid(net: GridNetworkDerivation, samples: int = 2, max_width: int = 3) -> list[str]:
    """Every kind of layer of ``net`` proved on a small instance: each conv layer's sums (with its kernel,
    stride and padding; 2 channels, 2 filters), each pooling layer's routing, and the dense layers with
    the loss and the output δ by :func:`derive.verify.verify_matrix_form` on the same layers after flatten."""
    from derive.network import derive_network
    from derive.spec import Spec
    from derive.verify import verify_matrix_form

    failures: list[str] = []
    for layer in net.layers:
        s = layer.settings
        if layer.kind == "conv2d":
            failures += [f"layer {layer.index}: {f}" for f in verify_conv2d(s.kernel, s.stride, s.padding)]
        elif layer.kind in ("maxpool2d", "avgpool2d"):
            failures += [f"layer {layer.index}: {f}" for f in verify_pool2d(layer.kind, s.pool, s.stride)]
    dense = [layer for layer in net.layers if layer.kind == "dense"]
    spec = net.spec
    tail = Spec(spec.name, dense[0].in_shape[0], tuple(layer.settings for layer in dense), spec.loss, spec.reduction,
                spec.dtype, spec.train, spec.source)
    return failures + verify_matrix_form(derive_network(tail), samples, max_width)
