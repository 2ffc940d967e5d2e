"""The command line: ``chainrule derive|generate|regenerate`` (also ``python -m derive``
and ``python -m codegen``).

Exit codes: 0 success, 2 bad input (spec, formula, output path), 1 internal failure.
Either prints one line on stderr and no traceback; ``--debug`` prints the traceback first
(the exit code stays the same).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from codegen import generate, render_latex, render_markdown
from codegen.writer import OutputError, write_atomic
from derive import SpecError, __version__, derive_network, load_spec

BAD_INPUT, INTERNAL = 2, 1


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description="The chain rule, derived by SymPy, as NumPy code.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from codegen import train  # the train command lives in codegen/train.py

    train.add_arguments(commands.add_parser("train", help="train the network on data; write weights, history, plot"))
    _derive_arguments(commands.add_parser("derive", help="print the derivation as LaTeX or Markdown"))
    _generate_arguments(commands.add_parser("generate", help="write the NumPy training module"))
    regenerate = commands.add_parser("regenerate", help="rewrite generated/ from examples/")
    regenerate.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    action = {"derive": _derive, "generate": _generate, "regenerate": _regenerate, "train": train.run}[args.command]
    return _run(args, action)


def _derive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the network spec (TOML)")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout (.md → Markdown)")
    parser.add_argument("--format", choices=("tex", "md"), help="tex (default) or md")
    parser.add_argument("--force", action="store_true", help="overwrite an output file not made by chainrule")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the network spec (TOML)")
    parser.add_argument("-o", "--output", default="generated", help="folder (or .py file) to write; default generated/")
    parser.add_argument("--force", action="store_true", help="overwrite an output file not made by chainrule")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _run(args: argparse.Namespace, action: object) -> int:
    try:
        action(args)  # type: ignore[operator]
    except (SpecError, OutputError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        return INTERNAL
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (rerun with --debug for a traceback)"
        print(f"internal error: {type(error).__name__}: {error}{hint}".replace("\n", " "), file=sys.stderr)
        return INTERNAL
    return 0


def _load(path: str) -> object:
    spec = load_spec(path)
    for warning in spec.warnings:
        print(f"warning: {spec.source}: {warning}", file=sys.stderr)
    return spec


def _derive(args: argparse.Namespace) -> None:
    net = derive_network(_load(args.spec))  # type: ignore[arg-type]
    markdown = args.format == "md" or (args.format is None and args.output and args.output.endswith(".md"))
    text = render_markdown(net) if markdown else render_latex(net)
    if args.output:
        write_atomic(args.output, text, force=args.force)
    else:
        sys.stdout.write(text)


def _generate(args: argparse.Namespace) -> None:
    target = generate(_load(args.spec), args.output, force=args.force)  # type: ignore[arg-type]
    print(f"wrote {target}", file=sys.stderr)


def _regenerate(args: argparse.Namespace) -> None:
    from codegen.regenerate import regenerate

    for path in regenerate():
        print(f"wrote {path}", file=sys.stderr)
