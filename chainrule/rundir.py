"""The run folder of ``chainrule train``, written all at once: built in a temporary sibling, then renamed.

* :func:`claim` checks RUN_DIR before anything is written: absent, empty, or a folder of ours is
  fine; a file, or a folder holding anything else, is refused unless ``force``.
* A folder is ours when it holds a ``run.json`` of ``chainrule train``, the marker file ``MARKER``
  (a partial folder holds it from its first file on), or only the files a run writes, the module
  and the document starting with chainrule's header (a partial run of an earlier version).
* :class:`RunFolder` builds the run in ``.chainrule-partial-<pid>-<random>`` beside RUN_DIR
  (short, whatever the length of RUN_DIR's name) and :meth:`RunFolder.commit` renames it into
  place, replacing a folder that holds only a run's files; where RUN_DIR also holds other files
  (with ``force``, or added to a run folder later) those stay, and the run's files are moved in
  one by one, the previous run's removed.
  :meth:`RunFolder.abandon` removes it, and the folders it created on the way. A partial sibling
  whose process is gone (SIGKILL, a power cut) is removed by the next run that looks.

Every failure is an :class:`~codegen.writer.OutputError`: one line naming the path.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from codegen.writer import OutputError, generated_by_us
from derive.errors import shown

MARKER = ".chainrule-train"  # in every partial run folder: {"tool": "chainrule train", "pid": …}
PARTIAL = ".chainrule-partial-"  # the temporary sibling's name: PARTIAL, the pid, "-" and random hex
_PARTIAL_NAME = re.compile(re.escape(PARTIAL) + r"([0-9]+)-(?:old-)?[0-9a-f]{8}")
TOOL = "chainrule train"


def run_files(name: str) -> dict[str, str | None]:
    """The files a run of module ``name`` writes, each with the header kind it starts with (None: no header)."""
    return {f"{name}.py": "py", "derivation.md": "md", "weights.npz": None, "history.csv": None, "loss.png": None,
            "run.json": None, MARKER: None}


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def is_ours(folder: Path, name: str) -> bool:
    """Whether ``folder`` holds only what ``chainrule train`` wrote there (see the module's docstring)."""
    if (folder / MARKER).is_file():
        return True
    try:
        if json.loads((folder / "run.json").read_text(encoding="utf-8")).get("tool") == TOOL:
            return True
    except (OSError, ValueError, AttributeError):
        pass
    known = run_files(name)
    entries = list(folder.iterdir())
    return bool(entries) and all(entry.name in known and entry.is_file() and not entry.is_symlink()
                                 and (known[entry.name] is None or generated_by_us(entry, known[entry.name]))
                                 for entry in entries)


def claim(folder: Path, name: str, force: bool) -> None:
    """Refuse ``folder`` as RUN_DIR (``OutputError``) unless it is absent, empty, ours, or ``force``."""
    try:
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise OutputError(f"{shown(folder)}: exists and is not a folder")
        remove_stale_partials(folder.parent)
        if not folder.is_dir() or force or not any(folder.iterdir()) or is_ours(folder, name):
            return
    except OutputError:
        raise
    except OSError as error:
        raise OutputError(f"{shown(folder)}: cannot use it as the run folder ({_reason(error)})") from None
    raise OutputError(f"{shown(folder)}: holds files not written by chainrule train; use --force or another -o")


def remove_stale_partials(parent: Path) -> None:
    """Remove partial run folders in ``parent`` whose process has ended."""
    try:
        entries = [entry for entry in parent.iterdir() if entry.name.startswith(PARTIAL) and entry.is_dir()]
    except OSError:
        return
    for entry in entries:
        match = _PARTIAL_NAME.fullmatch(entry.name)
        if match is not None and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunFolder:
    """The run being written: files go to :attr:`path` (the partial sibling) until :meth:`commit`."""

    def __init__(self, target: Path, name: str, force: bool) -> None:
        self.target, self.name, self.force = target, name, force
        self.created: list[Path] = []  # folders made on the way to the target, outermost first
        parent = target.parent
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self.created.append(folder)
            self.path = target.parent / f"{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
            self.path.mkdir()
            (self.path / MARKER).write_text(json.dumps({"tool": TOOL, "pid": os.getpid(), "target": str(target)})
                                            + "\n", encoding="utf-8")
        except OSError as error:
            self.abandon()
            where = error.filename if isinstance(error.filename, str) else target.parent
            raise OutputError(f"{shown(where)}: cannot create the run folder ({_reason(error)})") from None

    def file(self, name: str) -> Path:
        """Where the run's file ``name`` is written meanwhile."""
        return self.path / name

    def commit(self) -> list[str]:
        """Put the run in place of the target; the names of the files it holds."""
        names = sorted(entry.name for entry in self.path.iterdir() if entry.name != MARKER)
        try:
            (self.path / MARKER).unlink()  # run.json says whose the folder is from now on
            if not self.target.exists():
                os.rename(self.path, self.target)
            elif {entry.name for entry in self.target.iterdir()} <= set(run_files(self.name)):
                old = self.target.parent / f"{PARTIAL}{os.getpid()}-old-{secrets.token_hex(4)}"
                os.rename(self.target, old)  # a folder of our files only: swapped whole
                try:
                    os.rename(self.path, self.target)
                except OSError:
                    os.rename(old, self.target)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:  # others' files stay; ours are replaced one by one, and those of the last run removed
                for name in set(run_files(self.name)) - set(names):
                    (self.target / name).unlink(missing_ok=True)
                for entry in self.path.iterdir():
                    os.replace(entry, self.target / entry.name)
                shutil.rmtree(self.path, ignore_errors=True)
        except OSError as error:
            self.abandon()
            if error.errno == errno.ENOTEMPTY:  # pragma: no cover - a race with another process
                raise OutputError(f"{shown(self.target)}: changed while the run was written") from None
            raise OutputError(f"{shown(self.target)}: cannot put the run folder in place ({_reason(error)})") from None
        self.created.clear()
        return names

    def abandon(self) -> None:
        """Remove the partial folder and the folders made for it; idempotent."""
        path = getattr(self, "path", None)
        if path is not None and path.exists():
            shutil.rmtree(path, ignore_errors=True)
        for folder in reversed(self.created):
            try:
                folder.rmdir()
            except OSError:
                break
        self.created.clear()
