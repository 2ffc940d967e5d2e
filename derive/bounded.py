"""Time limits: SymPy steps that may give up, and one budget for a whole derivation and its printing.

Simplifying, factoring and proving are searches; for most formulas they take milliseconds,
but for some (``2**z``) ``simplify`` runs for minutes, and for others SymPy raises from deep
inside its assumption system. Two limits, on one ``SIGALRM`` timer, keep every command bounded:

* :func:`within` runs an optional step (a shorter form, a rewrite in A, a proof) for at most
  ``STEP_SECONDS`` and returns ``fallback`` when it does not finish or raises, so a formula the
  parser accepted is derived in its plain form instead of hanging;
* :func:`time_budget` bounds everything inside it (deriving, printing) by one deadline,
  ``DEFAULT_SECONDS`` unless told. Optional steps share the first ``OPTIONAL_SHARE`` of it;
  once that is spent they return their fallback at once, so the rest of the work goes on with
  plain forms. Should the deadline still pass, :class:`OutOfTimeError` (a ``SpecError``) names
  what was being worked on (:func:`working_on`): a layer's activation, the loss, the printing;
* :func:`required` marks steps the derivation cannot do without (the proof of a log-domain
  form, of the softmax Jacobian): inside it a step is bounded by ``STEP_SECONDS`` and by the
  budget's deadline, never by the optional share, so a required proof does not fail because
  optional steps spent their share first.

The timer's exception is a ``BaseException``; should code on the way swallow it anyway (a bare
``except:``), the timer raises it again every ``RERAISE_SECONDS`` until the work unwinds.

A result computed while the budget cut a step short depends on that budget, so :func:`cached`
(the per-rule caches) keeps it only while that budget lasts: a formula repeated in many layers
is derived once, and the same formula derives in full on its own later.

The timer applies in the main thread on POSIX; elsewhere optional steps still share the budget
but nothing is interrupted. A timer someone else armed (``signal.setitimer``) keeps its
deadline and handler.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from derive.errors import SpecError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_SECONDS = 30.0  # one command: derivation and printing together
STEP_SECONDS = 5.0  # one simplify or one proof
OPTIONAL_SHARE = 0.5  # of a budget, for optional steps
RERAISE_SECONDS = 0.5  # a deadline whose exception was swallowed raises again after this long


class NotProvedError(Exception):
    """A proof the derivation needs did not finish; the message says which."""


@dataclass(frozen=True)
class Task:
    """What is being worked on, for the message when time runs out: ``<what> took longer than …``."""

    field: str  # the spec field to blame, e.g. layers[2].activation
    source: str  # the spec's file name
    what: str  # e.g. "deriving 'sigmoid(sigmoid(z))'"
    advice: str = "try a simpler form of this formula (fewer nested or composed functions)"


class OutOfTimeError(SpecError):
    """The time budget ran out; one line naming the field, what took long and what to try."""

    def __init__(self, task: Task | None, seconds: float) -> None:
        task = task or Task("", "<spec>", "deriving and printing")
        self.task, self.seconds = task, seconds
        super().__init__(task.field, f"{task.what} took longer than the time limit of {seconds:g} s; {task.advice}, "
                                     "or allow more time (--time-limit)", task.source)

    def with_source(self, source: str) -> SpecError:
        return OutOfTimeError(Task(self.task.field, source, self.task.what, self.task.advice), self.seconds)


class _ExpiredError(BaseException):
    """Raised by the timer. Not an ``Exception``: no ``except Exception`` on the way may swallow it."""

    def __init__(self, deadline: _Deadline, task: Task | None) -> None:
        super().__init__()
        self.deadline, self.task = deadline, task


@dataclass(eq=False)
class _Deadline:
    at: float  # time.monotonic()
    raised: bool = False  # the timer has raised for it; again only if it is still in force RERAISE_SECONDS later

    @property
    def due(self) -> float:
        """When the timer next raises for it."""
        return self.at + RERAISE_SECONDS if self.raised else self.at


@dataclass(eq=False)
class _Budget:
    seconds: float
    optional_until: float
    deadline: _Deadline | None  # None where no timer can interrupt
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # results it cut short, kept while it lasts


@dataclass
class _State:
    deadlines: list[_Deadline] = field(default_factory=list)  # nested; each no later than the one below
    budgets: list[_Budget] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    shortened: int = 0  # optional steps the budget skipped or cut short, ever
    required: int = 0  # depth of required() scopes: steps there ignore the optional share
    previous: Any = None  # the SIGALRM handler before ours
    foreign: tuple[float, float] | None = None  # a timer armed before ours: (due, interval)


_state = _State()


def _timer_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    times = [deadline.due for deadline in _state.deadlines]
    if _state.foreign is not None:
        times.append(_state.foreign[0])
    if times:  # at most a day at a time: the handler re-arms until a deadline has passed
        signal.setitimer(signal.ITIMER_REAL, min(max(min(times) - time.monotonic(), 1e-4), 86400.0))
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(signum: int, frame: Any) -> None:
    now = time.monotonic()
    if _state.foreign is not None and now >= _state.foreign[0]:
        interval = _state.foreign[1]
        _state.foreign = (now + interval, interval) if interval > 0 else None
        _arm()
        if callable(_state.previous):
            _state.previous(signum, frame)
        return
    due = [deadline for deadline in _state.deadlines if now >= deadline.due]
    if due:  # the innermost one due: its exception unwinds through the others' scopes
        deadline = due[-1]
        deadline.raised, deadline.at = True, now  # again in RERAISE_SECONDS, should this one be swallowed
        _arm()
        raise _ExpiredError(deadline, _state.tasks[-1] if _state.tasks else None)
    _arm()


def _push(at: float) -> _Deadline:
    if not _state.deadlines:  # take over the timer, remembering one that is running
        remaining, interval = signal.getitimer(signal.ITIMER_REAL)
        signal.setitimer(signal.ITIMER_REAL, 0)
        _state.foreign = (time.monotonic() + remaining, interval) if remaining > 0 else None
        _state.previous = signal.signal(signal.SIGALRM, _on_alarm)
    else:
        at = min(at, _state.deadlines[-1].at)
    deadline = _Deadline(at)
    _state.deadlines.append(deadline)
    _arm()
    return deadline


def _pop(deadline: _Deadline) -> None:
    """Remove ``deadline`` and any left above it; idempotent."""
    if deadline not in _state.deadlines:
        return
    del _state.deadlines[_state.deadlines.index(deadline):]
    if _state.deadlines:
        _arm()
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, _state.previous if _state.previous is not None else signal.SIG_DFL)
    foreign, _state.foreign, _state.previous = _state.foreign, None, None
    if foreign is not None:
        signal.setitimer(signal.ITIMER_REAL, max(foreign[0] - time.monotonic(), 1e-4), foreign[1])


def optional_seconds_left() -> float:
    """How long optional steps may still run under the current budget (inf without one); inside
    :func:`required`, how long until the budget's deadline."""
    if not _state.budgets:
        return math.inf
    budget = _state.budgets[-1]
    if _state.required:
        return (budget.deadline.at if budget.deadline is not None else math.inf) - time.monotonic()
    return budget.optional_until - time.monotonic()


