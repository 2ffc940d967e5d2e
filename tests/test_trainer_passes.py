"""The training step's contracts that speed depends on: no temporary of a batch's size, inputs
checked once and cheaply but soundly, the row maximum right on both of its paths."""

from __future__ import annotations

import tracemalloc
from itertools import pairwise

import numpy as np
import pytest

from tests.conftest import build

M, UNITS = 2048, 64


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu", "sigmoid", "z/(1 + exp(-z))"])
@pytest.mark.parametrize("classes", [10, 70])
def test_a_training_step_allocates_nothing_of_the_batch_size(hidden: str, classes: int,
                                                             rng: np.random.Generator) -> None:
    model = build(inputs=8, loss="cross_entropy", reduction="mean", dtype="float32",
                  layers=[{"units": UNITS, "activation": hidden}, {"units": UNITS, "activation": hidden},
                          {"units": classes, "activation": "softmax"}])
    X = rng.normal(size=(M, 8)).astype(np.float32)
    Y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, M)]
    params = model.init_params()
    grads = {key: np.empty_like(value) for key, value in params.items()}
    work = model._work(M, np.float32)
    model._forward(params, X, work)  # warm: first calls may cache ufunc loops
    model._loss(work, Y)
    model._backward(params, X, Y, work, grads, 0.1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        model._forward(params, X, work)
        model._loss(work, Y)
        model._backward(params, X, Y, work, grads, 0.1)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # The smallest temporary of the batch's size would be a boolean (M, UNITS) mask: 128 KiB.
    # What remains: one-column arrays such as log S (M * 4 bytes) and the fixed buffer of
    # np.getbufsize() elements NumPy's iterator takes for a broadcast operand.
    assert peak < M * UNITS // 2, f"a step allocated {peak} bytes at its peak"


def test_data_whose_sum_overflows_is_still_finite() -> None:
    # The check sums first (one cheap pass); a sum that overflows must fall back to the exact check.
    model = build(inputs=2, loss="sse", layers=[{"units": 1, "activation": "identity"}])
    params = model.init_params()
    X = np.full((4, 2), 1e308)  # every value finite, their sum is not
    with np.errstate(over="ignore", invalid="ignore"):
        model.forward(params, X)  # the output may overflow; X itself must not be refused
    for bad in (np.inf, -np.inf, np.nan):
        Xb = X.copy()
        Xb[2, 1] = bad
        with pytest.raises(ValueError, match=r"^X: contains NaN or infinite values"):
            model.forward(params, Xb)
    Xc = np.array([[np.inf, 1.0], [-np.inf, 1.0]])  # inf − inf: a NaN sum, then the exact check names it
    with pytest.raises(ValueError, match=r"^X: contains NaN"):
        model.forward(params, Xc)


@pytest.mark.parametrize("classes", [3, 63, 64, 200])
def test_softmax_rows_on_the_narrow_and_the_wide_path(classes: int, rng: np.random.Generator) -> None:
    model = build(inputs=5, loss="cross_entropy", layers=[{"units": classes, "activation": "softmax"}])
    params = model.init_params(seed=2)
    X = 40 * rng.normal(size=(33, 5))  # logits of hundreds: exp overflows unless shifted by the row maximum
    Z = X @ params["W1"] + params["b1"]
    expected = np.exp(Z - Z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.forward(params, X), expected, rtol=1e-12, atol=1e-300)


def test_pages_cut_aligned_disjoint_arrays_from_blocks_on_2_mib_boundaries() -> None:
    # train() keeps its parameters, gradients and work arrays on large pages: every array must be
    # 64-byte aligned, each block start on a 2 MiB boundary, and no two arrays may share a byte.
    model = build(inputs=3, loss="sse", layers=[{"units": 2, "activation": "sigmoid"}])
    pages = model._Pages()
    requests = [((7,), np.float32), ((1000, 300), np.float64), ((5, 3), bool), ((1,), np.float16),
                ((600, 700), np.float64), ((3, 4, 5, 6), np.float32)]  # the 3.4 MB one needs a block of its own
    arrays = [pages.empty(shape, dtype) for shape, dtype in requests]
    spans = []
    for array, (shape, dtype) in zip(arrays, requests, strict=True):
        assert array.shape == shape and array.dtype == dtype and array.flags.c_contiguous
        start = array.ctypes.data
        assert start % 64 == 0
        spans.append((start, start + array.nbytes))
    assert arrays[0].ctypes.data % model.HUGE_PAGE == 0  # the first array opens the first block
    assert arrays[4].ctypes.data % model.HUGE_PAGE == 0  # too large for the rest of a block: a new one
    spans.sort()
    assert all(end <= start for (_, end), (start, _) in pairwise(spans))
    for array in arrays:  # writing each array leaves the others as they were
        array.fill(1)
    assert all(np.all(array == 1) for array in arrays)
    zeros = pages.zeros((4, 9), np.float64)
    assert np.all(zeros == 0) and np.all(arrays[-1] == 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_finiteness_check_covers_vectors_and_image_batches(bad: float) -> None:
    # The sum runs through one matrix-vector product over the rows: a vector (a bias) and a 4-D
    # batch of images must reach it whole, or a NaN in their last entries would pass.
    model = build(inputs=2, loss="sse", layers=[{"units": 3, "activation": "identity"}])
    for shape in [(3,), (2, 3, 4, 5)]:
        array = np.ones(shape)
        np.testing.assert_array_equal(model._real(array, "A", np.float64), array)  # finite: passes unchanged
        array.reshape(-1)[-1] = bad
        with pytest.raises(ValueError, match=r"^A: contains NaN or infinite values"):
            model._real(array, "A", np.float64)
