"""Errors for bad input: one line that names the file, the field path and what was expected."""

from __future__ import annotations


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
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}".replace("\n", " ")

    def with_source(self, source: str) -> SpecError:
        """The same error attributed to ``source`` (a file name)."""
        return SpecError(self.field, self.message, source)
