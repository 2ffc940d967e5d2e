"""The one Jinja2 environment; templates are named after what they produce."""

from __future__ import annotations

from functools import lru_cache

import jinja2


def _pyrepr(value: object) -> str:
    return repr(value)


LABEL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._/+:=@,()-~")


def source_label(source: str) -> str:
    """The spec's path as it may appear in a docstring, a LaTeX comment or an HTML comment.

    Every character outside a small safe set is written as a ``\\xNN`` / ``\\uNNNN`` escape,
    so no quote, backslash, newline, ``%`` or ``>`` of a file name can end the text it sits in.
    """
    def escaped(char: str) -> str:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return "".join(char if char in LABEL_SAFE else escaped(char) for char in source)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = _pyrepr
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
