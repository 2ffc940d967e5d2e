"""The generated module's tools for training a real model: gradient check, progress, stopping,
class labels, scores, summary, save/load (issue 10), and its argument checks (issue 11, item 10)."""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import build

pytestmark = pytest.mark.filterwarnings("error")

CLASSIFIER = {"inputs": 4, "loss": "cross_entropy", "reduction": "mean",
              "layers": [{"units": 6, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]}
REGRESSION = {"inputs": 3, "loss": "mse", "reduction": "mean",
              "layers": [{"units": 5, "activation": "tanh"}, {"units": 2, "activation": "identity"}]}


def _blobs(rng: np.random.Generator, n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 3, n)
    return rng.normal(size=(3, 4))[labels] * 3 + rng.normal(size=(n, 4)), labels


# --- numerical_gradient and check_gradients ---------------------------------------------------


def test_numerical_gradient_of_a_line_fit_worked_on_paper() -> None:
    # E = ½ Σ_k (x_k w + b − y_k)²: ∂E/∂w = Σ_k (x_k w + b − y_k) x_k, ∂E/∂b = Σ_k (x_k w + b − y_k).
    # E is quadratic in w and b, so central differences are exact up to rounding.
    model = build(inputs=1, loss="sse", layers=[{"units": 1, "activation": "identity"}])
    params = {"W1": np.array([[2.0]]), "b1": np.array([0.5])}
    X, Y = np.array([[1.0], [3.0]]), np.array([[1.0], [2.0]])
    # residuals: 1·2 + 0.5 − 1 = 1.5 and 3·2 + 0.5 − 2 = 4.5
    numeric = model.numerical_gradient(params, X, Y)
    assert numeric["W1"][0, 0] == pytest.approx(1.5 * 1 + 4.5 * 3, rel=1e-9)
    assert numeric["b1"][0] == pytest.approx(1.5 + 4.5, rel=1e-9)


def test_numerical_gradient_is_float64_for_float32_params(rng: np.random.Generator) -> None:
    m32, m64 = build(**CLASSIFIER, dtype="float32"), build(**CLASSIFIER)
    X, labels = _blobs(rng, 6)
    p32 = m32.init_params(seed=4)
    numeric = m32.numerical_gradient(p32, X, labels)
    _, exact = m64.gradients({k: v.astype(np.float64) for k, v in p32.items()}, X, labels)
    for key, value in numeric.items():
        assert value.dtype == np.float64 and value.shape == p32[key].shape
        np.testing.assert_allclose(value, exact[key], rtol=1e-6, atol=1e-9)
    assert all(p32[key].dtype == np.float32 for key in p32)  # the input params are left alone


def test_check_gradients_is_small_when_right_and_large_when_wrong(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng, 5)
    params = model.init_params(seed=1)
    assert model.check_gradients(params, X, labels) < 1e-7
    assert model.check_gradients(params, X, labels, entries=4) < 1e-7
    assert build(**CLASSIFIER, dtype="float32").check_gradients(params, X, labels) < 1e-3
    backward = model._backward

    def off_by_a_tenth(params, X, Y, work, grads, scale=1.0):  # a wrong ∂E/∂b1
        backward(params, X, Y, work, grads, scale)
        grads["b1"] *= 1.1

    model._backward = off_by_a_tenth
    assert model.check_gradients(params, X, labels) > 0.01


def test_gradient_check_arguments_are_named() -> None:
    model = build(**CLASSIFIER)
    params, X, Y = model.init_params(), np.zeros((2, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match=r"^h: expected a finite number > 0"):
        model.numerical_gradient(params, X, Y, h=0)
    with pytest.raises(ValueError, match=r"^entries: expected an integer >= 1"):
        model.check_gradients(params, X, Y, entries=0)


# --- train: progress, callback, patience, history --------------------------------------------


def test_verbose_prints_a_line_per_epoch_throttled(rng: np.random.Generator, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng)
    monkeypatch.setattr(model, "REPORT_SECONDS", 0.0)
    model.train(X[:60], labels[:60], epochs=4, validation=(X[60:], labels[60:]), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert all(re.search(r"loss \S+  val_loss \S+  val_accuracy \S+  \d+\.\d s$", line) for line in lines)
    monkeypatch.setattr(model, "REPORT_SECONDS", 1e9)  # fast epochs: only the last one is shown
    model.train(X, labels, epochs=50, verbose=True)
    assert capsys.readouterr().out.splitlines()[0].startswith("epoch 50/50  loss ")
    model.train(X, labels, epochs=5)
    assert capsys.readouterr().out == ""


def test_callback_returning_false_stops_after_that_epoch(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng)
    _, history = model.train(X, labels, epochs=10, callback=lambda epoch, loss: epoch != 2)
    assert len(history["loss"]) == 3
    _, history = model.train(X, labels, epochs=4, callback=lambda epoch, loss: None)  # None is not False
    assert len(history["loss"]) == 4


def test_patience_stops_and_returns_the_best_epochs_params(rng: np.random.Generator) -> None:
    # Validation targets are the negated training targets: the better the fit, the worse the
    # validation loss, so it is best early and training stops `patience` epochs later.
    model = build(**REGRESSION)
    X = rng.normal(size=(64, 3))
    Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]
    settings = {"optimizer": "sgd", "learning_rate": 0.05, "batch_size": 16, "seed": 3}
    params, history = model.train(X, Y, epochs=100, validation=(X, -Y), patience=3, **settings)
    best = int(np.argmin(history["val_loss"]))
    assert len(history["loss"]) == best + 1 + 3 < 100
    again, _ = model.train(X, Y, epochs=best + 1, **settings)
    assert all(np.array_equal(params[key], again[key]) for key in params)


def test_history_dict_is_filled_as_training_goes(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng)
    record: dict[str, list[float]] = {}
    seen: list[float] = []
    _, history = model.train(X[:60], labels[:60], epochs=3, validation=(X[60:], labels[60:]), history=record,
                             callback=lambda epoch, loss: seen.append(record["val_loss"][epoch]))
    assert history is record and seen == record["val_loss"] and len(seen) == 3


def test_patience_needs_validation() -> None:
    model = build(**CLASSIFIER)
    with pytest.raises(ValueError, match=r"^patience: .*validation=\(Xv, Yv\)"):
        model.train(np.zeros((3, 4)), [0, 1, 2], patience=2)
    with pytest.raises(ValueError, match=r"^patience: expected an integer >= 1"):
        model.train(np.zeros((3, 4)), [0, 1, 2], patience=0, validation=(np.zeros((3, 4)), [0, 1, 2]))


# --- class labels, predict_labels, accuracy, score ---------------------------------------------


def test_integer_labels_train_exactly_as_one_hot_rows(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng)
    one_hot = np.eye(3)[labels]
    by_labels = model.train(X, labels, epochs=5, optimizer="sgd", batch_size=8)
    by_rows = model.train(X, one_hot, epochs=5, optimizer="sgd", batch_size=8)
    assert by_labels[1] == by_rows[1]
    params = by_labels[0]
    assert model.accuracy(params, X, labels) == model.accuracy(params, X, one_hot)
    assert model.loss(params, X, labels.astype(float)) == model.loss(params, X, one_hot)  # whole floats too


def test_bce_takes_labels_0_and_1() -> None:
    model = build(inputs=2, loss="bce", layers=[{"units": 1, "activation": "sigmoid"}])
    params = model.init_params()
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert model.loss(params, X, np.array([0, 1, 1])) == model.loss(params, X, [[0.0], [1.0], [1.0]])
    assert model.loss(params, X, np.array([False, True, True])) == model.loss(params, X, [[0.0], [1.0], [1.0]])
    with pytest.raises(ValueError, match=r"^Y\[1\]: 2 is not a class label: expected a whole number 0\.\.1"):
        model.loss(params, X, np.array([0, 2, 1]))


def test_bad_labels_are_named_with_their_row(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    params, X = model.init_params(), rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"^Y\[1\]: 3 is not a class label: expected a whole number 0\.\.2"):
        model.loss(params, X, np.array([0, 3, 1]))
    with pytest.raises(ValueError, match=r"^Y\[2\]: 1\.5 is not a class label: expected a whole number 0\.\.2"):
        model.loss(params, X, np.array([0.0, 1.0, 1.5]))
    with pytest.raises(ValueError, match=r"^Y\[0\]: -1 is not a class label: expected a whole number 0\.\.2"):
        model.loss(params, X, np.array([-1, 0, 1]))
    with pytest.raises(ValueError, match=r"^Y: expected shape \(n, 3\) \(one-hot rows\) or \(n,\) \(class labels "
                                         r"0\.\.2\), got \(3, 2\)"):
        model.loss(params, X, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^Y: expected 3 rows to match X, got shape \(2, 3\)"):
        model.loss(params, X, np.array([0, 1]))


def test_regression_refuses_labels_and_accuracy(rng: np.random.Generator) -> None:
    model = build(**REGRESSION)
    params, X = model.init_params(), rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"^Y: expected shape \(n, 2\), got \(4,\)"):
        model.loss(params, X, np.zeros(4))
    with pytest.raises(ValueError, match=r"^accuracy: this network is a regression .*use score\(\) for R²"):
        model.accuracy(params, X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^predict_labels: this network is a regression"):
        model.predict_labels(params, X)


def test_predict_labels_and_score_of_a_classifier(rng: np.random.Generator) -> None:
    model = build(**CLASSIFIER)
    X, labels = _blobs(rng)
    params, _ = model.train(X, labels, epochs=200)
    predicted = model.predict_labels(params, X)
    assert predicted.shape == (90,) and np.array_equal(predicted, np.argmax(model.predict(params, X), axis=1))
    assert model.score(params, X, labels) == model.accuracy(params, X, labels) == np.mean(predicted == labels) > 0.9
    sigmoid = build(inputs=1, loss="bce", layers=[{"units": 1, "activation": "sigmoid"}])
    one = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    assert sigmoid.predict_labels(one, [[-2.0], [0.0], [3.0]]).tolist() == [0, 0, 1]  # σ(0) = ½ is not > ½


def test_score_of_a_regression_is_r2_worked_by_hand() -> None:
    model = build(inputs=1, loss="mse", layers=[{"units": 2, "activation": "identity"}])
    params = {"W1": np.array([[1.0, 0.0]]), "b1": np.array([0.0, 2.0])}  # outputs x and 2
    X = np.array([[1.0], [2.0], [3.0]])
    # output 1 predicts x against targets 1, 2, 4: residual 0+0+1 = 1, spread about 7/3: 2/3... R² = 1 − 1/(14/3)
    # output 2 predicts 2 against constant targets 2: exact, so it counts 1 (never NaN)
    Y = np.array([[1.0, 2.0], [2.0, 2.0], [4.0, 2.0]])
    spread = (1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2
    assert model.score(params, X, Y) == pytest.approx(((1 - 1 / spread) + 1) / 2, rel=1e-12)
    Y[:, 1] = 5.0  # constant targets missed: counts 0
    assert model.score(params, X, Y) == pytest.approx(((1 - 1 / spread) + 0) / 2, rel=1e-12)


def test_regression_history_has_r2_not_nan_accuracy(rng: np.random.Generator) -> None:
    model = build(**REGRESSION)
    X = rng.normal(size=(40, 3))
    Y = np.c_[X[:, 0], X[:, 1] - X[:, 2]]
    params, history = model.train(X, Y, epochs=3, validation=(X, Y))
    assert "val_accuracy" not in history
    assert history["val_r2"][-1] == pytest.approx(model.score(params, X, Y), rel=1e-12)


# --- summary and save/load ---------------------------------------------------------------------


def test_summary_lists_layers_shapes_and_counts() -> None:
    model = build(name="digits", inputs=64, loss="cross_entropy", reduction="mean", dtype="float32",
                  layers=[{"units": 32, "activation": "sigmoid"}, {"units": 10, "activation": "softmax"}])
    lines = model.summary().splitlines()
    assert lines[0] == "Network digits: 64 inputs, 2 layers"
    assert lines[1].split() == ["layer", "kind", "activation", "output", "W", "shape", "b", "shape", "parameters"]
    assert lines[2].split() == ["1", "dense", "sigmoid", "(32,)", "(64,", "32)", "(32,)", str(64 * 32 + 32)]
    assert lines[3].split() == ["2", "dense", "softmax", "(10,)", "(32,", "10)", "(10,)", str(32 * 10 + 10)]
    assert lines[4].split() == ["total", str(64 * 32 + 32 + 32 * 10 + 10)]
    assert lines[5] == "loss cross_entropy, reduction mean, dtype float32"


def test_save_and_load_agree_about_the_suffix(tmp_path: object) -> None:
    model = build(**CLASSIFIER)
    params = model.init_params(seed=5)
    model.save(params, tmp_path / "weights")  # type: ignore[operator]
    assert (tmp_path / "weights.npz").is_file()  # type: ignore[operator]
    for name in ("weights", "weights.npz"):
        loaded = model.load(tmp_path / name)  # type: ignore[operator]
        assert all(np.array_equal(loaded[key], params[key]) for key in params)
        loaded["W1"][0, 0] = 1.0  # loaded arrays are the caller's to change


# --- argument checks (issue 11, item 10) -------------------------------------------------------


def _data(model: ModuleType) -> tuple[np.ndarray, np.ndarray]:
    """Four samples for CLASSIFIER."""
    return np.zeros((4, 4)), np.eye(3)[[0, 1, 2, 0]]


@pytest.mark.parametrize(("validation", "message"), [
    ((np.zeros((4, 2)), np.eye(3)[[0, 1, 2, 0]]), r"^validation: X: expected shape \(n, 4\), got \(4, 2\)"),
    ((np.zeros((4, 4)), np.eye(3)[[0, 1]]), r"^validation: Y: expected 4 rows to match X"),
    ((np.zeros((4, 4)),), r"^validation: expected a pair \(Xv, Yv\), got a tuple of 1"),
    ({"X": np.zeros((4, 4)), "Y": np.eye(3)}, r"^validation: expected a pair \(Xv, Yv\), got dict"),
    ((np.zeros((4, 4)), np.eye(3)[[0, 1, 2, 0]], None), r"^validation: expected a pair \(Xv, Yv\), got a tuple of 3"),
    (np.zeros((4, 4)), r"^validation: expected a pair \(Xv, Yv\), got ndarray"),
])
def test_bad_validation_is_named(validation: object, message: str) -> None:
    model = build(**CLASSIFIER)
    with pytest.raises(ValueError, match=message):
        model.train(*_data(model), epochs=1, validation=validation)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_bad_seed_is_named(seed: object) -> None:
    model = build(**CLASSIFIER)
    with pytest.raises(ValueError, match=r"^seed: expected an integer >= 0, got "):
        model.train(*_data(model), epochs=1, seed=seed)
    with pytest.raises(ValueError, match=r"^seed: expected an integer >= 0, got "):
        model.init_params(seed=seed)


def test_numpy_scalars_are_numbers_like_any_other() -> None:
    model = build(**CLASSIFIER)
    X, Y = _data(model)
    by_numpy = model.train(X, Y, epochs=np.int32(3), learning_rate=np.float32(0.1), momentum=np.float64(0.5),
                           optimizer="momentum", batch_size=np.int64(2), seed=np.uint8(1))
    by_python = model.train(X, Y, epochs=3, learning_rate=float(np.float32(0.1)), momentum=0.5,
                            optimizer="momentum", batch_size=2, seed=1)
    assert by_numpy[1] == by_python[1]
    with pytest.raises(ValueError, match=r"^learning_rate: expected a finite number > 0, got"):
        model.train(X, Y, epochs=1, learning_rate=np.bool_(True))
