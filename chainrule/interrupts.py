"""Ctrl-C and SIGTERM during ``chainrule train``, phase by phase, so that a signal never leaves half a run.

* ``prepare`` (reading, deriving, checking): Ctrl-C raises ``KeyboardInterrupt`` at once;
* ``train``: the first Ctrl-C asks training to stop after the current epoch, the second raises
  ``KeyboardInterrupt`` (training stops at once; its params are lost, its history is kept);
* ``optional`` (the gradient check, the plot, the document): Ctrl-C raises ``KeyboardInterrupt``,
  which skips that step, and is remembered;
* ``required`` (writing the weights, the history, run.json, the rename): a Ctrl-C is only remembered,
  and SIGTERM waits until the step is done.

SIGTERM raises :class:`Terminated` (outside ``required``): the run is abandoned and nothing of it
is left. A Ctrl-C that was ignored when the command started (``nohup``, a background job of a
script) stays ignored.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PHASES = ("prepare", "train", "optional", "required")
STOPPING = "\nCtrl-C: stopping after this epoch (press it again to stop at once)"


class Terminated(BaseException):
    """SIGTERM arrived: the run is given up."""


class Interrupts:
    """The signal handlers of one run; use as a context manager, then :meth:`phase`."""

    def __init__(self) -> None:
        self.presses = 0
        self.terminated = False
        self._phase = "prepare"
        self._previous: dict[int, Any] = {}

    @property
    def asked(self) -> bool:
        """Whether Ctrl-C was pressed since training began."""
        return self.presses > 0

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_interrupt)
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Run the block in phase ``name`` (one of ``PHASES``); after a ``required`` block, a SIGTERM
        that waited is raised."""
        assert name in PHASES
        before, self._phase = self._phase, name
        try:
            yield
        finally:
            self._phase = before
        if name == "required" and self.terminated and before != "required":
            raise Terminated

    def _on_interrupt(self, signum: int, frame: object) -> None:
        if self._phase == "prepare":
            raise KeyboardInterrupt
        self.presses += 1
        if self._phase == "train" and self.presses == 1:
            print(STOPPING, file=sys.stderr, flush=True)
        elif self._phase in ("train", "optional"):
            raise KeyboardInterrupt

    def _on_terminate(self, signum: int, frame: object) -> None:
        self.terminated = True
        if self._phase != "required":
            raise Terminated
