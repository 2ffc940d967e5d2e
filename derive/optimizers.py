"""Optimizers as rules: each one's state and update as SymPy assignments, written once.

Notation: θ any one parameter array (W⁽ˡ⁾ or b⁽ˡ⁾), G = ∂E_B/∂θ its gradient on a minibatch B (on
the whole batch for gd), η the learning rate, t the number of the step (from 1). A rule's state is
arrays of θ's shape that start at 0; its update is assignments ``target ← value`` carried out in
order at every step, written in the notation of :mod:`derive.notation` so that the document prints
them as a reader writes them. From that one definition:

* the document prints them (:mod:`derive.story.update`);
* the worked example evaluates them on numbers (:func:`first_update`);
* the code printer emits them into the generated module (:mod:`codegen.optimizers`), in the rule's
  ``code`` form where it has one, which SymPy proves equal to the written update (:func:`proved`).

Two facts are derived, not declared: whether the learning rate reaches θ only through ηG (then the
module folds η into δ⁽ᴸ⁾ and passes ηG: :attr:`OptimizerRule.folds_rate`), and the first step from
the zero state (:meth:`OptimizerRule.first_step`), which the worked example shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.notation import Assign, Chain, Difference, Elementwise, Fraction, Plus, Times

THETA, G, ETA, STEP = naming.THETA, naming.GRADIENT, naming.ETA, naming.STEP
M_HAT, V_HAT = sp.Symbol("Mhat"), sp.Symbol("Vhat")
ROOT = sp.Symbol("root", positive=True)  # √(1 − β₂ᵗ), in Adam's code form


@dataclass(frozen=True)
class Hyperparameter:
    """A setting of an optimizer: the spec's [train] key, train()'s keyword and the command line's flag."""

    name: str
    symbol: sp.Symbol
    default: float
    bounds: str  # "fraction": 0 ≤ value < 1 | "positive": finite and > 0
    group: str = ""  # settings the document states together as one list ({betas}); "" states it alone


