"""Every refusal of a bad spec, through the command line: exit 2, one stderr line naming the file and
the field, nothing written. Internal failures exit 1; unwise but legal pairs warn and still write."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy

import codegen
from chainrule.cli import codegen_main, derive_main, main
from tests.conftest import ROOT

BASE = textwrap.dedent("""\
    name = "net"
    inputs = 3
    loss = "sse"
    reduction = "sum"

    [[layers]]
    units = 4
    activation = "tanh"

    [[layers]]
    units = 2
    activation = "sigmoid"

    [train]
    optimizer = "gd"
    learning_rate = 0.5
    epochs = 10
""")
HIDDEN = 'activation = "tanh"'
OUTPUT = 'activation = "sigmoid"'


def edit(old: str, new: str) -> str:
    assert BASE.count(old) >= 1, old
    return BASE.replace(old, new, 1)


def generate(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
             *options: str) -> tuple[int, list[str], Path, Path]:
    """Run ``python -m codegen SPEC -o OUT`` in-process: (exit code, stderr lines, spec, out)."""
    spec, out = tmp_path / "net.toml", tmp_path / "out"
    spec.write_text(text, encoding="utf-8")
    code = codegen_main([str(spec), "-o", str(out), *options])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err.splitlines(), spec, out


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str) -> str:
    """Assert the bad-input contract and return the message after ``file: field: ``."""
    code, lines, spec, out = generate(tmp_path, capsys, text)
    assert code == 2
    assert len(lines) == 1, lines
    prefix = f"error: {spec}: {field}: " if field else f"error: {spec}: "
    assert lines[0].startswith(prefix), lines[0]
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["net.toml"]
    return lines[0][len(prefix):]


# --- unknown keys -------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "guess"), [
    ("inputs = 3", "inputs = 3\nreductoin = \"mean\"", "reductoin", "reduction"),
    ("units = 4", "unit = 4", "layers[0].unit", "units"),
    ('activation = "sigmoid"', 'activaton = "sigmoid"', "layers[1].activaton", "activation"),
    ("epochs = 10", "epoch = 10", "train.epoch", "epochs"),
    ("learning_rate = 0.5", "learningrate = 0.5", "train.learningrate", "learning_rate"),
])
def test_unknown_key_suggests_the_close_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
                                            field: str, guess: str) -> None:
    assert refused(tmp_path, capsys, edit(old, new), field) == f"unknown key (did you mean '{guess}'?)"


def test_unknown_key_without_a_close_one_lists_the_known_keys(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit("inputs = 3", 'inputs = 3\ncolour = "red"'), "colour")
    assert message == "unknown key (known keys: name, inputs, loss, reduction, dtype, layers, train, data)"


# --- wrong types ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "expected"), [
    ("inputs = 3", 'inputs = "3"', "inputs", "expected an integer, got a string '3'"),
    ("inputs = 3", "inputs = 3.0", "inputs", "expected an integer, got a number 3.0"),
    ("units = 4", "units = true", "layers[0].units", "expected an integer, got a boolean True"),
    ("units = 2", "units = [2]", "layers[1].units", "expected an integer, got an array [2]"),
    ('name = "net"', "name = 7", "name", "expected a string, got an integer"),
    ('loss = "sse"', 'loss = ["sse"]', "loss", "expected a loss name or a formula in a and y, got an array"),
    (HIDDEN, "activation = 1", "layers[0].activation", "expected an activation name or a formula in z, got an integer"),
    ('reduction = "sum"', "reduction = 1", "reduction", "expected one of sum, mean, got an integer"),
    ("learning_rate = 0.5", 'learning_rate = "0.5"', "train.learning_rate", "expected a number, got a string '0.5'"),
    ("epochs = 10", "epochs = 1e3", "train.epochs", "expected an integer, got a number 1000.0"),
    ('optimizer = "gd"', "optimizer = {}", "train.optimizer", "expected one of gd, sgd, momentum, adam, got a table"),
])
def test_wrong_type_names_what_was_expected_and_got(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str,
                                                    new: str, field: str, expected: str) -> None:
    assert refused(tmp_path, capsys, edit(old, new), field) == expected


@pytest.mark.parametrize(("text", "field", "expected"), [
    ('name = "n"\ninputs = 2\nloss = "sse"\nlayers = 3\n', "layers",
     "expected an array of tables ([[layers]]), got an integer"),
    ('name = "n"\ninputs = 2\nloss = "sse"\n[layers]\nunits = 1\n', "layers",
     "expected an array of tables ([[layers]]), got a table"),
    ('name = "n"\ninputs = 2\nloss = "sse"\nlayers = ["tanh"]\n', "layers[0]",
     "expected a table with units and activation, got a string"),
    ('name = "n"\ninputs = 2\nloss = "sse"\ntrain = 5\n[[layers]]\nunits = 1\n', "train",
     "expected a table, got an integer"),
])
def test_wrong_type_of_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str,
                               expected: str) -> None:
    assert refused(tmp_path, capsys, text, field) == expected


# --- sizes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "value"), [
    ("units = 4", "units = 0", "layers[0].units", "0"),
    ("units = 2", "units = -3", "layers[1].units", "-3"),
    ("inputs = 3", "inputs = 0", "inputs", "0"),
    ("inputs = 3", "inputs = -1", "inputs", "-1"),
])
def test_sizes_below_one_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
                                     field: str, value: str) -> None:
    assert refused(tmp_path, capsys, edit(old, new), field) == f"expected an integer from 1 to 1000000, got {value}"


def test_empty_layer_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = 'name = "n"\ninputs = 2\nloss = "sse"\nlayers = []\n'
    assert refused(tmp_path, capsys, text, "layers") == "the network needs at least one layer"


@pytest.mark.parametrize("field", ["name", "inputs", "loss"])
def test_missing_required_key(tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str) -> None:
    text = "\n".join(line for line in BASE.splitlines() if not line.startswith(f"{field} ="))
    assert refused(tmp_path, capsys, text, field) == "missing (required)"


# --- names of activations and losses -------------------------------------------------------------

def test_unknown_activation_suggests_the_close_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit(OUTPUT, 'activation = "sigmod"'), "layers[1].activation")
    assert message.startswith("unknown activation 'sigmod' (did you mean 'sigmoid'?); expected one of sigmoid, tanh")
    assert message.endswith("or a formula in z")


def test_unknown_activation_without_a_close_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit(HIDDEN, 'activation = "swoosh"'), "layers[0].activation")
    assert message == ("unknown activation 'swoosh'; expected one of sigmoid, tanh, relu, leaky_relu, identity, "
                       "softplus, softmax, gelu, gelu_tanh, elu, selu, silu, mish, softsign or a formula in z")


@pytest.mark.parametrize(("name", "hint"), [("cross_entropi", " (did you mean 'cross_entropy'?)"), ("hinge", "")])
def test_unknown_loss(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, hint: str) -> None:
    message = refused(tmp_path, capsys, edit('loss = "sse"', f'loss = "{name}"'), "loss")
    expected = "expected one of sse, mse, bce, cross_entropy, huber, log_cosh, l1 or a formula in a and y"
    assert message == f"unknown loss '{name}'{hint}; {expected}"


def test_softmax_on_a_hidden_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit(HIDDEN, 'activation = "softmax"'), "layers[0].activation")
    assert message == "softmax is supported on the output layer only"


# --- formulas ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("formula", "column", "reason"), [
    ("z*(1 +", 3, "'(' was never closed"),
    ("z +* 2", 4, "invalid syntax"),
    ("2 z", 1, "invalid syntax"),
])
def test_formula_that_does_not_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str], formula: str, column: int,
                                     reason: str) -> None:
    message = refused(tmp_path, capsys, edit(HIDDEN, f'activation = "{formula}"'), "layers[0].activation")
    assert message.startswith(f"formula '{formula}' does not parse (column ")
    assert reason in message


def test_activation_formula_in_the_wrong_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit(HIDDEN, 'activation = "y*z"'), "layers[0].activation")
    assert message == "unknown name 'y' (variables allowed here: z) at column 1 of formula 'y*z'"


def test_loss_formula_in_the_wrong_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit('loss = "sse"', 'loss = "(a - z)**2"'), "loss")
    assert message == "unknown name 'z' (variables allowed here: a, y) at column 6 of formula '(a - z)**2'"


def test_loss_that_does_not_depend_on_a(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit('loss = "sse"', 'loss = "(y - 1)**2"'), "loss")
    assert message == "a loss formula must depend on a (the network output); '(y - 1)**2' does not"


def test_activation_that_does_not_depend_on_z(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(tmp_path, capsys, edit(OUTPUT, 'activation = "2*3"'), "layers[1].activation")
    assert message == "an activation formula must depend on z; '6' does not"


@pytest.mark.parametrize(("formula", "reason"), [
    ("z.real", "attribute access is not allowed at column 1"),
    ("z[0]", "subscripting is not allowed at column 1"),
    ("sin(z)", "unknown function 'sin' (allowed: exp, log, sqrt, tanh, sigmoid, abs, max, min, cosh, sinh, erf, "
               "atan, log1p, expm1, softplus)"),
    ("exp(z, 2)", "exp() takes 1 argument(s), got 2"),
    ("2*exp", "'exp' is a function and needs an argument, e.g. exp(...) at column 3 of formula '2*exp'"),
    ("z^2", "'^' is not a power in formulas; write ** (e.g. z**2)"),
    ("z**100", "the exponent 100 is outside -64..64"),
    ("z**0.000001", "the exponent 1/1000000 is a fraction with a denominator above 1000"),
    ("z/0", "division by zero"),
    ("max(z, log(0))", "undefined (division by zero, log(0) or infinity) at column 8"),
    ("z*sqrt(-1)", "not real-valued"),
    ("z*exp(1000)", "a constant that cannot be evaluated or exceeds 1e+300"),
    ("z*1e13", "the number 10000000000000.0 is larger than 1e+12"),
    ("exp(" * 41 + "z" + ")" * 41, "nesting deeper than 40"),
    ("z+" * 200 + "z", "the formula is 401 characters long; at most 400 are allowed"),
    ("'z'", "the constant 'z' is not a number"),
])
def test_formula_refusals_say_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], formula: str,
                                  reason: str) -> None:
    assert '"' not in formula and "\\" not in formula
    message = refused(tmp_path, capsys, edit(HIDDEN, f'activation = "{formula}"'), "layers[0].activation")
    assert reason in message


@pytest.mark.parametrize(("toml", "char", "column"), [
    ('"""(z\n+ 1)"""', "'\\n'", 3),
    ("'''(z # a note\n)'''", "'#'", 4),
    ("'''(z # \"\"\"; open('CANARY', 'w'); \"\"\"\n)'''", "'#'", 4),
    ('"z\\t+ 1"', "'\\t'", 2),
    ("'z \\ 2'", "'\\\\'", 3),
    ('"2*\u0437"', "'\u0437'", 3),
])
def test_formula_must_be_one_line_of_ascii_without_comments(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch, toml: str, char: str,
                                                            column: int) -> None:
    """A comment or a newline would be copied into the generated module's comments and docstring."""
    monkeypatch.chdir(tmp_path)
    message = refused(tmp_path, capsys, edit(HIDDEN, f"activation = {toml}"), "layers[0].activation")
    assert f" has {char} at column {column}; a formula is one line of ASCII without comments (#) or backslashes" \
        in message
    assert not (tmp_path / "CANARY").exists()


