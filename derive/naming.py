"""One naming scheme for the derivation and the generated code.

Notation (as in the material this grew from, W → f() → Z → σ() → A → SSE() → E), stated
once in the document's notation table and used everywhere:

* samples ``k = 1…n`` (one per row), layers ``l = 1…L``, units ``j`` of a layer and its
  fan-in ``i``; ``p, q`` pick one entry of a weight matrix; classes ``c = 1…K``;
* ``A⁽⁰⁾ = X`` the input batch; ``Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾ W⁽ˡ⁾ + 𝟏 b⁽ˡ⁾`` the pre-activation and
  ``A⁽ˡ⁾ = f⁽ˡ⁾(Z⁽ˡ⁾)`` the output of layer l; ``Y`` the targets; ``E`` the batch loss;
  ``δ⁽ˡ⁾ = ∂E/∂Z⁽ˡ⁾`` (δ means nothing else: the Kronecker delta is written ``[i = j]``);
* per-sample, per-output scalars ``z, a, y`` and the element loss ``ℓ(a, y)``.

Every quantity is a SymPy :class:`~sympy.Symbol` whose *name* is the Python identifier used
in the generated module (``Z2``, ``A1``, ``d2``) and whose LaTeX comes from
:func:`latex_names`; an entry such as ``A⁽¹⁾_kj`` is :func:`entry` of that symbol.
"""

from __future__ import annotations

import sympy as sp

from derive.notation import Scientific

# Per-element scalars of the rules: f(z), ℓ(a, y).
z = sp.Symbol("z", real=True)
a = sp.Symbol("a", real=True)
y = sp.Symbol("y", real=True)
ELL = sp.Symbol("ell", real=True)  # ℓ, the loss of one output of one sample

X = sp.Symbol("X", real=True)
Y = sp.Symbol("Y", real=True)
A0 = sp.Symbol("A0", real=True)  # A⁽⁰⁾, another name of X in the general formulas
E = sp.Symbol("E", real=True)
E_SAMPLE = sp.Symbol("E_k", real=True)  # the loss of one sample, Σ over its outputs
ONES = sp.Symbol("ones", real=True)  # 𝟏, a column of n ones

# Forward intermediates of a softmax output layer and the log-domain outputs.
ZSHIFT = sp.Symbol("Zs", real=True)  # Z − max_j Z, row by row
EXPSUM = sp.Symbol("S", positive=True)  # Σ_j exp(Z − max Z), row by row
LOG_A = sp.Symbol("logA", real=True)  # log A, computed in the log domain
LOG_1M_A = sp.Symbol("log1mA", real=True)  # log(1 − A), computed in the log domain

# Indices and sizes.
k, k2, i, j, j2, p, q, c, c2, c3 = sp.symbols("k k2 i j j2 p q c c2 c3", integer=True)
n = sp.Symbol("n", positive=True, integer=True)  # samples in the batch
m = sp.Symbol("m", positive=True, integer=True)  # outputs of the network, d⁽ᴸ⁾
K = sp.Symbol("K", positive=True, integer=True)  # classes of a softmax output
L = sp.Symbol("L", positive=True, integer=True)  # layers
l = sp.Symbol("l", positive=True, integer=True)  # a layer

# Training.
ETA = sp.Symbol("eta", positive=True)
MU = sp.Symbol("mu", positive=True)
BETA1, BETA2 = sp.Symbol("beta1", positive=True), sp.Symbol("beta2", positive=True)
EPSILON = sp.Symbol("epsilon", positive=True)
THETA = sp.Symbol("theta", real=True)  # any one parameter array, W⁽ˡ⁾ or b⁽ˡ⁾
STEP = sp.Symbol("t", positive=True, integer=True)
BATCH = sp.Symbol("B")  # a minibatch
DELTA_E, DELTA_THETA, GRAD_E = sp.Symbol("DeltaE"), sp.Symbol("Deltatheta"), sp.Symbol("gradE")
VELOCITY, MOMENT1, MOMENT2 = sp.Symbol("V"), sp.Symbol("M"), sp.Symbol("Vsq")  # optimizer state, shaped like θ
PARAMETERS = sp.Symbol("P", positive=True, integer=True)  # how many numbers θ holds
GRADIENT = sp.Symbol("G")  # ∂E_B/∂θ in Adam's formulas
M_LEFT, M_RIGHT = sp.Symbol("Mleft"), sp.Symbol("Mright")  # any two arrays, in the notation table
E_BATCH = sp.Symbol("E_B", real=True)  # the loss of a minibatch


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


def width(layer: int) -> sp.Symbol:
    """d⁽ˡ⁾, the number of units of ``layer`` (d⁽⁰⁾: the inputs)."""
    return sp.Symbol(f"width{layer}", positive=True, integer=True)


# A layer l in general (the sections that hold for every layer).
GENERIC = {"A": sp.Symbol("A_l", real=True), "A_prev": sp.Symbol("A_lm1", real=True),
           "Z": sp.Symbol("Z_l", real=True), "W": sp.Symbol("W_l", real=True), "b": sp.Symbol("b_l", real=True),
           "delta": sp.Symbol("d_l", real=True), "delta_prev": sp.Symbol("d_lm1", real=True),
           "Z_prev": sp.Symbol("Z_lm1", real=True), "width": sp.Symbol("width_l", positive=True, integer=True),
           "width_prev": sp.Symbol("width_lm1", positive=True, integer=True)}