@dataclass(frozen=True)
class OptimizerRule:
    """One optimizer. ``update`` are the written assignments (notation) in order; ``where`` defines the
    helper quantities they use (M̂ = M/(1 − β₁ᵗ)); ``code`` is a form of them for the generated module,
    proved equal (None: the update itself); ``shows`` how the document writes G: ``partial`` as
    ∂E_B/∂θ, ``symbol`` as G with its definition; ``first_written`` the step S of θ ← θ − S on the first
    update from the zero state, as the worked example writes it (proved equal to the derived one)."""

    name: str
    minibatch: bool
    hyperparameters: tuple[Hyperparameter, ...]
    state: tuple[sp.Symbol, ...]
    update: tuple[Assign, ...]
    where: tuple[sp.Eq, ...] = ()
    code: tuple[tuple[sp.Symbol, sp.Expr], ...] | None = None
    scalars: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()  # numbers the code form uses, computed once per step
    shows: str = "partial"
    first_written: sp.Expr = field(default_factory=lambda: Chain(ETA, G))
    first_where: tuple[sp.Eq, ...] = ()  # the ``where`` quantities at the first update, as written
    domain: tuple[tuple[sp.Expr, sp.Expr], ...] = ()  # substitutions that state where the proof holds
    words: Callable[[], str] | None = None  # the sentence before its state's update, in the document
    schedule: Callable[[], str] = lambda: ""  # how it walks the data, with η and its settings
    worked: Callable[[], str] = lambda: ""  # the worked example's sentence before its first step

    def assignments(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """The update as plain SymPy: (target, value) in order, the ``where`` definitions put in."""
        definitions = {equation.lhs: expression(equation.rhs) for equation in self.where}
        return [(assign.args[0], expression(assign.args[1]).subs(definitions)) for assign in self.update]

    def code_assignments(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """What the generated module carries out: the ``code`` form, else the update itself."""
        return list(self.code) if self.code is not None else self.assignments()

    @property
    def folds_rate(self) -> bool:
        """Whether η reaches θ only through ηG: with G = S/η every value is free of η, so the module can
        fold η into δ⁽ᴸ⁾ and pass S = ηG, making the step of gd one pass."""
        S = sp.Symbol("S")
        return all(ETA not in value.subs(G, S / ETA).free_symbols for _, value in self.code_assignments())

    def first_update(self) -> dict[sp.Symbol, sp.Expr]:
        """Every quantity after the first update (t = 1) from the zero state, in θ, G, η and the settings."""
        values: dict[sp.Symbol, sp.Expr] = {symbol: sp.Integer(0) for symbol in self.state}
        values[THETA] = THETA
        for target, value in self.assignments():
            values[target] = value.subs(values).subs(STEP, 1)
        return values

    def first_step(self) -> sp.Expr:
        """θ after the first update (t = 1) from the zero state, in θ, G, η and the settings."""
        return sp.simplify(self.first_update()[THETA])


def expression(notation: sp.Basic) -> sp.Expr:
    """Written notation as the plain SymPy expression it stands for (products in any order)."""
    def plain(node: sp.Basic) -> sp.Expr:
        arguments = [plain(argument) for argument in node.args]
        if isinstance(node, Difference):
            return arguments[0] - arguments[1]
        if isinstance(node, (Chain, Times, Elementwise)):
            return sp.Mul(*arguments)
        if isinstance(node, Plus):
            return sp.Add(*arguments)
        if isinstance(node, Fraction):
            return arguments[0] / arguments[1]
        return node.func(*arguments) if node.args else node
    return plain(notation)


def proved(rule: OptimizerRule) -> bool:
    """SymPy's proof that the code form carries out the written update, and that the first step the
    worked example writes is the derived one (simplify(difference) == 0)."""
    from derive.stable import proved_equal

    domain = dict(rule.domain)
    if rule.code is not None:
        written = dict(rule.assignments())
        for target, value in rule.code:
            if not proved_equal(value.subs(dict(rule.scalars)).subs(domain), written[target].subs(domain)):
                return False
    first = rule.first_update()
    for equation in rule.first_where:
        defined = next(where.rhs for where in rule.where if where.lhs == equation.lhs)
        if not proved_equal(expression(defined).subs(first).subs(STEP, 1), expression(equation.rhs)):
            return False
    return proved_equal(THETA - expression(rule.first_written), rule.first_step())


MOMENTUM = Hyperparameter("momentum", naming.MU, 0.9, "fraction")
BETA1 = Hyperparameter("beta1", naming.BETA1, 0.9, "fraction", "betas")
BETA2 = Hyperparameter("beta2", naming.BETA2, 0.999, "fraction", "betas")
EPSILON = Hyperparameter("epsilon", naming.EPSILON, 1e-8, "positive")
V, M, V2 = naming.VELOCITY, naming.MOMENT1, naming.MOMENT2
b1, b2, eps, mu = BETA1.symbol, BETA2.symbol, EPSILON.symbol, MOMENTUM.symbol

GRADIENT_STEP = (Assign(THETA, Difference(THETA, Chain(ETA, G))),)

OPTIMIZERS: dict[str, OptimizerRule] = {rule.name: rule for rule in (
    OptimizerRule(
        "gd", False, (), (), GRADIENT_STEP,
        schedule=lambda: _("Full-batch gradient descent: the batch is the whole training set, one step per epoch; "
                           "{eta}."),
        worked=lambda: _("One step of gradient descent, {rule}, for the entries above; every other entry moves "
                         "the same way:")),
    OptimizerRule(
        "sgd", True, (), (), GRADIENT_STEP,
        schedule=lambda: _("Stochastic gradient descent: each epoch shuffles the samples (seeded) and cuts them into "
                           "minibatches {B} of {size} samples; each takes one step with the gradient of its own loss "
                           "{EB}, which is {E} with the sums over the samples of {B} only; {eta}."),
        worked=lambda: _("The first step on this batch, {rule}, for the entries above:")),
    OptimizerRule(
        "momentum", True, (MOMENTUM,), (V,),
        (Assign(V, Difference(Chain(mu, V), Chain(ETA, G))), Assign(THETA, THETA + V)),
        words=lambda: _("This network trains with momentum: each parameter {theta} keeps a velocity {V} of its "
                        "shape, starting at 0, that remembers the earlier steps; for each minibatch"),
        schedule=lambda: _("Each epoch shuffles the samples (seeded) and cuts them into minibatches {B} of {size} "
                           "samples; {EB} is {E} with the sums over the samples of {B} only; {eta}, {mu}."),
        worked=lambda: _("The first step on this batch, {rule}: the velocity starts at 0, so it is a plain gradient "
                         "step, for the entries above:")),
    OptimizerRule(
        "adam", True, (BETA1, BETA2, EPSILON), (M, V2),
        (Assign(M, Plus(Chain(b1, M), Chain(1 - b1, G))),
         Assign(V2, Plus(Chain(b2, V2), Chain(1 - b2, Elementwise(G, G)))),
         Assign(THETA, Difference(THETA, Chain(ETA, Fraction(M_HAT, sp.sqrt(V_HAT) + eps))))),
        where=(sp.Eq(M_HAT, Fraction(M, 1 - b1**STEP), evaluate=False),
               sp.Eq(V_HAT, Fraction(V2, 1 - b2**STEP), evaluate=False)),
        # m̂/(√v̂ + ε) = m/(√v + ε√(1 − β₂ᵗ)) · √(1 − β₂ᵗ)/(1 − β₁ᵗ): one pass fewer over the parameters
        code=((M, b1 * M + (1 - b1) * G), (V2, b2 * V2 + (1 - b2) * G**2),
              (THETA, THETA - ETA * ROOT / (1 - b1**STEP) * M / (sp.sqrt(V2) + eps * ROOT))),
        shows="symbol", first_written=Chain(ETA, Fraction(G, sp.Abs(G) + eps)),
        first_where=(sp.Eq(M_HAT, G, evaluate=False), sp.Eq(V_HAT, Elementwise(G, G), evaluate=False)),
        scalars=((ROOT, sp.sqrt(1 - b2**STEP)),),
        domain=((V2, sp.Symbol("v", nonnegative=True)), (b2**STEP, 1 - sp.Symbol("c", positive=True) ** 2)),
        # v ≥ 0 and 1 − β₂ᵗ = c² > 0
        words=lambda: _("This network trains with Adam, which scales the step of every entry: each parameter "
                        "{theta} keeps two running averages of its shape, {M} and {V}, starting at 0; at step {t}, "
                        "with {G},"),
        schedule=lambda: _("Each epoch shuffles the samples (seeded) and cuts them into minibatches {B} of {size} "
                           "samples; {EB} is {E} with the sums over the samples of {B} only; {eta}, {betas}, "
                           "{epsilon}; products, square roots and quotients act entry by entry."),
        worked=lambda: _("The first Adam step on this batch: with {MV} it is {rule} entry by entry, for the entries "
                         "above:")),
)}

HYPERPARAMETERS: dict[str, Hyperparameter] = {setting.name: setting for rule in OPTIMIZERS.values()
                                              for setting in rule.hyperparameters}
