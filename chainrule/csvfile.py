"""A CSV file of numbers under a header row, read in bounded memory with one-line errors.

The file is read in chunks and cut into lines here, so that every problem is named by its line
whatever the file holds: a byte that is not UTF-8 (anywhere, not only in the first block), a NUL
byte (a binary or sparse file), a line longer than ``MAX_LINE_CHARACTERS`` (a file of 2 GB with
no newline is refused after that many, not read whole). Blank lines are skipped; the rows keep
the number of the line they came from.

The header names the columns: a leading ``#`` and the spaces after it (as ``numpy.savetxt``
writes a header) are not part of the first name; names are stripped; a name missing or repeated
is an error, found in time linear in the number of columns. The numbers are parsed by NumPy's
``loadtxt``; should it fail, the lines are searched for the first field that is not a number.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from chainrule.errors import DataError

CHUNK_BYTES = 1 << 20
MAX_LINE_CHARACTERS = 64 << 20  # a row of 10⁶ numbers of 60 characters fits
SHOWN_FIELD = 40  # characters of a field quoted in a message


def _lines(file: Path, source: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without its line break) of every line that is not blank."""
    number = 0
    buffer = bytearray()  # the line being read, incomplete
    try:
        with file.open("rb") as handle:
            while True:
                chunk = handle.read(CHUNK_BYTES)
                buffer += chunk
                end = buffer.rfind(b"\n") if chunk else len(buffer)
                if end >= 0:
                    complete = bytes(buffer[:end])
                    del buffer[:end + 1]
                    for raw in complete.split(b"\n") if complete or chunk else ():
                        number += 1
                        text = _decoded(raw, number, source)
                        if text.strip():
                            yield number, text
                if b"\0" in chunk and b"\0" in buffer:
                    _decoded(bytes(buffer), number + 1, source)  # says where
                if len(buffer) > 4 * MAX_LINE_CHARACTERS:
                    raise DataError(f"line {number + 1}", f"longer than {MAX_LINE_CHARACTERS:,} characters; is this "
                                                          "a CSV file?", source)
                if not chunk:
                    return
    except OSError as error:
        raise DataError("", f"cannot read the file ({error.strerror or type(error).__name__})", source) from None


def _decoded(raw: bytes, number: int, source: str) -> str:
    if number == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark
    raw = raw.removesuffix(b"\r")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise DataError(f"line {number}", f"a NUL byte at column {nul + 1}; is this a text file?", source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"line {number}", f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column "
                                          f"{error.start + 1}); save the file as UTF-8", source) from None
    if len(text) > MAX_LINE_CHARACTERS:
        raise DataError(f"line {number}", f"longer than {MAX_LINE_CHARACTERS:,} characters; is this a CSV file?",
                        source)
    return text


def _fields(text: str, where: str, source: str) -> list[str]:
    try:
        return next(csv.reader([text]))
    except csv.Error as error:
        raise DataError(where, f"not a CSV line ({error})", source) from None


def header_of(file: Path, source: str) -> list[str]:
    """The column names on the file's first line that is not blank; a name missing or repeated is an error."""
    first = next(_lines(file, source), None)
    if first is None:
        raise DataError("", "empty, expected a header row naming the columns", source)
    number, text = first
    if text.lstrip().startswith("#"):  # numpy.savetxt's header
        text = text.lstrip()[1:]
    names = [name.strip() for name in _fields(text, f"line {number}", source)]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            raise DataError(f"line {number}", f"column {index + 1} has no name", source)
        if name in seen:
            raise DataError(f"line {number}", f"column {_quoted(name)} appears twice (columns {seen[name] + 1} and "
                                              f"{index + 1})", source)
        seen[name] = index
    return names


def read_values(file: Path, source: str, header: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(values (rows, columns) as float64, the line number of each row) below the header."""
    lines: list[int] = []

    def rows() -> Iterator[str]:
        body = _lines(file, source)
        next(body, None)  # the header
        for number, text in body:
            lines.append(number)
            yield text

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": said below, in one line
            values = np.loadtxt(rows(), delimiter=",", dtype=np.float64, ndmin=2, comments=None, quotechar='"')
    except ValueError:
        _find_bad_value(file, source, header)
        raise DataError("", "cannot read the numbers", source) from None  # pragma: no cover - found above
    except MemoryError:
        raise DataError("", f"too large to read into memory ({file.stat().st_size:,} bytes)", source) from None
    if values.shape[0] == 0:
        raise DataError("", "no data rows below the header", source)
    if values.shape[1] != len(header):
        raise DataError(f"row 1 (line {lines[0]})", f"{values.shape[1]} fields, the header names {len(header)}",
                        source)
    line_numbers = np.asarray(lines, dtype=np.int64)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise DataError(f"row {row + 1} (line {line_numbers[row]}), column {_quoted(header[column])}",
                        f"{values[row, column]} is not a finite number", source)
    return values, line_numbers


def _find_bad_value(file: Path, source: str, header: list[str]) -> None:
    body = _lines(file, source)
    next(body, None)
    for row, (number, text) in enumerate(body, start=1):
        where = f"row {row} (line {number})"
        fields = _fields(text, where, source)
        if len(fields) != len(header):
            raise DataError(where, f"{len(fields)} fields, the header names {len(header)}", source)
        for name, field in zip(header, fields, strict=True):
            try:
                number_ = float(field)
            except ValueError:
                shown = repr(field) if len(field) <= SHOWN_FIELD else repr(field[:SHOWN_FIELD]) + "…"
                raise DataError(f"{where}, column {_quoted(name)}",
                                f"{shown} is not a number" if field.strip() else "empty", source) from None
            if not math.isfinite(number_):
                raise DataError(f"{where}, column {_quoted(name)}", f"{field.strip()!r} is not a finite number",
                                source)


def _quoted(name: str) -> str:
    from derive.errors import shown

    return shown(repr(name), 60)