@contextmanager
def required() -> Iterator[None]:
    """Steps (``within``) inside are ones the derivation needs: each gets its own ``seconds``, cut
    only by the budget's deadline (which then raises :class:`OutOfTimeError`), not by the
    optional share."""
    _state.required += 1
    try:
        yield
    finally:
        _state.required -= 1


def within(compute: Callable[[], T], fallback: T, seconds: float = STEP_SECONDS) -> T:
    """``compute()``, or ``fallback`` if it raises or takes longer than ``seconds`` (or than the
    budget leaves for optional steps)."""
    limit = min(seconds, optional_seconds_left())
    if _state.required and limit < seconds:  # a required step: only the budget's deadline cuts it, and then
        try:  # with OutOfTimeError, not as a step that failed
            return compute()
        except Exception:
            return fallback
    if limit <= 0:
        _state.shortened += 1
        return fallback
    if not _timer_available():
        try:
            return compute()
        except Exception:
            return fallback
    deadline = _push(time.monotonic() + limit)
    try:
        try:
            return compute()
        finally:
            _pop(deadline)
    except _ExpiredError as expired:
        if expired.deadline is not deadline:
            raise  # a budget's deadline: not this step's to handle
        _pop(deadline)
        if limit < seconds:
            _state.shortened += 1
        return fallback
    except Exception:  # SymPy failing inside an optional step
        _pop(deadline)
        return fallback


@contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Bound everything inside by one deadline (``seconds``, default ``DEFAULT_SECONDS``).

    Without ``seconds`` inside another budget, the enclosing one governs. An inner budget never
    extends an outer one. Raises :class:`OutOfTimeError` when the deadline passes.
    """
    if seconds is None and _state.budgets:
        yield
        return
    if seconds is None:
        seconds = DEFAULT_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError(f"time_limit: expected a number of seconds > 0, got {seconds!r}")
    now = time.monotonic()
    optional_until = now + OPTIONAL_SHARE * seconds
    if _state.budgets:
        optional_until = min(optional_until, _state.budgets[-1].optional_until)
    deadline = _push(now + seconds) if _timer_available() else None
    budget = _Budget(float(seconds), optional_until, deadline)
    _state.budgets.append(budget)
    try:
        try:
            yield
        finally:
            if budget in _state.budgets:
                _state.budgets.remove(budget)
            if deadline is not None:
                _pop(deadline)
    except _ExpiredError as expired:
        if deadline is None or expired.deadline is not deadline:
            raise
        _pop(deadline)
        raise OutOfTimeError(expired.task, seconds) from None


@contextmanager
def working_on(task: Task) -> Iterator[None]:
    """Name ``task`` as the culprit should the budget run out inside."""
    _state.tasks.append(task)
    try:
        yield
    finally:
        _state.tasks.pop()


def cached(maxsize: int) -> Callable[[F], F]:
    """``functools.lru_cache`` for the per-rule derivations, except that a result computed while
    the budget cut an optional step short is returned but not kept."""
    def decorate(function: F) -> F:
        store: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

        @functools.wraps(function)
        def wrapper(*args: Any) -> Any:
            if args in store:
                store.move_to_end(args)
                return store[args]
            memo = _state.budgets[0].memo if _state.budgets else {}
            if (function, *args) in memo:
                return memo[(function, *args)]
            before = _state.shortened
            result = function(*args)
            if _state.shortened == before:
                store[args] = result
                if len(store) > maxsize:
                    store.popitem(last=False)
            else:  # the same within this budget (a layer repeated 256 times), forgotten after it
                memo[(function, *args)] = result
            return result

        wrapper.cache_clear = store.clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return decorate
