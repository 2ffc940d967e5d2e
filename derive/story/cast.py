"""Who is who in a network's derivation: the name of each layer's activation and of the loss.

A built-in activation is written with its own name (σ, tanh, ReLU); an activation given as a
formula is φ (φ₁, φ₂, … when there are several different ones), since f already names the
affine map of the block diagram. The loss is SSE, MSE, BCE, CE, or ℓ-sum for a formula.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from derive import naming
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, FunctionName
from derive.rules import ACTIVATIONS, LOSSES, ActivationRule
from derive.stable import RowSum

AFFINE = FunctionName("f")
FORMULA_LOSS = FunctionName(r"\operatorname{Loss}")
ELL = FunctionName(r"\ell")  # the loss of one output of one sample
STEP = FunctionName("H")  # the step function, H(0) = 0
GENERIC_ACTIVATION = FunctionName("h^{(l)}")  # the activation of layer l, whichever it is (h, as in the book)
GENERIC_ACTIVATION_PREV = FunctionName("h^{(l-1)}")


@dataclass(frozen=True)
class Cast:
    functions: dict[str, FunctionName]  # activation rule name → its function name
    loss: FunctionName
    formulas: tuple[ActivationRule, ...]  # activations given as formulas, in order of appearance
    constants: dict[sp.Expr, sp.Expr]  # the rules' named constants (SELU's λ, α), value → name

    def of(self, rule: ActivationRule) -> FunctionName:
        return self.functions[rule.name]

    def layer(self, layer: LayerDerivation) -> FunctionName:
        """The function name of a layer's activation (a layer that has one)."""
        assert layer.rule is not None
        return self.functions[layer.rule.name]


def cast_of(net: NetworkDerivation) -> Cast:
    formulas: list[ActivationRule] = []
    rules = [layer.rule for layer in net.layers if layer.rule is not None]
    for rule in rules:
        if ACTIVATIONS.get(rule.name) != rule and rule not in formulas:
            formulas.append(rule)
    functions: dict[str, FunctionName] = {}
    for rule in rules:
        if rule in formulas:
            number = f"_{{{formulas.index(rule) + 1}}}" if len(formulas) > 1 else ""
            functions[rule.name] = FunctionName(rf"\varphi{number}")
        else:
            functions[rule.name] = FunctionName(rule.latex)
    loss = FunctionName(net.spec.loss.latex) if LOSSES.get(net.spec.loss.name) == net.spec.loss else FORMULA_LOSS
    constants: dict[sp.Expr, sp.Expr] = {}
    for rule in rules:
        constants.update(constant_symbols(rule))
    return Cast(functions, loss, tuple(formulas), constants)


def entries(expr: sp.Expr, symbols: tuple[sp.Symbol, ...], row: sp.Symbol = naming.k,
            column: sp.Symbol = naming.j, indices: tuple[sp.Symbol, ...] | None = None) -> sp.Expr:
    """``expr`` in whole arrays (A2, Y, Z2) written for one entry (A⁽²⁾_kj, Y_kj, Z⁽²⁾_kj), or for the
    entry at ``indices`` (an image's (k, c, i, j)).

    A row sum Σ over the outputs of one sample becomes a sum over a second column index.
    """
    if indices is not None:
        return expr.xreplace({symbol: naming.entry(symbol, *indices) for symbol in symbols})
    sums: dict[sp.Dummy, sp.Expr] = {}

    def held(inner: sp.Expr) -> sp.Dummy:  # kept aside, so the outer entries do not reach inside
        dummy = sp.Dummy(f"rowsum{len(sums)}")
        sums[dummy] = inner
        return dummy

    expr = expr.replace(RowSum, held)
    expr = expr.xreplace({symbol: naming.entry(symbol, row, column) for symbol in symbols})
    return expr.xreplace({dummy: sp.Sum(entries(inner, symbols, row, naming.c2), (naming.c2, 1, naming.m))
                          for dummy, inner in sums.items()})


def applied(name: FunctionName, argument: sp.Basic) -> Call:
    return Call(name, argument)


def constant_symbols(rule: ActivationRule) -> dict[sp.Expr, sp.Expr]:
    """A rule's named constants as the document writes them: λ for 1.0507…, and products such as λα.

    SymPy multiplies constants out (λ(max(z, 0) + α(e^z − 1)) has the term λα(e^z − 1)), so every
    product of the named constants is mapped too, with either sign.
    """
    # as the formula parser reads a decimal literal: the exact value of the nearest double
    named = [(sp.Symbol(name, positive=True), sp.Rational(repr(float(value)))) for name, value in rule.constants]
    mapping: dict[sp.Expr, sp.Expr] = {}
    for size in range(1, len(named) + 1):
        for subset in itertools.combinations(named, size):
            value = sp.Mul(*(number for _, number in subset))
            symbol = sp.Mul(*(name for name, _ in subset))
            mapping[value], mapping[-value] = symbol, -symbol
    return mapping


def shown(rule: ActivationRule, expr: sp.Expr) -> sp.Expr:
    """``expr`` with the rule's constants written by name (λ, α), as the document shows it."""
    mapping = constant_symbols(rule)
    return expr.xreplace(mapping) if mapping else expr
