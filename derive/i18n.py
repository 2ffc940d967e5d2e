"""The document's language: gettext messages, English by default.

Every sentence of the derivation is written ``_("…")`` or ``ngettext(…)`` and looked up in the
catalog of the language chosen with :func:`language`. English is the source language and needs no
catalog; the others are gettext ``.po`` files in ``derive/locale/<code>/LC_MESSAGES/chainrule.po``,
managed with Babel (``pybabel extract`` / ``update``, see the README) and read by Babel at run time.
A message's ``{placeholders}`` are formulas (see :func:`derive.steps.say`); a translation moves
them, never drops one.
"""

from __future__ import annotations

import contextvars
import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "ja")
DOMAIN = "chainrule"
LOCALE = Path(__file__).resolve().parent / "locale"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalog of language ``code`` (English: the messages as written)."""
    if code not in LANGUAGES:
        raise ValueError(f"language: expected one of {', '.join(LANGUAGES)}, got {code!r}")
    if code == "en":
        return gettext.NullTranslations()
    with (LOCALE / code / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


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
