"""How wide a piece of LaTeX math sets, estimated, so that long equations are broken before they
overflow the line.

The estimate walks the LaTeX the printer made and adds up widths in ems of the 11 pt math font:
letters and digits about half an em, binary operators and relations with the spaces TeX puts
around them, fractions as wide as their wider part, sub- and superscripts at 70 %, display sums
as wide as their limits. It errs on the wide side; the compile tests (pdflatex, no overfull box)
check that it errs enough.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)

LETTER, DIGIT, SCRIPT = 0.55, 0.52, 0.72
_COMMANDS = {
    # binary operators and relations, with TeX's spacing around them
    "+": 1.25, "-": 1.25, "=": 1.4, "<": 1.4, ">": 1.4, r"\cdot": 0.8, r"\odot": 1.25, r"\times": 1.25,
    r"\approx": 1.4, r"\equiv": 1.4, r"\le": 1.4, r"\ge": 1.4, r"\ne": 1.4, r"\in": 1.2, r"\leftarrow": 1.6,
    r"\rightarrow": 1.6, r"\to": 1.6, r"\circ": 1.0,
    # delimiters and punctuation
    "(": 0.42, ")": 0.42, "[": 0.32, "]": 0.32, "|": 0.3, ",": 0.45, ";": 0.45, ":": 0.5, "!": 0.3, "'": 0.3,
    ".": 0.3, "/": 0.52,
    r"\{": 0.52, r"\}": 0.52, r"\lVert": 0.55, r"\rVert": 0.55, r"\vert": 0.3, r"\mid": 0.6,
    # spaces
    r"\,": 0.17, r"\:": 0.23, r"\;": 0.28, r"\!": -0.17, r"\quad": 1.0, r"\qquad": 2.0, "~": 0.35, r"\ ": 0.35,
    # symbols
    r"\partial": 0.6, r"\ell": 0.45, r"\infty": 1.0, r"\dots": 1.3, r"\ldots": 1.3, r"\cdots": 1.3,
    r"\nabla": 0.85, r"\Delta": 0.85, r"\prime": 0.3, r"\mathbf": 0.0, r"\tilde": 0.0, r"\hat": 0.0,
    r"\bar": 0.0,
}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota", "kappa",
          "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
          "omega", "Gamma", "Lambda", "Sigma", "Phi", "Psi", "Omega", "Theta", "Pi"}
_NAMED = {"log", "exp", "tanh", "sinh", "cosh", "sin", "cos", "max", "min", "erf", "sign", "atan", "operatorname"}
_SKIP = {r"\left", r"\right", r"\displaystyle", r"\limits", r"\nolimits", r"\Bigl", r"\Bigr", r"\bigl", r"\bigr",
         r"\big", r"\Big", r"\mathsf", r"\mathrm", r"\mathit", r"\boldsymbol"}


def width(tex: str) -> float:
    """The estimated width of display math ``tex`` in ems."""
    tokens = _TOKEN.findall(tex)
    total, _ = _group(tokens, 0, scale=1.0, until=None)
    return total


def _group(tokens: list[str], index: int, scale: float, until: str | None) -> tuple[float, int]:
    """Width of tokens from ``index`` to the closing ``until`` (or the end), and the index after it."""
    total = 0.0
    while index < len(tokens):
        token = tokens[index]
        if token == until:
            return total, index + 1
        added, index = _item(tokens, index, scale)
        total += added
    return total, index


def _argument(tokens: list[str], index: int, scale: float) -> tuple[float, int]:
    """Width of one argument: a {group} or a single token."""
    while index < len(tokens) and tokens[index] == " ":
        index += 1
    if index >= len(tokens):
        return 0.0, index
    if tokens[index] == "{":
        return _group(tokens, index + 1, scale, "}")
    return _item(tokens, index, scale)


def _item(tokens: list[str], index: int, scale: float) -> tuple[float, int]:
    token = tokens[index]
    if token in (" ", "&", "\n") or token == "\\\\":
        return 0.0, index + 1
    if token == "{":
        return _group(tokens, index + 1, scale, "}")
    if token in ("^", "_"):
        return _scripts(tokens, index, scale)
    if token == r"\begin":
        return _environment(tokens, index, scale)
    if token == r"\frac":
        top, index = _argument(tokens, index + 1, scale)
        bottom, index = _argument(tokens, index, scale)
        return max(top, bottom) + 0.3 * scale, index
    if token == r"\sqrt":
        inner, index = _argument(tokens, index + 1, scale)
        return inner + 1.0 * scale, index
    if token in (r"\sum", r"\prod"):
        return _big_operator(tokens, index + 1, scale)
    if token in (r"\text", r"\textrm", r"\mbox"):
        start = index + 1
        _, end = _argument(tokens, start, scale)
        letters = sum(1 for t in tokens[start:end] if t not in "{}")
        return 0.5 * letters * scale, end
    if token == r"\operatorname":
        start = index + 1
        _, end = _argument(tokens, start, scale)
        letters = sum(1 for t in tokens[start:end] if t not in "{}")
        return (0.5 * letters + 0.17) * scale, end
    if token in _SKIP:
        return 0.0, index + 1
    if token in _COMMANDS:
        return _COMMANDS[token] * scale, index + 1
    if token.startswith("\\"):
        name = token[1:]
        if name in _GREEK:
            return 0.62 * scale, index + 1
        if name in _NAMED:
            return (0.5 * len(name) + 0.17) * scale, index + 1
        return 0.8 * scale, index + 1
    if token.isdigit():
        return DIGIT * scale, index + 1
    return LETTER * scale, index + 1


def _scripts(tokens: list[str], index: int, scale: float) -> tuple[float, int]:
    """A superscript and/or subscript: as wide as the wider of the two, at script size."""
    widest = 0.0
    while index < len(tokens) and tokens[index] in ("^", "_"):
        size, index = _argument(tokens, index + 1, scale * SCRIPT)
        widest = max(widest, size)
    return widest, index


def _big_operator(tokens: list[str], index: int, scale: float) -> tuple[float, int]:
    """A display-style Σ: the symbol or its limits below and above, whichever is wider, and a thin space."""
    widest = 0.0
    while index < len(tokens) and tokens[index] in ("^", "_"):
        size, index = _argument(tokens, index + 1, scale * SCRIPT)
        widest = max(widest, size)
    return max(1.45 * scale, widest) + 0.2 * scale, index


def _environment(tokens: list[str], index: int, scale: float) -> tuple[float, int]:
    """A matrix environment: each column as wide as its widest cell, the space between them, and its delimiters."""
    depth, end = 0, index
    while end < len(tokens):
        if tokens[end] == r"\begin":
            depth += 1
        elif tokens[end] == r"\end":
            depth -= 1
            if depth == 0:
                break
        end += 1
    _, body_start = _argument(tokens, index + 1, scale)  # the environment's name
    body = tokens[body_start:end]
    _, after = _argument(tokens, end + 1, scale)
    rows = [[_group(cell, 0, scale, None)[0] for cell in _split_tokens(row, "&")]
            for row in _split_tokens(body, "\\\\")]
    columns = max(len(row) for row in rows)
    widths = [max(row[column] for row in rows if column < len(row)) for column in range(columns)]
    return sum(widths) + 1.0 * scale * (columns - 1) + 1.2 * scale, after  # each column as wide as its widest cell


def _split_tokens(tokens: list[str], separator: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        depth += token == "{"
        depth -= token == "}"
        if token == separator and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts
