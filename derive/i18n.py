"""The document's language: gettext messages, English by default.

Every sentence of the derivation is written ``_("…")`` (found by Babel's extractor) and
looked up in the catalog of the language chosen with :func:`language`; English is the
source language and needs no catalog.
"""

from __future__ import annotations

import contextvars
import gettext
from collections.abc import Iterator
from contextlib import contextmanager

LANGUAGES = ("en",)
_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")


def translations(code: str) -> gettext.NullTranslations:
    """The catalog of language ``code`` (English: the messages as written)."""
    if code not in LANGUAGES:
        raise ValueError(f"language: expected one of {', '.join(LANGUAGES)}, got {code!r}")
    return gettext.NullTranslations()


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, count)


def current() -> str:
    return _current.get()


@contextmanager
def language(code: str) -> Iterator[None]:
    """Write the messages of the block in language ``code``."""
    translations(code)
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)