def test_formula_sympy_cannot_differentiate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal when ``sympy.diff`` leaves a Derivative unevaluated.

    No formula over the allowed functions (exp log sqrt tanh sigmoid abs max min) has been found that
    SymPy 1.14 cannot differentiate (abs(z)**0.5, abs(log(z)), max(sqrt(z), 1), z**z ... all give a
    closed form), so the check is exercised by making sympy.diff give up on one formula.
    """
    real_diff = sympy.diff

    def giving_up(expr: sympy.Expr, *symbols: sympy.Symbol) -> sympy.Expr:
        if expr.has(sympy.tanh) and expr.has(sympy.exp):
            return sympy.Derivative(expr, *symbols)
        return real_diff(expr, *symbols)

    monkeypatch.setattr(sympy, "diff", giving_up)
    message = refused(tmp_path, capsys, edit(HIDDEN, 'activation = "tanh(exp(z))"'), "layers[0].activation")
    assert message == ("SymPy cannot differentiate 'tanh(exp(z))' with respect to z "
                       "(it gives 'Derivative(tanh(exp(z)), z)')")


# --- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["my-net", "2net", "xör", "", "net.v2"])
def test_name_that_is_not_an_identifier(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    message = refused(tmp_path, capsys, edit('name = "net"', f'name = "{name}"'), "name")
    assert message == (f"{name!r} is not a Python identifier "
                       "(ASCII letters, digits and _, not starting with a digit)")


@pytest.mark.parametrize("name", ["class", "lambda", "None", "match", "_"])
def test_name_that_is_a_keyword(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    message = refused(tmp_path, capsys, edit('name = "net"', f'name = "{name}"'), "name")
    assert message == f"{name!r} is a Python keyword; choose another name"


# --- TOML, files, output -----------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "line"), [
    ("inputs = 3", "inputs = = 3", 2),
    ('activation = "sigmoid"', 'activation = "sigmoid', 12),
    ("[train]", "[train", 14),
])
def test_toml_syntax_error_gives_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str,
                                                 new: str, line: int) -> None:
    message = refused(tmp_path, capsys, edit(old, new), "")
    assert message.startswith("TOML syntax error: ")
    assert re.search(rf"\(at line {line}, column \d+\)$", message), message


def test_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.toml"
    assert codegen_main([str(missing), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {missing}: no such file"]
    assert not (tmp_path / "out").exists()


def test_output_folder_that_cannot_be_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, blocker = tmp_path / "net.toml", tmp_path / "blocker"
    spec.write_text(BASE)
    blocker.write_text("a file where a folder should be\n")
    assert codegen_main([str(spec), "-o", str(blocker / "sub")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {blocker / 'sub'}: cannot create the folder")
    assert blocker.read_text() == "a file where a folder should be\n"


@pytest.mark.parametrize("entry", ["derive", "chainrule derive", "chainrule generate"])
def test_every_entry_point_refuses_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                entry: str) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(edit("units = 4", "units = 0"))
    out = tmp_path / ("out.tex" if entry.endswith("derive") else "out")
    if entry == "derive":
        code = derive_main([str(spec), "-o", str(out)])
    else:
        code = main([entry.split()[1], str(spec), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    expected = f"error: {spec}: layers[0].units: expected an integer from 1 to 1000000, got 0"
    assert captured.err.splitlines() == [expected]
    assert not out.exists()


# --- internal failures: exit 1 -----------------------------------------------------------------------

def _explode(*args: object) -> str:
    raise RuntimeError("template exploded\nsecond line")


def test_internal_failure_is_exit_1_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "render_module", _explode)
    code, lines, _, out = generate(tmp_path, capsys, BASE)
    assert code == 1
    assert lines == ["internal error: RuntimeError: template exploded second line "
                     "(rerun with --debug for a traceback)"]
    assert not out.exists()


def test_debug_prints_the_traceback_and_keeps_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "render_module", _explode)
    code, lines, _, out = generate(tmp_path, capsys, BASE, "--debug")
    assert code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert any("in _generate" in line for line in lines)
    assert lines[-1] == "internal error: RuntimeError: template exploded second line"
    assert not out.exists()

    monkeypatch.undo()
    code, lines, spec, out = generate(tmp_path, capsys, edit("units = 4", "units = 0"), "--debug")
    assert code == 2
    assert lines[0] == "Traceback (most recent call last):" and "SpecError" in lines[-2]
    assert lines[-1] == f"error: {spec}: layers[0].units: expected an integer from 1 to 1000000, got 0"


def test_exit_codes_of_the_real_process(tmp_path: Path) -> None:
    """python -m codegen, as a shell sees it: 2 for bad input, 1 for a crash (with --debug: a traceback)."""
    bad = tmp_path / "bad.toml"
    bad.write_text(edit(HIDDEN, 'activation = "sigmod"'))
    result = subprocess.run([sys.executable, "-m", "codegen", str(bad), "-o", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "layers[0].activation: unknown activation 'sigmod'" in result.stderr

    good = tmp_path / "good.toml"
    good.write_text(BASE)
    script = ("import sys, codegen, chainrule.cli as cli\n"
              "def boom(*a): raise RuntimeError('boom')\n"
              "codegen.render_module = boom\n"
              "sys.exit(cli.codegen_main(sys.argv[1:]))\n")
    for debug in ([], ["--debug"]):
        result = subprocess.run([sys.executable, "-c", script, str(good), "-o", str(tmp_path / "out"), *debug],
                                cwd=ROOT, capture_output=True, text=True, check=False)
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1].startswith("internal error: RuntimeError: boom")
        assert ("Traceback (most recent call last):" in result.stderr) == bool(debug)
    assert not (tmp_path / "out").exists()


# --- unwise but legal: a warning that says why, exit 0, the file is written -------------------------

@pytest.mark.parametrize(("output", "units", "loss", "reason"), [
    ("softmax", 2, "bce", "softmax with bce couples the outputs although bce treats each one as an independent yes/no"),
    ("sigmoid", 1, "cross_entropy", "cross_entropy over one sigmoid unit only rewards y = 1 (the y = 0 term"),
    ("relu", 2, "bce", "bce takes log(a) and log(1 - a), but relu outputs are not confined to (0, 1)"),
    ("identity", 3, "cross_entropy", "cross_entropy expects probabilities that sum to 1, but identity outputs are not"),
    ("softmax", 1, "cross_entropy", "softmax over one unit always outputs 1, so its gradient is zero"),
])
def test_unwise_pair_warns_why_and_still_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str,
                                                units: int, loss: str, reason: str) -> None:
    text = edit(OUTPUT, f'activation = "{output}"').replace("units = 2", f"units = {units}")
    code, lines, spec, out = generate(tmp_path, capsys, text.replace('loss = "sse"', f'loss = "{loss}"'))
    assert code == 0
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1, lines
    assert warnings[0].startswith(f"warning: {spec}: layers[1].activation: {reason}")
    assert lines[-1] == f"wrote {out / 'net.py'}"
    assert (out / "net.py").read_text().count("Generated by chainrule") >= 1


def test_sensible_pairs_do_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for output, loss in [("sigmoid", "bce"), ("softmax", "cross_entropy"), ("identity", "mse")]:
        text = edit(OUTPUT, f'activation = "{output}"').replace('loss = "sse"', f'loss = "{loss}"')
        code, lines, _, out = generate(tmp_path, capsys, text)
        assert code == 0 and lines == [f"wrote {out / 'net.py'}"]
