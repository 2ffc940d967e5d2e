"""Attacks on the data reader (issue 19, items 7, 8, 9, 10): whatever the file holds, one line naming
the file and the place, exit 2, in time linear in its size and memory bounded by what it holds;
columns chosen by name; the spec's dtype respected."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import derive_main, main
from chainrule.data import DataError, read

SPEC = """name = "net"
inputs = 3
loss = "{loss}"
dtype = "{dtype}"
[[layers]]
units = 4
activation = "tanh"
[[layers]]
units = {outputs}
activation = "{output}"
[train]
epochs = 2
"""


def _spec(folder: Path, loss: str = "cross_entropy", output: str = "softmax", outputs: int = 3,
          dtype: str = "float64") -> Path:
    path = folder / "net.toml"
    path.write_text(SPEC.format(loss=loss, output=output, outputs=outputs, dtype=dtype))
    return path


def _train(capsys: pytest.CaptureFixture[str], spec: Path, data: Path, *extra: str) -> tuple[int, list[str]]:
    run = spec.parent / "run"
    try:
        code = main(["train", str(spec), str(data), "-o", str(run), "--no-check", *extra])
    except SystemExit as stop:
        code = int(stop.code or 0)
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines()
             if line.startswith(("error", "internal", "warning", "Traceback"))]
    if code != 0:
        assert not run.exists()
    return code, lines


ROWS = "".join(f"{i / 10},{i / 7},{-i / 9},{i % 3}\n" for i in range(30))


# --- the bytes of the file ---------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "where"), [
    (b"a,b,c,label\n" + ROWS.encode() * 300 + b"0.5,\xe9,0.1,1\n", "line 9002"),  # Latin-1 é after 8 KB
    (b"a,b,c,label\n" + b"0.5,0.2,0.1,1\n" * 5 + b"\xff\xfe,0,0,1\n", "line 7"),
    (b"a,b,\xe9,label\n0,0,0,1\n", "line 1"),
    (b"a,b,c,label\n0,0,0,1\n0,\x00,0,1\n", "line 3"),
])
def test_bytes_that_are_not_utf8_text_are_named_by_line(content: bytes, where: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_bytes(content)
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {data}: {where}: "), lines
    assert re.search(r"not UTF-8 text \(byte 0x[0-9a-f]{2} at column \d+\)|a NUL byte at column \d+", lines[0])
    code = derive_main([str(_spec(tmp_path)), "--data", str(data), "-o", str(tmp_path / "x.md")])
    assert code == 2 and capsys.readouterr().err.startswith(f"error: {data}: {where}: ")


def test_a_field_of_200000_characters_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text('a,b,c,label\n0,0,0,1\n1,"' + "9" * 200_000 + '",0,1\n')
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {data}: row 2 (line 3)"), lines
    assert len(lines[0]) < 400


@pytest.mark.parametrize("header", [b"a,b,c,label\n", b""])
def test_a_2_gb_sparse_file_is_refused_quickly_in_little_memory(header: bytes, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    with data.open("wb") as handle:
        handle.write(header)
        handle.truncate(2 * 1024**3)  # zeros, no newline: the filesystem stores none of them
    start = time.monotonic()
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert time.monotonic() - start < 60
    assert code == 2 and len(lines) == 1 and "a NUL byte at column 1" in lines[0], lines


def test_a_line_of_100_mb_without_nul_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    with data.open("w") as handle:
        handle.write("a,b,c,label\n")
        handle.write("1," * 40_000_000)
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and len(lines) == 1 and "line 2: longer than 67,108,864 characters" in lines[0], lines


# --- the header ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [40_000, 400_000])
def test_the_repeated_name_check_is_linear(columns: int, tmp_path: Path) -> None:
    data = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(columns)]
    data.write_text(",".join([*names, "c7"]) + "\n" + ",".join(["0"] * (columns + 1)) + "\n")
    start = time.monotonic()
    with pytest.raises(DataError, match=r"line 1: column 'c7' appears twice \(columns 8 and \d+\)$"):
        read(data, 1, False)
    assert time.monotonic() - start < 20  # 40 000 columns took 14 to 22 s when quadratic


@pytest.mark.parametrize("prefix", ["# ", "#", "  # "])
def test_a_numpy_savetxt_header_prefix_is_not_part_of_a_name(prefix: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text(f"{prefix}a,b,c,label\n" + ROWS)
    assert read(data, 3, True).features == ("a", "b", "c")
    code, lines = _train(capsys, _spec(tmp_path), data, "--inputs", "a,b,c")
    assert code == 0, lines


# --- choosing columns --------------------------------------------------------------------------------

def test_an_index_column_is_dropped_and_columns_chosen_by_name(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"  # as pandas' to_csv writes it: an unnamed index column
    data.write_text("id,a,b,c,label\n" + "".join(f"{i},{line}" for i, line in enumerate(ROWS.splitlines(True))))
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and lines == [f"error: {data}: --target: 5 columns (id, a, b, c, label) for a network of 3 "
                                   "inputs and 3 outputs: expected 3 + 1 (a label or target column) or 3 + 3; name "
                                   "the targets with --target, the inputs with --inputs or --drop"]
    dropped = read(data, 3, True, drop=["id"])
    chosen = read(data, 3, True, inputs=["c", "a", "b"], targets=["label"])
    assert dropped.features == ("a", "b", "c") and chosen.features == ("c", "a", "b")
    assert np.array_equal(dropped.X[:, [2, 0, 1]], chosen.X) and np.array_equal(dropped.Y, chosen.Y)
    code, lines = _train(capsys, _spec(tmp_path), data, "--target", "label")
    assert code == 2 and lines == [f"error: {data}: 4 input columns (id, a, b, c), but the spec has inputs = 3; "
                                   "choose them with --inputs or --drop"]
    assert _train(capsys, _spec(tmp_path), data, "--drop", "id")[0] == 0


@pytest.mark.parametrize(("flag", "name", "guess"), [("--target", "lable", "label"), ("--inputs", "A", "a"),
                                                     ("--drop", "idx", "id"), ("--target", "zzz", None)])
def test_a_misspelt_column_gets_a_guess(flag: str, name: str, guess: str | None, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("id,a,b,c,label\n0,1,2,3,1\n")
    code, lines = _train(capsys, _spec(tmp_path), data, flag, name)
    hint = f" (did you mean '{guess}'?)" if guess else ""
    assert code == 2 and lines == [f"error: {data}: {flag}: no column '{name}'{hint}; columns: id, a, b, c, label"]


# --- values and the spec ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("loss", "output", "outputs", "rows", "extra", "message"), [
    ("cross_entropy", "softmax", 3, "1,2,3,5\n", (), r"row 2 \(line 3\), column 'label': 5 is not a class label: "
                                                    r"expected a whole number 0\.\.2$"),
    ("cross_entropy", "softmax", 3, "1,2,3,0.5\n", ("--target", "label"),
     r"row 2 \(line 3\), column 'label': 0\.5 is not a class label"),
    ("bce", "sigmoid", 1, "1,2,3,-1\n", (), r"row 2 \(line 3\), column 'label': -1 is not a class label"),
    ("bce", "sigmoid", 2, "1,2,3,1.5,0\n", (), r"row 2 \(line 3\), column 'p': 1\.5 is outside \[0, 1\], and bce "
                                                r"needs targets in \[0, 1\]$"),
    ("cross_entropy", "softmax", 2, "1,2,3,0.7,0.7\n", (),
     r"row 2 \(line 3\): the targets \[0\.7, 0\.7\] are not one-hot or probabilities summing to 1"),
    ("sse", "identity", 3, "1,2,3,1\n", ("--target", "label"),
     r"--target: 1 target columns \(label\), but the network has 3 outputs$"),
])
def test_targets_are_checked_naming_row_line_and_column(loss: str, output: str, outputs: int, rows: str,
                                                        extra: tuple[str, ...], message: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    header = "a,b,c,label\n" if rows.count(",") == 3 else "a,b,c,p,q\n"
    first = "0,0,0,1\n" if rows.count(",") == 3 else "0,0,0,1,0\n"
    data.write_text(header + first + rows)
    code, lines = _train(capsys, _spec(tmp_path, loss, output, outputs), data, *extra)
    assert code == 2 and len(lines) == 1, lines
    assert re.search(f"^error: {re.escape(str(data))}: {message}", lines[0]), lines[0]


@pytest.mark.parametrize("value", ["1e39", "-3.5e38", "1e300"])
def test_a_value_beyond_float32_is_named_not_called_infinite(value: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,label\n0,0,0,1\n0," + value + ",0,2\n")
    code, lines = _train(capsys, _spec(tmp_path, dtype="float32"), data)
    assert code == 2 and lines == [f"error: {data}: row 2 (line 3), column 'b': {float(value):g} does not fit in "
                                   "float32, the spec's dtype (largest 3.403e+38)"], lines
    assert _train(capsys, _spec(tmp_path, dtype="float64"), data)[0] == 0  # float64 holds it


@pytest.mark.parametrize(("arrays", "message"), [
    ({"X": np.zeros((2, 3), "m8[s]"), "Y": np.array([0, 1])}, r"X: expected real numbers, got dtype timedelta64"),
    ({"X": np.zeros((2, 3), "M8[s]"), "Y": np.array([0, 1])}, r"X: expected real numbers, got dtype datetime64"),
    ({"X": np.zeros((2, 3)), "Y": np.array(["a", "b"])}, r"Y: expected real numbers, got dtype <U1"),
    ({"X": np.full((2, 3), 1e39), "Y": np.array([0, 1])}, None),
    ({"X": np.zeros((2, 3)), "Y": np.array([0, 7])}, r"Y\[1\]: 7 is not a class label: expected a whole number 0\.\.2"),
    ({"X": np.zeros((2, 3, 1, 1)), "Y": np.array([0, 1])}, r"X: expected a 2-D array \(n, 3\), got shape"),
])
def test_npz_arrays_are_checked_by_name_and_index(arrays: dict[str, np.ndarray], message: str | None,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, **arrays)
    code, lines = _train(capsys, _spec(tmp_path, dtype="float32"), data)
    message = message or r"X\[0, 0\]: 1e\+39 does not fit in float32"
    assert code == 2 and len(lines) == 1 and re.search(f"^error: {re.escape(str(data))}: {message}", lines[0]), lines


def test_rows_count_from_1_with_their_lines_past_blank_lines(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b,c,label\n\n0,0,0,1\n\n\n0,x,0,1\n")
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and lines == [f"error: {data}: row 2 (line 6), column 'b': 'x' is not a number"]
    data.write_text("a,b,c,label\n\n0,0,0,1\n\n\n0,0,0,9\n")
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and lines == [f"error: {data}: row 2 (line 6), column 'label': 9 is not a class label: "
                                   "expected a whole number 0..2"]


def test_a_long_column_name_is_shortened_in_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    name = "n" * 100_000
    data.write_text(f"a,{name},c,label\n0,0,0,1\n0,x,0,1\n")
    code, lines = _train(capsys, _spec(tmp_path), data)
    assert code == 2 and len(lines) == 1 and len(lines[0]) < 300 + len(str(data)), len(lines[0])
    assert os.path.getsize(data) > 100_000
