"""The generated modules learn, and the optimizers take the steps their formulas say."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import ROOT, build

pytestmark = pytest.mark.filterwarnings("error")  # any NumPy RuntimeWarning fails a trainer test

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def generated(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "generated" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_learns_from_its_default_seed() -> None:
    xor = generated("xor")
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    params, history = xor.train(XOR_X, Y)
    assert history["loss"][-1] < 0.01 < history["loss"][0]
    assert np.array_equal(np.round(xor.predict(params, XOR_X)), Y)


def test_perceptron_learns_and() -> None:
    perceptron = generated("perceptron_and")
    Y = np.array([[0], [0], [0], [1]], dtype=float)
    params, _ = perceptron.train(XOR_X, Y)
    assert np.array_equal(np.round(perceptron.predict(params, XOR_X)), Y)


def _blobs(rng: np.random.Generator, n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(0, k, n)
    return centres[labels] + rng.normal(size=(n, d)), np.eye(k)[labels]


def test_softmax_classifier_reaches_high_accuracy(rng: np.random.Generator) -> None:
    model = generated("softmax_classifier")
    X, Y = _blobs(rng, 300, 4, 3)
    _, history = model.train(X[:200], Y[:200], validation=(X[200:], Y[200:]))
    assert history["val_accuracy"][-1] > 0.9
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_regression_fits_a_smooth_function(rng: np.random.Generator) -> None:
    model = generated("regression")
    X = rng.uniform(-1, 1, size=(256, 3))
    Y = (np.sin(2 * X[:, :1]) + X[:, 1:2] * X[:, 2:3])
    params, _ = model.train(X, Y)
    assert model.loss(params, X, Y) < 0.05 * float(np.var(Y))


def test_swish_network_separates_two_rings(rng: np.random.Generator) -> None:
    model = generated("swish")
    angles = rng.uniform(0, 2 * np.pi, 400)
    radius = np.where(np.arange(400) % 2 == 0, 1.0, 2.5) + 0.1 * rng.normal(size=400)
    X = np.c_[radius * np.cos(angles), radius * np.sin(angles)]
    Y = (np.arange(400) % 2 == 0).astype(float)[:, None]
    params, _ = model.train(X, Y)
    assert model.accuracy(params, X, Y) > 0.95


TINY = {"inputs": 2, "loss": "sse", "layers": [{"units": 1, "activation": "identity"}]}


def _one_step(optimizer: str, **options: float) -> tuple[ModuleType, dict, dict, dict]:
    model = build(**TINY)
    X, Y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[1.0], [0.0]])
    start = model.init_params(seed=0)
    _, grads = model.gradients(start, X, Y)
    after, _ = model.train(X, Y, start, optimizer=optimizer, epochs=1, batch_size=2, **options)
    return model, start, grads, after


def test_gd_step_is_w_minus_eta_gradient() -> None:
    _, start, grads, after = _one_step("gd", learning_rate=0.1)
    for key in start:
        np.testing.assert_allclose(after[key], start[key] - 0.1 * grads[key], rtol=1e-12, atol=1e-15)


def test_momentum_first_step_is_minus_eta_gradient() -> None:
    _, start, grads, after = _one_step("momentum", learning_rate=0.1, momentum=0.9)
    for key in start:  # v = 0.9·0 − 0.1 g, w ← w + v
        np.testing.assert_allclose(after[key], start[key] - 0.1 * grads[key], rtol=1e-12, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_eta() -> None:
    _, start, grads, after = _one_step("adam", learning_rate=0.01, epsilon=1e-8)
    for key in start:  # m̂ = g, v̂ = g², so the step is η g / (|g| + ε)
        expected = start[key] - 0.01 * grads[key] / (np.abs(grads[key]) + 1e-8)
        np.testing.assert_allclose(after[key], expected, rtol=1e-9, atol=1e-15)


def test_seeded_training_is_reproducible_bit_for_bit(rng: np.random.Generator) -> None:
    model = generated("softmax_classifier")
    X, Y = _blobs(rng, 100, 4, 3)
    first, h1 = model.train(X, Y, epochs=5)
    second, h2 = model.train(X, Y, epochs=5)
    assert h1 == h2 and all(np.array_equal(first[k], second[k]) for k in first)


def test_training_on_large_inputs_raises_no_runtime_warning(rng: np.random.Generator) -> None:
    model = build(inputs=4, loss="bce", layers=[{"units": 8, "activation": "sigmoid"},
                                                {"units": 1, "activation": "sigmoid"}])
    X = 1e3 * rng.normal(size=(64, 4))
    Y = (X[:, :1] > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, history = model.train(X, Y, optimizer="sgd", learning_rate=0.1, epochs=5)
        assert np.all(np.isfinite(history["loss"]))
        assert np.isfinite(model.loss(model.init_params(), X, Y))


def test_divergence_stops_with_the_epoch_and_advice(rng: np.random.Generator) -> None:
    model = build(inputs=2, loss="sse", layers=[{"units": 8, "activation": "relu"},
                                                {"units": 1, "activation": "identity"}])
    X, Y = 100 * rng.normal(size=(32, 2)), 100 * rng.normal(size=(32, 1))
    with pytest.raises(FloatingPointError, match=r"epoch \d+.*smaller learning_rate"):
        model.train(X, Y, optimizer="gd", learning_rate=10.0, epochs=50)


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    model = generated("xor")
    params = model.init_params(seed=7)
    model.save(params, tmp_path / "p.npz")
    loaded = model.load(tmp_path / "p.npz")
    assert all(np.array_equal(params[k], loaded[k]) and loaded[k].dtype == params[k].dtype for k in params)
    other = generated("perceptron_and")
    with pytest.raises(ValueError, match=r"unexpected keys .*W2"):
        other.load(tmp_path / "p.npz")


def test_gathering_batch_by_batch_equals_shuffling_whole(rng: np.random.Generator,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    model = generated("softmax_classifier")
    X, Y = _blobs(rng, 103, 4, 3)  # 103 = 6 batches of 16 and one of 7
    for optimizer in ("sgd", "momentum", "adam"):
        whole = model.train(X, Y, optimizer=optimizer, epochs=3, batch_size=16)
        monkeypatch.setattr(model, "SHUFFLE_WHOLE_BYTES", 0)
        gathered = model.train(X, Y, optimizer=optimizer, epochs=3, batch_size=16)
        monkeypatch.undo()
        assert whole[1] == gathered[1]
        assert all(np.array_equal(whole[0][k], gathered[0][k]) for k in whole[0])


def test_float32_stays_float32_end_to_end(rng: np.random.Generator) -> None:
    model = build(inputs=4, loss="cross_entropy", reduction="mean", dtype="float32",
                  layers=[{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}])
    X, Y = _blobs(rng, 64, 4, 3)  # float64 data: converted once, at the door
    assert all(v.dtype == np.float32 for v in model.init_params().values())
    work = model._work(5, np.float32)
    assert {array.dtype for array in work} == {np.dtype(np.float32), np.dtype(bool)}  # bool: relu's masks
    params, history = model.train(X, Y, optimizer="adam", learning_rate=0.01, epochs=20, batch_size=16)
    assert all(v.dtype == np.float32 for v in params.values())
    assert model.forward(params, X).dtype == np.float32
    _, grads = model.gradients(params, X, Y)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    p64, _ = build(inputs=4, loss="cross_entropy", reduction="mean", layers=[
        {"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}]).train(
        X, Y, optimizer="adam", learning_rate=0.01, epochs=20, batch_size=16)
    assert all(np.allclose(params[k], p64[k], rtol=1e-3, atol=1e-3) for k in params)


def test_relu_takes_slope_zero_at_the_kink() -> None:
    # One relu unit, X = [[0, 0]] and b = 0 give Z = 0 exactly: with H(0) = 0 nothing flows back,
    # so ∂E/∂W = ∂E/∂b = 0 although E = ½(0 − 1)² = ½ is not at a minimum.
    model = build(inputs=2, loss="sse", layers=[{"units": 1, "activation": "relu"}])
    params = {"W1": np.array([[0.5], [-0.5]]), "b1": np.array([0.0])}
    E, grads = model.gradients(params, [[0.0, 0.0]], [[1.0]])
    assert E == 0.5
    assert not np.any(grads["W1"]) and not np.any(grads["b1"])
    E, grads = model.gradients(params, [[2.0, 0.0]], [[2.0]])  # Z = 1 > 0: δ = A − Y = −1
    assert grads["W1"].tolist() == [[-2.0], [0.0]] and grads["b1"].tolist() == [-1.0]


def test_validation_history_and_callback(rng: np.random.Generator) -> None:
    model = generated("softmax_classifier")
    X, Y = _blobs(rng, 120, 4, 3)
    seen: list[tuple[int, float]] = []
    params, history = model.train(X[:80], Y[:80], epochs=4, validation=(X[80:], Y[80:]),
                                  callback=lambda epoch, loss: seen.append((epoch, loss)))
    assert seen == list(enumerate(history["loss"]))
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 4
    assert history["val_loss"][-1] == pytest.approx(model.loss(params, X[80:], Y[80:]), rel=1e-12)
    assert history["val_accuracy"][-1] == model.accuracy(params, X[80:], Y[80:])


def test_saturated_units_stay_exact_and_silent() -> None:
    # |Z| = 1e4: σ must give exactly 0 and 1 (tanh form), the loss log-domain values, no warning.
    model = build(inputs=1, loss="bce", layers=[{"units": 1, "activation": "sigmoid"}])
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    X = np.array([[-1e4], [1e4], [0.0]])
    assert model.forward(params, X).ravel().tolist() == [0.0, 1.0, 0.5]
    E, grads = model.gradients(params, X, [[1.0], [0.0], [1.0]])
    # E = −log σ(−1e4) − log(1 − σ(1e4)) − log ½ = 1e4 + 1e4 + log 2, worked in the log domain
    assert E == pytest.approx(2e4 + np.log(2), rel=1e-12)
    assert grads["b1"].tolist() == [-0.5]  # Σ (A − Y) = −1 + 1 − ½
    assert grads["W1"].tolist() == [[2e4]]  # Σ X (A − Y) = (−1e4)(−1) + (1e4)(1) + 0
