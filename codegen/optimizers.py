"""Each optimizer rule of :mod:`derive.optimizers` as a function of the generated module, printed from the
rule's assignments through :mod:`codegen.inplace`: every statement writes into θ's flat buffer, the
state's buffers or a scratch buffer, so a step allocates nothing.

In code, θ is ``theta`` (every parameter at once, one flat buffer), G is ``g`` (where the rule folds
the learning rate, ``g`` holds ηG and G is written g/η), the state keeps its symbols' names, t is
``t``, and the settings are their symbols' names (``eta``, ``mu``, ``beta1``, …). An assignment
``target ← a·target + rest`` becomes ``target *= a`` and ``target += rest``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import sympy as sp

from codegen.inplace import InPlace, Scratch
from codegen.printers import code
from codegen.unicode import unicode
from derive import naming
from derive.optimizers import HYPERPARAMETERS, OPTIMIZERS, OptimizerRule

THETA, G = sp.Symbol("theta"), sp.Symbol("g")
WIDTH = 110  # characters of a generated line
SETTINGS = (naming.ETA, *(setting.symbol for setting in HYPERPARAMETERS.values()))  # the functions' last arguments


@dataclass(frozen=True)
class UpdateCode:
    """One rule's generated function: its name, docstring, statements and the buffers it needs."""

    name: str  # gd, sgd, …
    function: str  # _update_gd
    signature: str  # "def _update_gd(theta: np.ndarray, …) -> None:", broken into lines
    words: str  # the update as written, for the docstring, broken into lines
    state: tuple[str, ...]  # names of its state buffers
    scratch: tuple[str, ...]  # names of its scratch buffers
    lines: tuple[str, ...]
    scaled: bool  # g holds ηG (the learning rate is folded into δ)
    minibatch: bool


def update_code(rule: OptimizerRule) -> UpdateCode:
    state = {symbol: sp.Symbol(_code_name(symbol)) for symbol in rule.state}
    names = {naming.THETA: THETA, naming.GRADIENT: G / naming.ETA if rule.folds_rate else G, **state}
    small = frozenset({*SETTINGS, naming.STEP, *(symbol for symbol, _ in rule.scalars)})
    emitter = InPlace(Scratch("T"), small)
    for symbol, value in rule.scalars:
        emitter.emit(f"{symbol.name} = {code(value)}")
    for target, value in rule.code_assignments():
        _assign(emitter, names.get(target, target), value.subs(names))
    words = f"{rule.name}: " + ",  ".join(unicode(assign, 1) for assign in rule.update)
    if rule.where:
        words += " with " + ", ".join(unicode(equation, 1) for equation in rule.where)
    words += " (G = ∂E_B/∂θ"
    words += "; g holds η G, the learning rate riding on the output layer's δ)" if rule.folds_rate else " is g)"
    function = f"_update_{rule.name}"
    arguments = ["theta: np.ndarray", "g: np.ndarray", "state: tuple[np.ndarray, ...]",
                 "scratch: tuple[np.ndarray, ...]", "t: int", *(f"{symbol.name}: float" for symbol in SETTINGS)]
    signature = _wrapped(f"def {function}(", arguments, ") -> None:")
    return UpdateCode(rule.name, function, signature, "\n    ".join(textwrap.wrap(words, WIDTH - 4)),
                      tuple(symbol.name for symbol in state.values()), tuple(emitter.scratch.names),
                      tuple(emitter.lines), rule.folds_rate, rule.minibatch)


def _wrapped(head: str, arguments: list[str], tail: str) -> str:
    """``head`` + the arguments + ``tail``, broken into lines of at most WIDTH characters under the first."""
    lines, line = [], head
    for index, argument in enumerate(arguments):
        piece = argument + (", " if index < len(arguments) - 1 else tail)
        if len(line) + len(piece.rstrip()) > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = " " * len(head)
        line += piece
    lines.append(line)
    return "\n".join(lines)


def _code_name(symbol: sp.Symbol) -> str:
    """A state array's name in code: as the document writes it (V, M), where that is a plain name."""
    written = unicode(symbol, 1)
    return written if written.isascii() and written.isidentifier() else symbol.name


def _assign(emitter: InPlace, target: sp.Symbol, value: sp.Expr) -> None:
    """``target ← value`` with ``value`` = a·target + rest: scale in place, then add the rest."""
    rest = value.subs(target, 0)
    coefficient = sp.simplify((value - rest) / target)
    assert target not in coefficient.free_symbols, f"{target} ← {value} is not linear in {target}"
    name = str(target)
    if coefficient == 0:
        emitter.assign(name, rest)
        return
    if coefficient != 1:
        emitter.emit(f"{name} *= {code(coefficient)}")
    if rest == 0:
        return
    negative = rest.could_extract_minus_sign()
    operator = "-=" if negative else "+="
    emitter.with_value(-rest if negative else rest, lambda value: emitter.emit(f"{name} {operator} {value}"))


def updates() -> tuple[UpdateCode, ...]:
    return tuple(update_code(rule) for rule in OPTIMIZERS.values())


def settings() -> tuple[tuple[str, str, str], ...]:
    """(train()'s keyword, the code's name, bounds) of every optimizer setting, in the functions' order."""
    return tuple((setting.name, setting.symbol.name, setting.bounds) for setting in HYPERPARAMETERS.values())
