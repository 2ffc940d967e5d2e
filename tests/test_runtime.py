"""The generated module's fixed runtime (codegen/runtime.py, codegen/erf.py): copied verbatim into every
generated module, type-checked, and tested here on its own with the network part's stand-ins set."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen import erf, runtime
from codegen.verbatim import MARKER, copied
from tests.conftest import ROOT


@pytest.mark.parametrize("module", sorted((ROOT / "generated").glob("*.py")), ids=lambda path: path.stem)
def test_every_generated_module_carries_the_runtime_verbatim(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    body = copied("runtime")
    assert text.endswith(body) and text.count(body) == 1
    assert "raise NotImplementedError" not in text  # no stand-in of the runtime's own module came along
    assert (copied("erf") in text) == ("_erf(" in text.replace("def _erf(", ""))  # erf exactly where used


def test_the_copied_part_starts_below_the_marker_and_only_there() -> None:
    for name in ("runtime", "erf"):
        source = (ROOT / "codegen" / f"{name}.py").read_text(encoding="utf-8")
        assert source.count(MARKER) == 1
        assert copied(name) == source.split(MARKER + "\n")[1].lstrip("\n")
        assert "stand-in" not in copied(name) and "def init_params" not in copied(name)


def test_the_runtime_is_type_checked() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--ignore-missing-imports",
                             "--check-untyped-defs", "--follow-imports=silent", "--cache-dir", "/tmp/chainrule-mypy",
                             "codegen/runtime.py", "codegen/erf.py"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_real_numbers_and_only_those() -> None:
    assert runtime._is_real(1) and runtime._is_real(np.float32(0.5)) and runtime._is_real(2.0)
    assert not runtime._is_real(True) and not runtime._is_real("1") and not runtime._is_real(np.bool_(True))
    assert runtime._check_seed(np.int64(3)) == 3
    for bad in (-1, 1.0, True, None):
        with pytest.raises(ValueError, match=r"^seed: expected an integer >= 0"):
            runtime._check_seed(bad)


def test_finite_check_finds_one_bad_value_also_where_the_sum_overflows() -> None:
    finite = np.full((3, 4), 1e308)  # the row sums overflow, yet every value is finite
    assert runtime._real(finite, "X", np.float64) is not None
    for bad in (np.nan, np.inf, -np.inf):
        values = np.ones((5, 3))
        values[3, 1] = bad
        with pytest.raises(ValueError, match=r"^X: contains NaN or infinite values$"):
            runtime._real(values, "X", np.float64)
    with pytest.raises(ValueError, match=r"^X: expected real numbers, got dtype complex128$"):
        runtime._real(np.ones((2, 2), complex), "X", np.float64)


def test_matrix_and_image_shapes_are_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"^X: expected shape \(n, 3\), got \(4, 2\)$"):
        runtime._as_matrix(np.ones((4, 2)), "X", 3, np.float64)
    with pytest.raises(ValueError, match=r"^X: expected at least one sample"):
        runtime._as_matrix(np.ones((0, 3)), "X", 3, np.float64)
    with pytest.raises(ValueError, match="rows of unequal length"):
        runtime._as_matrix([[1, 2], [3]], "X", 2, np.float64)
    with pytest.raises(ValueError, match=r"^X: expected shape \(n, 1, 4, 4\), got \(2, 1, 4, 3\)$"):
        runtime._as_images(np.ones((2, 1, 4, 3)), "X", (1, 4, 4), np.float64)
    assert runtime._as_images(np.ones((2, 1, 4, 4), np.float32), "X", (1, 4, 4), np.float64).dtype == np.float64


def test_class_labels_become_one_hot_rows_and_bad_ones_name_their_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "SIZES", (4, 3))
    monkeypatch.setattr(runtime, "CLASSES", 3)
    assert runtime._one_hot(np.array([2, 0, 1]), "Y", np.float64).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match=r"^Y\[1\]: 3 is not a class label: expected a whole number 0\.\.2$"):
        runtime._one_hot(np.array([0, 3]), "Y", np.float64)
    with pytest.raises(ValueError, match=r"^Y\[0\]: 0\.5 is not a class label"):
        runtime._one_hot(np.array([0.5, 1]), "Y", np.float64)
    monkeypatch.setattr(runtime, "SIZES", (4, 1))
    monkeypatch.setattr(runtime, "CLASSES", 2)
    assert runtime._one_hot(np.array([1, 0]), "Y", np.float32).tolist() == [[1.0], [0.0]]


def test_targets_are_checked_against_the_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    X = np.ones((2, 1))
    monkeypatch.setattr(runtime, "LOSS", "bce")
    monkeypatch.setattr(runtime, "TARGETS", "unit")
    with pytest.raises(ValueError, match=r"^Y: bce needs targets in \[0, 1\]$"):
        runtime._checked_targets(X, np.array([[0.5], [1.5]]))
    monkeypatch.setattr(runtime, "LOSS", "cross_entropy")
    monkeypatch.setattr(runtime, "TARGETS", "distribution")
    with pytest.raises(ValueError, match=r"row 1 is \[0.5, 0.2\]$"):
        runtime._checked_targets(X, np.array([[0.5, 0.5], [0.5, 0.2]]))
    with pytest.raises(ValueError, match=r"^Y: expected 2 rows to match X, got shape \(3, 2\)$"):
        runtime._checked_targets(X, np.full((3, 2), 0.5))


def test_the_validation_score_of_each_task(monkeypatch: pytest.MonkeyPatch) -> None:
    A = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    monkeypatch.setattr(runtime, "TASK", "argmax")
    assert runtime._metric(A, Y) == pytest.approx(2 / 3)
    monkeypatch.setattr(runtime, "TASK", "threshold")
    assert runtime._metric(A, Y) == pytest.approx(4 / 6)  # entry by entry
    monkeypatch.setattr(runtime, "TASK", "none")
    # R² by hand: output 1 residual 0.01 + 0.64 + 0.16 against a constant target: 0 (not exact); output 2 likewise
    assert runtime._metric(A, Y) == 0.0
    assert runtime._metric(Y, Y) == 1.0
    targets = np.array([[1.0], [2.0], [3.0]])
    assert runtime._metric(np.array([[1.0], [2.0], [4.0]]), targets) == pytest.approx(1 - 1 / 2)


def test_pages_are_aligned_disjoint_and_on_two_megabyte_blocks() -> None:
    memory = runtime._Pages()
    arrays = [memory.empty((37, 5), np.float32), memory.zeros((100,), np.float64), memory.empty((3, 3), np.float64)]
    starts = [array.ctypes.data for array in arrays]
    assert all(start % 64 == 0 for start in starts)
    assert memory.block.ctypes.data % runtime.HUGE_PAGE == 0
    ends = [start + array.nbytes for start, array in zip(starts, arrays, strict=True)]
    assert all(end <= next_start for end, next_start in zip(ends, starts[1:], strict=False))
    assert not arrays[1].any()
    big = memory.empty((runtime.HUGE_PAGE // 4,), np.float64)  # 4 MiB: a block of its own
    assert big.ctypes.data % runtime.HUGE_PAGE == 0


def test_parameters_live_in_one_flat_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "SHAPES", {"W1": (2, 3), "b1": (3,), "W2": (3, 1), "b2": (1,)})
    params = {key: np.arange(np.prod(shape), dtype=float).reshape(shape) + index
              for index, (key, shape) in enumerate(runtime.SHAPES.items())}
    flat, views = runtime._layout(params, np.float64, runtime._Pages())
    assert flat.size == 13
    for key, value in params.items():
        assert np.array_equal(views[key], value)
    flat[:] = 7
    assert all((view == 7).all() for view in views.values())


def test_the_validation_pair_and_the_archive_name() -> None:
    assert runtime._validation_pair([1, 2]) == (1, 2)
    with pytest.raises(ValueError, match=r"^validation: expected a pair \(Xv, Yv\), got a tuple of 3$"):
        runtime._validation_pair((1, 2, 3))
    with pytest.raises(ValueError, match=r"got dict$"):
        runtime._validation_pair({"X": 1})
    assert runtime._npz("weights") == "weights.npz" and runtime._npz(Path("w.npz")) == "w.npz"


def test_erf_is_within_a_few_ulp_of_math_erf_in_both_dtypes() -> None:
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, -0.0, 0.46875, 4.0, 1e-300, 40.0, -40.0]])
    exact = np.array([math.erf(value) for value in x])
    assert np.max(np.abs(erf._erf(x) - exact)) <= 4 * np.finfo(np.float64).eps
    single = erf._erf(x.astype(np.float32))
    assert single.dtype == np.float32 and np.max(np.abs(single - exact)) <= 4 * np.finfo(np.float32).eps
    assert np.isnan(erf._erf(np.array([np.nan])))[0]
    out = np.empty(3)
    assert erf._erf(np.array([0.0, 1.0, -1.0]), out=out) is out and out[1] == pytest.approx(math.erf(1.0))
