"""Errors for bad input: one line that names the file, the field path and what was expected."""

from __future__ import annotations

import reprlib

SHOWN_CHARACTERS = 240  # of a path, a key or a value quoted in a message

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4


def shown(text: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` (a path, a key) for a one-line message: its middle elided past ``limit`` characters,
    then every character that is not printable written as an escape."""
    text = str(text)
    if len(text) > limit:
        text = f"{text[:limit * 2 // 3]}…{text[-(limit // 3):]}"
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def shown_value(value: object) -> str:
    """``repr(value)`` for a message, short whatever the value's size or nesting."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    try:
        return shown(_REPR.repr(value))
    except Exception:  # a value whose repr fails
        return f"a {type(value).__name__}"


class SpecError(ValueError):
    """A spec (or a formula in it) that cannot be accepted.

    ``str(error)`` is one line: ``<source>: <field>: <message>``, e.g.
    ``examples/xor.toml: layers[2].activation: unknown activation 'sigmod' (did you mean 'sigmoid'?)``.
    """

    def __init__(self, field: str, message: str, source: str = "<spec>") -> None:
        self.field = field
        self.message = message
        self.source = source
        super().__init__(self.line())

    def line(self) -> str:
        where = f"{shown(self.source)}: {self.field}" if self.field else shown(self.source)
        return f"{where}: {self.message}".replace("\n", " ")

    def with_source(self, source: str) -> SpecError:
        """The same error attributed to ``source`` (a file name)."""
        return SpecError(self.field, self.message, source)
