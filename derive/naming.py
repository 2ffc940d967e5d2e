"""One naming scheme for the derivation and the generated code.

Notation (as in the material this grew from, W → f() → Z → σ() → A → SSE() → E):

* ``A⁽⁰⁾ = X`` the input batch, one sample per row (n × d);
* ``Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾ W⁽ˡ⁾ + b⁽ˡ⁾`` the pre-activation, ``A⁽ˡ⁾ = f(Z⁽ˡ⁾)`` the layer output;
* ``Y`` the targets, ``E`` the loss, ``δ⁽ˡ⁾ = ∂E/∂Z⁽ˡ⁾``.

Every quantity is a SymPy :class:`~sympy.Symbol` whose *name* is the Python identifier
used in the generated module (``Z2``, ``A1``, ``d2``) and whose LaTeX form comes from
:func:`latex_names`. A network with a single layer drops the ``(l)`` superscript, as the
seeds' perceptron does.
"""

from __future__ import annotations

import sympy as sp

# Generic element symbols of the per-element rules: f(z), ℓ(a, y).
z = sp.Symbol("z", real=True)
a = sp.Symbol("a", real=True)
y = sp.Symbol("y", real=True)

X = sp.Symbol("X", real=True)
Y = sp.Symbol("Y", real=True)

# Forward intermediates of a softmax output layer and the log-domain outputs.
ZSHIFT = sp.Symbol("Zs", real=True)  # Z − max_j Z, row by row
EXPSUM = sp.Symbol("S", positive=True)  # Σ_j exp(Z − max Z), row by row
LOG_A = sp.Symbol("logA", real=True)  # log A, computed in the log domain
LOG_1M_A = sp.Symbol("log1mA", real=True)  # log(1 − A), computed in the log domain


def Z(layer: int) -> sp.Symbol:
    """Pre-activation of ``layer`` (1-based)."""
    return sp.Symbol(f"Z{layer}", real=True)


def A(layer: int) -> sp.Symbol:
    """Output of ``layer``; ``A(0)`` is the input batch X."""
    return X if layer == 0 else sp.Symbol(f"A{layer}", real=True)


def W(layer: int) -> sp.Symbol:
    return sp.Symbol(f"W{layer}", real=True)


def b(layer: int) -> sp.Symbol:
    return sp.Symbol(f"b{layer}", real=True)


def delta(layer: int) -> sp.Symbol:
    """δ⁽ˡ⁾ = ∂E/∂Z⁽ˡ⁾."""
    return sp.Symbol(f"d{layer}", real=True)


def tag(layer: int, depth: int) -> str:
    """The LaTeX superscript of ``layer`` in a network of ``depth`` layers."""
    return "" if depth == 1 else f"^{{({layer})}}"


def latex_names(depth: int) -> dict[sp.Symbol, str]:
    """LaTeX for every symbol of a network with ``depth`` layers (a ``symbol_names`` setting)."""
    names: dict[sp.Symbol, str] = {
        z: "z", a: "a", y: "y", X: "X", Y: "Y",
        ZSHIFT: r"\tilde{Z}", EXPSUM: "S", LOG_A: r"\log A", LOG_1M_A: r"\log(1 - A)",
    }
    for layer in range(1, depth + 1):
        t = tag(layer, depth)
        names[Z(layer)] = f"Z{t}"
        names[A(layer)] = f"A{t}"
        names[W(layer)] = f"W{t}"
        names[b(layer)] = f"b{t}"
        names[delta(layer)] = rf"\delta{t}"
    return names


def partial(numerator: str, denominator: str) -> str:
    """LaTeX of ∂numerator/∂denominator."""
    return rf"\frac{{\partial {numerator}}}{{\partial {denominator}}}"