def entry(matrix: sp.Symbol, *indices: sp.Expr) -> sp.Indexed:
    """The entry ``matrix_{indices}``, e.g. ``entry(A(1), k, j)`` is A⁽¹⁾_kj."""
    return sp.IndexedBase(matrix)[indices]


def tag(layer: int | str) -> str:
    """The LaTeX superscript of a layer: ``^{(2)}``, ``^{(l-1)}``."""
    return f"^{{({layer})}}"


def latex_names(depth: int) -> dict[sp.Symbol, str]:
    """LaTeX for every symbol of a network with ``depth`` layers (a ``symbol_names`` setting).

    Every layer quantity carries its superscript, also in a network of one layer.
    """
    names: dict[sp.Symbol, str] = {
        z: "z", a: "a", y: "y", ELL: r"\ell", X: "X", A0: "A^{(0)}", Y: "Y", E: "E", E_SAMPLE: "E_k",
        ONES: r"\mathbf{1}",
        ZSHIFT: r"\tilde{Z}", EXPSUM: "S", LOG_A: r"\log A", LOG_1M_A: r"\log(1 - A)",
        k: "k", k2: "k'", i: "i", j: "j", j2: "j'", p: "p", q: "q", c: "c", c2: "c'", c3: "c''",
        n: "n", m: "m", K: "K", L: "L", l: "l",
        ETA: r"\eta", MU: r"\mu", BETA1: r"\beta_1", BETA2: r"\beta_2", EPSILON: r"\varepsilon", THETA: r"\theta",
        STEP: "t", BATCH: "B", E_BATCH: "E_B", DELTA_E: r"\Delta E", DELTA_THETA: r"\Delta\theta",
        GRAD_E: r"\nabla E", VELOCITY: "V", MOMENT1: "M", PARAMETERS: "P", M_LEFT: "M", M_RIGHT: "N",
        MOMENT2: "V", GRADIENT: "G", sp.Symbol("Mhat"): r"\hat{M}", sp.Symbol("Vhat"): r"\hat{V}",
    }
    for layer in range(0, depth + 1):
        names[width(layer)] = f"d{tag(layer)}"
    for layer in range(1, depth + 1):
        t = tag(layer)
        names[Z(layer)] = f"Z{t}"
        names[A(layer)] = f"A{t}"
        names[W(layer)] = f"W{t}"
        names[b(layer)] = f"b{t}"
        names[delta(layer)] = rf"\delta{t}"
    for role, symbol in GENERIC.items():
        base = {"A_prev": "A", "delta": r"\delta", "delta_prev": r"\delta", "Z_prev": "Z",
                "width": "d", "width_prev": "d"}.get(role, role)
        names[symbol] = base + tag("l-1" if role.endswith("prev") else "l")
    return names


def matrix(symbol: sp.Symbol) -> sp.MatrixSymbol:
    """The array ``symbol`` names, as a matrix symbol of its shape, for products such as X W⁽¹⁾.

    A⁽ˡ⁾, Z⁽ˡ⁾, δ⁽ˡ⁾: n × d⁽ˡ⁾; W⁽ˡ⁾: d⁽ˡ⁻¹⁾ × d⁽ˡ⁾; b⁽ˡ⁾: 1 × d⁽ˡ⁾; X: n × d⁽⁰⁾; Y: n × m; 𝟏: n × 1.
    """
    fixed = {X.name: (n, width(0)), A0.name: (n, width(0)), Y.name: (n, m), ONES.name: (n, 1),
             GENERIC["A"].name: (n, GENERIC["width"]), GENERIC["Z"].name: (n, GENERIC["width"]),
             GENERIC["delta"].name: (n, GENERIC["width"]), GENERIC["W"].name: (GENERIC["width_prev"], GENERIC["width"]),
             GENERIC["b"].name: (1, GENERIC["width"]), GENERIC["A_prev"].name: (n, GENERIC["width_prev"]),
             GENERIC["Z_prev"].name: (n, GENERIC["width_prev"]), GENERIC["delta_prev"].name: (n, GENERIC["width_prev"])}
    if symbol.name in fixed:
        return sp.MatrixSymbol(symbol.name, *fixed[symbol.name])
    kind, layer = symbol.name.rstrip("0123456789"), int(symbol.name[len(symbol.name.rstrip("0123456789")):])
    shape = {"A": (n, width(layer)), "Z": (n, width(layer)), "d": (n, width(layer)),
             "W": (width(layer - 1), width(layer)), "b": (1, width(layer))}[kind]
    return sp.MatrixSymbol(symbol.name, *shape)


def number(value: float) -> sp.Expr:
    """A setting such as η = 0.01 or ε = 10⁻⁸ as it is written: a short decimal, or a power of ten."""
    if value != 0 and abs(value) < 1e-3:
        digits, exponent = f"{value:e}".split("e")
        mantissa = digits.rstrip("0").rstrip(".")
        return Scientific(sp.Float(mantissa) if "." in mantissa else sp.Integer(mantissa), int(exponent))
    return sp.Float(repr(value)) if value != int(value) else sp.Integer(int(value))
