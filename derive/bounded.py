"""SymPy steps that may give up: a time limit, and a fallback when SymPy cannot finish.

Simplifying, factoring and proving are searches; for most formulas they take milliseconds,
but for some (``2**z``) ``simplify`` runs for minutes, and for others SymPy raises from deep
inside its assumption system. Such a step is optional (a shorter form, a rewrite in A) or a
proof; :func:`within` runs it with a time limit and returns ``fallback`` when it does not
finish, so a formula the parser accepted is derived in its plain form instead of hanging.

The limit uses ``SIGALRM`` and so applies in the main thread on POSIX; elsewhere a step runs
without one (exceptions still fall back). Nested limits keep the outer deadline.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
STEP_SECONDS = 5.0  # one simplify or one proof


class NotProvedError(Exception):
    """A proof the derivation needs did not finish; the message says which."""


class _ExpiredError(Exception):
    pass


def _expire(signum: int, frame: object) -> None:
    raise _ExpiredError


def within(compute: Callable[[], T], fallback: T, seconds: float = STEP_SECONDS) -> T:
    """``compute()``, or ``fallback`` if it raises or takes longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        try:
            return compute()
        except Exception:
            return fallback
    outer = signal.getitimer(signal.ITIMER_REAL)[0]
    previous = signal.signal(signal.SIGALRM, _expire)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer > 0 else seconds)
    try:
        return compute()
    except Exception:  # _ExpiredError, or SymPy failing inside an optional step
        return fallback
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # the outer step's deadline still holds
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))
