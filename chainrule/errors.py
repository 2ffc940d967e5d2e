"""The data's errors: one line naming the file and the place (array, column, row), exit 2."""

from __future__ import annotations

from derive.errors import SpecError


class DataError(SpecError):
    """Training data that cannot be used: ``str`` is one line naming the file and the place."""
