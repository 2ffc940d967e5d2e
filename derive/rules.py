"""The registry: one small rule per activation and per loss.

A built-in is nothing but a named formula, read by the same safe parser as a user's
formula and derived the same way. Only softmax, which is not elementwise, is a rule of
its own kind.

Loss notation: per sample k and output j, the element loss is ℓ(a, y); the loss is
``E = c · Σ_k Σ_j ℓ(A_kj, Y_kj)`` with ``c = 1/J`` for a loss that averages over the J
outputs (mse) times ``1/n`` for ``reduction = "mean"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy as sp

from derive.formula import parse_formula

Init = Literal["xavier", "he"]
Targets = Literal["any", "unit", "distribution"]


@dataclass(frozen=True)
class ActivationRule:
    """f(z): ``formula`` in z, or the softmax over a row when ``kind == "softmax"``."""

    name: str
    formula: str
    latex: str  # LaTeX name of the function, e.g. r"\sigma"
    init: Init = "xavier"
    kind: Literal["elementwise", "softmax"] = "elementwise"

    def definition(self, field: str = "activation") -> sp.Expr:
        """f(z) as a SymPy expression (for softmax: the numerator exp(z))."""
        return parse_formula(self.formula, ("z",), field)


@dataclass(frozen=True)
class LossRule:
    """ℓ(a, y): ``formula`` in a and y, summed over outputs (averaged when ``output_mean``)."""

    name: str
    formula: str
    latex: str  # LaTeX name, e.g. r"\mathrm{SSE}"
    output_mean: bool = False
    targets: Targets = "any"  # unit: y in [0, 1]; distribution: rows of Y sum to 1

    def element(self, field: str = "loss") -> sp.Expr:
        return parse_formula(self.formula, ("a", "y"), field)


ACTIVATIONS: dict[str, ActivationRule] = {}
LOSSES: dict[str, LossRule] = {}


def register_activation(rule: ActivationRule) -> ActivationRule:
    ACTIVATIONS[rule.name] = rule
    return rule


def register_loss(rule: LossRule) -> LossRule:
    LOSSES[rule.name] = rule
    return rule


register_activation(ActivationRule("sigmoid", "1/(1 + exp(-z))", r"\sigma"))
register_activation(ActivationRule("tanh", "tanh(z)", r"\tanh"))
register_activation(ActivationRule("relu", "max(z, 0)", r"\operatorname{ReLU}", init="he"))
register_activation(ActivationRule("leaky_relu", "max(z, 0.01*z)", r"\operatorname{LeakyReLU}", init="he"))
register_activation(ActivationRule("identity", "z", r"\operatorname{id}"))
register_activation(ActivationRule("softplus", "log(1 + exp(z))", r"\operatorname{softplus}", init="he"))
register_activation(ActivationRule("softmax", "exp(z)", r"\operatorname{softmax}", kind="softmax"))

register_loss(LossRule("sse", "(a - y)**2 / 2", r"\mathrm{SSE}"))
register_loss(LossRule("mse", "(a - y)**2", r"\mathrm{MSE}", output_mean=True))
register_loss(LossRule("bce", "-(y*log(a) + (1 - y)*log(1 - a))", r"\mathrm{BCE}", targets="unit"))
register_loss(LossRule("cross_entropy", "-y*log(a)", r"\mathrm{CE}", targets="distribution"))


def formula_activation(text: str) -> ActivationRule:
    """A user's activation formula in z, as a rule."""
    return ActivationRule(text, text, "f")


def formula_loss(text: str) -> LossRule:
    """A user's loss formula in a and y, as a rule."""
    return LossRule(text, text, r"\ell")
