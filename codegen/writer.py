"""Safe output: a temporary file in the same folder, then a rename.

* All or nothing: a failure midway leaves the previous file intact and no partial file; SIGINT
  and SIGTERM wait until the file is complete, so no temporary file is left behind.
* Only our own files: an existing file is replaced only when its first line is exactly the
  header chainrule writes for that kind of output (:mod:`codegen.headers`), unless ``force``;
  a PDF, which has no comment line, when it names chainrule as its Creator.
  Anything that is not a regular file (a folder, FIFO, device, socket) is never replaced, with
  or without ``force``; a symbolic link is followed to the file it names.
* Modes as for any new file: a new file gets 0666 less the umask; a replaced file keeps its mode.

Every failure is an :class:`OutputError`: one line naming the path.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from derive.errors import shown

HEAD_BYTES = 4096  # a header line is far shorter
KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


class OutputError(OSError):
    """An output that cannot be written; ``str`` is one line naming the path."""


def first_line(path: Path) -> str:
    """The first line of a regular file (at most ``HEAD_BYTES``), or "" when there is none."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    line, newline, _ = head.partition(b"\n")
    return line.decode("utf-8", errors="replace") if newline else ""


PDF_CREATOR = b"/Creator (chainrule "  # a PDF's Info dictionary, written near its end by our preamble
PDF_TAIL_BYTES = 65536


def generated_by_us(path: Path, kind: str | None) -> bool:
    """Whether the regular file at ``path`` starts with chainrule's header for ``kind`` (for a PDF,
    which has no comment line of its own: starts with ``%PDF-`` and names chainrule as its Creator)."""
    from codegen.headers import is_header

    if kind == "pdf":
        with path.open("rb") as handle:
            if not handle.read(5) == b"%PDF-":
                return False
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - PDF_TAIL_BYTES))
            return PDF_CREATOR in handle.read()
    return kind is not None and is_header(kind, first_line(path))


def check_target(path: str | Path, kind: str | None, force: bool = False) -> os.stat_result | None:
    """Refuse ``path`` as an output (``OutputError``) unless it is absent, or a regular file that
    starts with chainrule's header for ``kind`` (any regular file with ``force``); its status if any."""
    given = Path(path)
    try:
        target = Path(os.path.realpath(given))
        existing = _existing(target)
    except OutputError:
        raise
    except NotADirectoryError as error:  # a file where a folder of the path should be
        raise OutputError(f"{shown(given.parent)}: cannot create the folder ({_reason(error)})") from None
    except OSError as error:
        raise OutputError(f"{shown(given)}: {_reason(error)}") from None
    if existing is not None and not force:
        try:
            ours = generated_by_us(target, kind)
        except OSError as error:
            raise OutputError(f"{shown(given)}: cannot read it to check who wrote it ({_reason(error)})") from None
        if not ours:
            raise OutputError(f"{shown(given)}: exists and its first line is not chainrule's header; "
                              "use --force to overwrite it")
    return existing


def write_atomic(path: str | Path, text: str | bytes, force: bool = False, kind: str | None = None) -> Path:
    """Write ``text`` to ``path`` all at once, or not at all.

    ``kind`` (py, tex, md) names the header an existing file must start with to be replaced;
    by default, the kind whose header ``text`` starts with.
    """
    from codegen.headers import kind_of

    if kind is None:
        kind = kind_of(text if isinstance(text, str) else text[:HEAD_BYTES].decode("utf-8", errors="replace"))
    given = Path(path)
    existing = check_target(given, kind, force)
    target = Path(os.path.realpath(given))
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{shown(given.parent)}: cannot create the folder ({_reason(error)})") from None
    with _signals_held():
        _replace(target, data, mode, given)
    return given


def _existing(target: Path) -> os.stat_result | None:
    """The file's status, None when there is none; refuses anything but a regular file."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        what = KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise OutputError(f"{shown(target)}: is {what}, not a regular file; chainrule replaces only regular files")
    return status


def _replace(target: Path, data: bytes, mode: int, given: Path) -> None:
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"{shown(given)}: cannot write it ({_reason(error)})") from None
        raise


@contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM until the file is complete (or removed), then deliver them as before.

    (Blocking them in this thread would not do: a process-wide signal then goes to another
    thread, such as a BLAS worker, and SIGTERM's default action ends the process there.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        for signum in received:
            signal.raise_signal(signum)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
