"""Reading a spec file without trusting it: bounded size, named encoding problems, and TOML that
cannot make the reader recurse or run for minutes.

* a file: a FIFO, a socket or a folder is refused without waiting on it (a FIFO no one writes
  to would block forever); a character device such as ``/dev/zero`` is read like a file;
* at most ``MAX_SPEC_BYTES`` are read (``/dev/zero`` is refused after them);
* UTF-8, a leading byte order mark skipped; another encoding named with the line of its first
  foreign byte;
* dotted keys of at most ``MAX_KEY_PARTS`` parts, checked in linear time before ``tomllib``
  reads them (it takes time that grows with the square of their length);
* tables and arrays nested at most ``MAX_NESTING`` deep, checked without recursion (for a dict
  given to the API too), and a ``RecursionError`` inside ``tomllib`` reported as such.

Every refusal is a :class:`~derive.errors.SpecError`.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from derive.errors import SpecError, shown

MAX_SPEC_BYTES = 1_000_000
NOT_FILES = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder",
             stat.S_IFBLK: "a block device"}
MAX_NESTING = 16  # tables and arrays inside each other (a spec needs 3)
MAX_KEY_PARTS = 16  # parts of one dotted key (a spec needs 2)

# Each quoted string (of up to 100 characters) or bare key becomes one ``k``; bounded so that
# the substitution is linear in the text, whatever the quotes and backslashes.
_TOKENS = re.compile(r'(?<!\\)"(?:[^"\\\n]|\\.){0,100}+"|\'[^\'\n]{0,100}+\'|[A-Za-z0-9_-]+')
_CHAIN = re.compile(r"k(?:[ \t]*\.[ \t]*k){" + str(MAX_KEY_PARTS) + "}")


def read_text(path: str | Path) -> str:
    """The text of the spec file at ``path``."""
    source = str(path)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; then it is refused
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(descriptor).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):  # a device such as /dev/zero is read as a file
                raise SpecError("", f"is {NOT_FILES.get(stat.S_IFMT(mode), 'not a file')}, not a regular file",
                                source)
            os.set_blocking(descriptor, True)
            data = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("", "no such file", source) from None
    except OSError as error:
        raise SpecError("", f"cannot read the file ({error.strerror or error.__class__.__name__})", source) from None
    _check_size(len(data), source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise SpecError("", f"not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}); "
                            "save the spec as UTF-8", source) from None


def read_toml(text: str, source: str) -> dict[str, Any]:
    """The TOML document in ``text``, within the limits above."""
    _check_size(len(text), source)
    text = text.removeprefix("\ufeff")  # a byte order mark, as some editors write
    if _CHAIN.search(_TOKENS.sub("k", text)):
        raise SpecError("", f"a dotted key of more than {MAX_KEY_PARTS} parts; a spec's keys have at most 2",
                        source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError("", f"TOML syntax error: {error}", source) from None
    except (RecursionError, MemoryError):
        raise SpecError("", f"TOML nested too deeply to read; a spec nests at most {MAX_NESTING} levels",
                        source) from None


def check_nesting(data: Any) -> None:
    """Refuse tables and arrays nested deeper than ``MAX_NESTING``, without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_NESTING:
            raise SpecError(path, f"nested more than {MAX_NESTING} levels deep; a spec nests at most 3")
        if isinstance(value, dict):
            stack.extend((item, f"{path}.{shown(key, 40)}" if path else shown(key, 40), depth + 1)
                         for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def _check_size(size: int, source: str) -> None:
    if size > MAX_SPEC_BYTES:
        raise SpecError("", f"larger than {MAX_SPEC_BYTES:,} bytes; a spec is a few lines of TOML", source)
