"""The one Jinja2 environment; templates are named after what they produce."""

from __future__ import annotations

from functools import lru_cache

import jinja2


def _pyrepr(value: object) -> str:
    return repr(value)


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
    "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_TEX_UNICODE = {
    "⁽ˡ⁻¹⁾": "^{(l-1)}", "⁽ˡ⁺¹⁾": "^{(l+1)}", "⁽ˡ⁾": "^{(l)}", "⁽ᴸ⁾": "^{(L)}", "ᵀ": "^{T}",
    "∂": r"\partial ", "δ": r"\delta ", "⊙": r"\odot ", "Σ": r"\Sigma ", "σ": r"\sigma ", "η": r"\eta ",
    "μ": r"\mu ", "ε": r"\epsilon ", "β": r"\beta ", "ℓ": r"\ell ", "≤": r"\leq ", "→": r"\rightarrow ",
    "′": "'", "₁": "_1", "₂": "_2", "ᵢ": "_i", "²": "^2", "−": "-", "·": r"\cdot ",
}


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


def tex_text(text: str) -> str:
    """Plain words as LaTeX text: specials escaped, math characters set in math mode."""
    out = []
    index = 0
    while index < len(text):
        for token, math in _TEX_UNICODE.items():
            if text.startswith(token, index):
                out.append(f"${math.strip()}$")
                index += len(token)
                break
        else:
            char = text[index]
            out.append(_TEX_SPECIAL.get(char, "\\ldots{}" if char == "…" else char))
            index += 1
    return "".join(out).replace("$$", "")


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
    env.filters["tex_text"] = tex_text
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
