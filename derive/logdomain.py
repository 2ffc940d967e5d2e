"""log A and log(1 − A) evaluated in the log domain, so a loss never takes log(0).

For a sigmoid output, log σ(z) = −softplus(−z) and log(1 − σ(z)) = −softplus(z); for a
softmax output, log A = Z̃ − log S with Z̃ = Z − max Z and S = Σ e^{Z̃} (as Theano and
PyTensor rewrite them). Each form is proved by SymPy before it is used, as a required step
(:func:`derive.bounded.required`): the optional steps' share of the time budget cannot cut it short.
"""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.bounded import cached, required
from derive.naming import LOG_1M_A, LOG_A, z
from derive.rules import ActivationRule
from derive.stable import Softplus, proved_equal


@cached(maxsize=32)
def log_forms(rule: ActivationRule) -> dict[sp.Symbol, sp.Expr]:
    """The log-domain forms (in z, or in Z̃ and S for softmax) an output activation offers."""
    if rule.kind == "softmax":
        return {LOG_A: naming.ZSHIFT - sp.log(naming.EXPSUM)}
    if rule.name != "sigmoid":
        return {}
    forms = {LOG_A: -Softplus(-z), LOG_1M_A: -Softplus(z)}
    definition = rule.definition()
    for form, target in ((forms[LOG_A], definition), (forms[LOG_1M_A], 1 - definition)):
        with required():  # a proof the loss needs, whatever optional steps spent before it
            proved = proved_equal(sp.exp(form), target)
        if not proved:  # pragma: no cover - a broken rule
            raise AssertionError(f"{form} is not the log of {target}")
    return forms


def in_log_domain(element: sp.Expr, forms: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """ℓ(a, y) with log(a) and log(1 − a) replaced by the symbols the forms provide."""
    patterns = {LOG_A: sp.log(naming.a), LOG_1M_A: sp.log(1 - naming.a)}
    for symbol, pattern in patterns.items():
        if symbol in forms:
            element = element.replace(pattern, symbol)
    return element
