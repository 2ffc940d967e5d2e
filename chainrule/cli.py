"""The command line: ``chainrule derive|generate|regenerate`` (also ``python -m derive``,
``python -m codegen`` and ``python -m codegen.regenerate``).

Exit codes: 0 success, 2 bad input (spec, formula, output path, a time limit passed),
1 internal failure, 130 interrupted (Ctrl-C). Each failure prints one line on stderr and no
traceback; ``--debug`` prints the traceback first (the exit code stays the same).

Only light modules are imported at start; SymPy and the templates load inside :func:`_run`, so
that Ctrl-C at any moment ends in the same one line.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from codegen.writer import OutputError
from derive import __version__
from derive.errors import SpecError, shown

BAD_INPUT, INTERNAL, INTERRUPTED = 2, 1, 130


def derive_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m derive",
                                     description="Print the backpropagation derivation of a spec.")
    _derive_arguments(parser)
    return _run(parser.parse_args(argv), _derive)


def codegen_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen",
                                     description="Generate the NumPy training module of a spec.")
    _generate_arguments(parser)
    return _run(parser.parse_args(argv), _generate)


def regenerate_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.regenerate", description=REGENERATE_HELP)
    _regenerate_arguments(parser)
    return _run(parser.parse_args(argv), _regenerate)


REGENERATE_HELP = "rewrite generated/ from examples/ (in a source checkout)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description="The chain rule, derived by SymPy, as NumPy code.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from chainrule import train

    train.add_arguments(commands.add_parser("train", help="train the network on data; write weights, history, plot"))
    _derive_arguments(commands.add_parser("derive", help="print the derivation as LaTeX or Markdown"))
    _generate_arguments(commands.add_parser("generate", help="write the NumPy training module"))
    _regenerate_arguments(commands.add_parser("regenerate", help=REGENERATE_HELP))
    args = parser.parse_args(argv)
    action = {"derive": _derive, "generate": _generate, "regenerate": _regenerate, "train": train.run}[args.command]
    return _run(args, action)


def above_zero(noun: str) -> Callable[[str], float]:
    """An argparse type: a finite number > 0, or an error saying "expected {noun} > 0"."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"expected {noun} > 0, got {text!r}")
        return value
    return parse


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite an output file not made by chainrule")
    parser.add_argument("--time-limit", type=above_zero("a number of seconds"), metavar="SECONDS",
                        help="give up deriving and printing after this long (default 30)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _derive_arguments(parser: argparse.ArgumentParser) -> None:
    from codegen import DOCUMENT_KINDS, DOCUMENT_SUFFIXES
    from derive.i18n import LANGUAGES

    parser.add_argument("spec", help="the network spec (TOML)")
    suffixes = ", ".join(f"{suffix} → {DOCUMENT_KINDS[kind]}" for suffix, kind in DOCUMENT_SUFFIXES.items())
    parser.add_argument("-o", "--output", help=f"write to this file instead of stdout ({suffixes})")
    parser.add_argument("--format", choices=tuple(DOCUMENT_KINDS),
                        help="tex (default), md, or pdf (with -o; needs pdflatex, or lualatex for --lang ja)")
    parser.add_argument("--lang", choices=LANGUAGES, default="en",
                        help="the document's language: en (default) or ja (Japanese)")
    parser.add_argument("--data", metavar="FILE", help="the worked example's batch: the first rows of a .npz (X, Y) or "
                                                      ".csv (inputs, then targets); default: the spec's [data], "
                                                      "else a seeded batch")
    _common_arguments(parser)


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the network spec (TOML)")
    parser.add_argument("-o", "--output", default="generated", help="folder (or .py file) to write; default generated/")
    _common_arguments(parser)


def _regenerate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _run(args: argparse.Namespace, action: Callable[[argparse.Namespace], None]) -> int:
    try:
        action(args)
    except (SpecError, OutputError) as error:  # a DataError is a SpecError
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}".replace("\n", " "), file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (rerun with --debug for a traceback)"
        message = shown(str(error).replace("\n", " "), 400)
        print(f"internal error: {type(error).__name__}: {message}{hint}", file=sys.stderr)
        return INTERNAL
    return 0


def _load(path: str) -> object:
    from derive import load_spec

    spec = load_spec(path)
    for warning in spec.warnings:
        print(f"warning: {shown(spec.source)}: {warning}", file=sys.stderr)
    return spec


def _derive(args: argparse.Namespace) -> None:
    from chainrule.data import load_batch
    from codegen import document_kind, render_document
    from codegen.writer import check_target, write_atomic
    from derive.bounded import time_budget
    from derive.network import derive_network

    kind = args.format or "tex"
    if args.output:
        kind = document_kind(args.output, args.format)
        check_target(args.output, kind, args.force)  # before the work, not after it
    elif kind == "pdf":
        raise OutputError("a PDF needs an output file: -o FILE.pdf")
    with time_budget(args.time_limit):  # reading, deriving and printing; not writing
        net = derive_network(_load(args.spec))  # type: ignore[arg-type]
        batch = load_batch(args.data, net.spec) if args.data else None
        text = render_document(net, kind, args.lang, batch)
    if args.output:
        target = write_atomic(args.output, text, force=args.force, kind=kind)
        print(f"wrote {shown(target)}", file=sys.stderr)
    else:
        _to_stdout(text)  # type: ignore[arg-type]


def _generate(args: argparse.Namespace) -> None:
    from codegen import prepare_module
    from codegen.writer import write_atomic
    from derive.bounded import time_budget

    with time_budget(args.time_limit):  # reading, deriving and printing; not writing
        target, text = prepare_module(_load(args.spec), args.output, force=args.force)  # type: ignore[arg-type]
    print(f"wrote {shown(write_atomic(target, text, force=args.force, kind='py'))}", file=sys.stderr)


def _regenerate(args: argparse.Namespace) -> None:
    from codegen.regenerate import regenerate

    for path in regenerate():
        print(f"wrote {shown(_relative(path))}", file=sys.stderr)


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _to_stdout(text: str) -> None:
    """The text as UTF-8 (as files are written), whatever the locale; a closed or full stdout is bad output."""
    stream = getattr(sys.stdout, "buffer", None)
    try:
        if stream is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            sys.stdout.flush()
            stream.write(text.encode("utf-8"))
            stream.flush()
    except OSError as error:
        try:  # nothing more can reach stdout; keep Python's exit from complaining about it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise OutputError(f"<stdout>: cannot write ({error.strerror or error})") from None
