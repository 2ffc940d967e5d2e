"""codegen.inplace: the ufunc statements with out= compute what the expression says.

Each case evaluates an expression twice: once as the plain NumPy expression the printer
gives (allocating, obviously right), once by running the in-place statements into
preallocated arrays; the two must agree, and the inputs must be left untouched.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.inplace import InPlace, Scratch
from codegen.printers import code
from derive.stable import RowSum, Sigmoid, Softplus

A, Z, Y = sp.symbols("A Z Y", real=True)
n = sp.Symbol("n", positive=True)
S = sp.Symbol("S", positive=True)  # a one-column array
SMALL = frozenset({n, S})


def _inputs() -> dict[str, np.ndarray | int]:
    rng = np.random.default_rng(5)
    return {"A": rng.uniform(0.1, 0.9, (4, 3)), "Z": rng.normal(size=(4, 3)), "Y": rng.uniform(0.1, 0.9, (4, 3)),
            "S": rng.uniform(1, 2, (4, 1)), "n": 4}


def _run(lines: list[str], pool: Scratch, names: dict[str, np.ndarray | int]) -> dict[str, np.ndarray | int]:
    env: dict[str, object] = {"np": np, **{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in names.items()}}
    env["out"] = np.full((4, 3), np.nan)
    for name in pool.names:
        env[name] = np.full((4, 3), np.nan)
    exec("\n".join(lines), env)  # the statements the generator would print
    return env  # type: ignore[return-value]


def _assign(expr: sp.Expr) -> tuple[list[str], Scratch]:
    pool = Scratch("T")
    emitter = InPlace(pool, SMALL)
    emitter.once(expr, lambda e: emitter.assign("out", e))
    return emitter.lines, pool


def _expected(expr: sp.Expr, names: dict[str, np.ndarray | int]) -> np.ndarray:
    value = eval(code(expr), {"np": np, **names})  # the allocating spelling of the same expression
    return np.broadcast_to(value, (4, 3))


CASES = [
    A * (1 - A), 1 - A**2, (A - Y) / n, 2 * A - 2 * Y, Sigmoid(Z), Z * Sigmoid(Z),
    Sigmoid(Z) * (1 + Z - Z * Sigmoid(Z)), Softplus(-Z), -Softplus(Z), Z - sp.log(S), sp.Max(Z, Z / 100),
    sp.Max(0, Z), 99 * sp.Heaviside(Z, 0) / 100 + sp.Rational(1, 100), sp.Heaviside(Z), 1 / A, A**-2,
    sp.sqrt(A), A**3, A**Y, (A - Y) / (A * (1 - A)), A * (Y - RowSum(A * Y)), -A, -A - Y, 3 - A - Y,
    sp.exp(Z) / (1 + sp.exp(Z)), sp.tanh(Z) ** 2, sp.Abs(Z) * sp.sign(Z), sp.Min(A, Y, Z), -(Y * sp.log(A)),
]


def test_each_case_matches_the_allocating_expression() -> None:
    names = _inputs()
    for expr in CASES:
        lines, pool = _assign(expr)
        env = _run(lines, pool, names)
        np.testing.assert_allclose(env["out"], _expected(expr, names), rtol=1e-12, err_msg=f"{expr}: {lines}")
        for key in ("A", "Z", "Y", "S"):
            assert np.array_equal(env[key], names[key]), f"{expr} overwrote {key}"


def test_scale_multiplies_in_place() -> None:
    names = _inputs()
    for expr in CASES:
        pool = Scratch("T")
        emitter = InPlace(pool, SMALL)
        emitter.once(expr, lambda e, emitter=emitter: emitter.scale("out", e))
        env = _run(["out[...] = Y + 1", *emitter.lines], pool, names)
        expected = (names["Y"] + 1) * _expected(expr, names)
        np.testing.assert_allclose(env["out"], expected, rtol=1e-12, err_msg=f"{expr}: {emitter.lines}")


def test_a_sigmoid_is_a_handful_of_passes_and_no_allocation() -> None:
    lines, pool = _assign(A * (1 - A))
    assert lines == ["np.subtract(1, A, out=out)", "out *= A"]
    assert pool.names == []
    lines, _ = _assign(Sigmoid(Z))
    assert lines == ["np.multiply(Z, 0.5, out=out)", "np.tanh(out, out=out)", "out *= 0.5", "out += 0.5"]


def test_a_repeated_subexpression_is_computed_once() -> None:
    lines, pool = _assign(Sigmoid(Z) * (1 + Z - Z * Sigmoid(Z)))
    assert sum("np.tanh" in line for line in lines) == 1
    assert pool.names == ["T"]  # σ(Z) once in T; the sum goes straight into out


LEAVES = st.sampled_from([A, Z, Y, S, n, sp.Integer(2), sp.Rational(1, 3), sp.Float(0.25)])


def _combine(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
    unary = st.sampled_from([sp.tanh, Sigmoid, Softplus, lambda u: -u, lambda u: u**2, lambda u: sp.exp(-u**2)])
    binary = st.sampled_from([sp.Add, sp.Mul, lambda u, v: u - v, lambda u, v: u / (2 + v**2), sp.Max, sp.Min])
    # a function of a plain number is left out: σ(2) is a constant, not an array expression
    return st.one_of(st.builds(lambda f, u: f(u) if u.free_symbols else u, unary, children),
                     st.builds(lambda f, u, v: f(u, v), binary, children, children))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.recursive(LEAVES, _combine, max_leaves=8))
def test_random_expressions_match_the_allocating_expression(expr: sp.Expr) -> None:
    names = _inputs()
    lines, pool = _assign(expr)
    env = _run(lines, pool, names)
    np.testing.assert_allclose(env["out"], _expected(expr, names), rtol=1e-10, atol=1e-12,
                               err_msg=f"{expr}: {lines}")


def test_the_code_printer_writes_numpy_for_log1p_and_expm1() -> None:
    """The plain NumPy form the module's comments and fallbacks use: runnable code, not the LaTeX of the
    document (e^u - 1 loses a small u; 1.758*e^u - 1 would even be a different function)."""
    from derive import spec_from_dict
    from derive.stable import Expm1, Log1p

    printed = code(sp.Rational(3, 2) * Expm1(Z) + Log1p(A))
    assert "np.expm1(Z)" in printed and "np.log1p(A)" in printed and "^" not in printed
    value = eval(printed, {"np": np, "Z": 1e-10, "A": 1e-12})
    assert abs(value - 1.51e-10) < 1e-19  # on paper: expm1(u) ≈ u, log1p(u) ≈ u for tiny u (error ~u²)
    from codegen import render_module
    source = render_module(spec_from_dict({"name": "t", "inputs": 2, "loss": "sse", "layers": [
        {"units": 3, "activation": "selu"}, {"units": 1, "activation": "identity"}]}))
    assert "e^{" not in source and "np.expm1(np.minimum(0, Z1))" in source
