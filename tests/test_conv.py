"""Convolutional networks: generated modules against PyTorch's autograd and central differences.

Each spec here is built for the test (kernel sizes, strides, paddings including "same",
non-square inputs, two conv layers, both poolings with and without tiling windows, relu, tanh,
sigmoid); PyTorch's conv2d, max_pool2d, avg_pool2d and flatten compute the same network from
the same weights (W of shape (filters, C, kh, kw), flatten in (C, H, W) order), and the losses
and gradients must agree to 1e-8 relative in float64. NumPy warnings are errors here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn import functional as F  # noqa: N812 (PyTorch's own spelling)

from chainrule.cli import codegen_main
from codegen import import_module, render_latex, render_markdown
from derive import SpecError, derive_network, load_spec, spec_from_dict
from derive.layers import conv2d
from derive.layers.conv2d import verify_conv2d
from derive.layers.pool2d import verify_pool2d
from derive.story import document
from derive.verify import verify_matrix_form
from tests.conftest import ROOT, build, numeric_gradients, relative_error
from tests.rendering import compile_tex

pytestmark = pytest.mark.filterwarnings("error")

ACTIVATIONS = {"identity": lambda z: z, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
               "softmax": lambda z: torch.softmax(z, dim=1)}


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def torch_gradients(spec: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray,
                    Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """E and ∂E/∂w by PyTorch's autograd for the network of ``spec``, read independently of chainrule."""
    weights = {key: torch.tensor(value, dtype=torch.float64, requires_grad=True) for key, value in params.items()}
    A = torch.tensor(X, dtype=torch.float64)
    for index, layer in enumerate(spec["layers"], start=1):
        kind = layer.get("type", "dense")
        if kind == "conv2d":
            padding = layer.get("padding", 0)
            padding = padding if isinstance(padding, str) else _pair(padding)
            A = F.conv2d(A, weights[f"W{index}"], weights[f"b{index}"], stride=_pair(layer.get("stride", 1)),
                         padding=padding)
            A = ACTIVATIONS[layer.get("activation", "identity")](A)
        elif kind in ("maxpool2d", "avgpool2d"):
            pool = _pair(layer["pool"])
            stride = _pair(layer.get("stride", layer["pool"]))
            A = (F.max_pool2d if kind == "maxpool2d" else F.avg_pool2d)(A, pool, stride)
        elif kind == "flatten":
            A = torch.flatten(A, 1)
        else:
            A = ACTIVATIONS[layer.get("activation", "identity")](A @ weights[f"W{index}"] + weights[f"b{index}"])
    T = torch.tensor(Y, dtype=torch.float64)
    reduction = spec.get("reduction", "sum")
    if spec["loss"] == "cross_entropy":
        E = -(T * torch.log(A)).sum()
    elif spec["loss"] == "bce":
        E = -(T * torch.log(A) + (1 - T) * torch.log(1 - A)).sum()
    else:  # sse
        E = ((A - T) ** 2).sum() / 2
    E = E / A.shape[0] if reduction == "mean" else E
    E.backward()
    return E.item(), {key: weight.grad.numpy() for key, weight in weights.items()}


def _data(spec: dict[str, Any], samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, *spec["inputs"]))
    outputs = spec["layers"][-1]["units"]
    if spec["loss"] == "cross_entropy":
        return X, np.eye(outputs)[rng.integers(0, outputs, samples)]
    if spec["loss"] == "bce":
        return X, rng.integers(0, 2, (samples, outputs)).astype(float)
    return X, rng.normal(size=(samples, outputs))


def _params(module: Any, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {key: value + 0.2 * rng.normal(size=value.shape) for key, value in module.init_params(seed).items()}


CONV = {"type": "conv2d"}
SPECS: dict[str, dict[str, Any]] = {
    "digits-like": {"inputs": [1, 8, 8], "loss": "cross_entropy", "layers": [
        {**CONV, "filters": 3, "kernel": 3, "padding": 1, "activation": "relu"},
        {"type": "maxpool2d", "pool": 2}, {"type": "flatten"}, {"units": 4, "activation": "softmax"}]},
    "non-square, strided, two convs, avgpool": {"inputs": [2, 9, 7], "loss": "sse", "reduction": "mean", "layers": [
        {**CONV, "filters": 3, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "activation": "tanh"},
        {**CONV, "filters": 2, "kernel": 2, "padding": "valid", "activation": "sigmoid"},
        {"type": "avgpool2d", "pool": [2, 3], "stride": 1}, {"type": "flatten"},
        {"units": 3, "activation": "identity"}]},
    "same padding, overlapping maxpool": {"inputs": [3, 6, 5], "loss": "bce", "layers": [
        {**CONV, "filters": 4, "kernel": 5, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "pool": 3, "stride": 2}, {"type": "flatten"},
        {"units": 5, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}]},
    "pool first, cropped tiles, stride 2 conv": {"inputs": [2, 11, 10], "loss": "sse", "layers": [
        {"type": "avgpool2d", "pool": 2}, {**CONV, "filters": 2, "kernel": [2, 3], "stride": 2, "padding": 1,
                                          "activation": "relu"},
        {"type": "maxpool2d", "pool": [2, 1]}, {"type": "flatten"}, {"units": 3}]},
    "flatten first": {"inputs": [2, 3, 4], "loss": "sse", "layers": [
        {"type": "flatten"}, {"units": 3, "activation": "tanh"}, {"units": 2}]},
    "stride larger than kernel, padding larger than kernel": {"inputs": [1, 7, 9], "loss": "sse", "layers": [
        {**CONV, "filters": 2, "kernel": 1, "padding": 2, "activation": "tanh"},
        {**CONV, "filters": 3, "kernel": 2, "stride": 3, "activation": "sigmoid"}, {"type": "flatten"}, {"units": 2}]},
    "three convs, two dense": {"inputs": [1, 10, 10], "loss": "cross_entropy", "layers": [
        {**CONV, "filters": 2, "kernel": 3, "activation": "relu"},
        {**CONV, "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "tanh"},
        {**CONV, "filters": 2, "kernel": 2, "activation": "sigmoid"}, {"type": "flatten"},
        {"units": 4, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
    "1x1 conv, identity": {"inputs": [3, 4, 4], "loss": "cross_entropy", "reduction": "mean", "layers": [
        {**CONV, "filters": 2, "kernel": 1}, {**CONV, "filters": 2, "kernel": 3, "stride": 3, "padding": 1,
                                              "activation": "tanh"},
        {"type": "flatten"}, {"units": 3, "activation": "softmax"}]},
}


@pytest.mark.parametrize("name", list(SPECS))
def test_gradients_equal_pytorchs(name: str) -> None:
    spec = SPECS[name]
    module = build(**spec)
    X, Y = _data(spec, 5, seed=1)
    params = _params(module, seed=2)
    E, grads = module.gradients(params, X, Y)
    E_torch, grads_torch = torch_gradients(spec, params, X, Y)
    assert E == pytest.approx(E_torch, rel=1e-10)
    assert set(grads) == set(grads_torch)
    assert relative_error(grads, grads_torch) < 1e-8
    for key in grads:
        assert grads[key].shape == params[key].shape
        np.testing.assert_allclose(grads[key], grads_torch[key], rtol=1e-8,
                                   atol=1e-10 * max(np.abs(grads_torch[key]).max(), 1e-12))


@pytest.mark.parametrize("name", ["non-square, strided, two convs, avgpool",
                                  "pool first, cropped tiles, stride 2 conv"])
def test_gradients_equal_central_differences(name: str) -> None:
    spec = SPECS[name]
    module = build(**spec)
    X, Y = _data(spec, 3, seed=3)
    params = _params(module, seed=4)
    _, grads = module.gradients(params, X, Y)
    numeric = numeric_gradients(lambda p: module.loss(p, X, Y), params)
    assert relative_error(grads, numeric) < 1e-6


def test_max_pooling_routes_a_tie_to_the_first_maximum_as_pytorch() -> None:
    # A 1x1 conv with W = (1, 1) over two channels makes a window of four equal values from different
    # inputs: channel 0 is [[0, 1], [1, 0]], channel 1 is [[1, 0], [0, 1]]. PyTorch routes δ to the first
    # maximum (row-major), position (0, 0), where x = (0, 1). On paper: A4 = 2·1 = 2, E = 2²/2 = 2,
    # δ4 = 2, δ at the pool = 2·2 = 4, so ∂E/∂W1 = 4·(0, 1) = (0, 4); routing to (0, 1) would give (4, 0).
    spec = {"inputs": [2, 2, 2], "loss": "sse", "layers": [
        {**CONV, "filters": 1, "kernel": 1}, {"type": "maxpool2d", "pool": 2}, {"type": "flatten"}, {"units": 1}]}
    module = build(**spec)
    X = np.array([[[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]]])
    params = {"W1": np.ones((1, 2, 1, 1)), "b1": np.zeros(1), "W4": np.array([[2.0]]), "b4": np.zeros(1)}
    E, grads = module.gradients(params, X, np.zeros((1, 1)))
    _, grads_torch = torch_gradients(spec, params, X, np.zeros((1, 1)))
    assert E == pytest.approx(2.0)
    np.testing.assert_allclose(grads["W1"].ravel(), [0.0, 4.0], atol=1e-15)
    np.testing.assert_allclose(grads["W1"], grads_torch["W1"], atol=1e-15)


def test_training_learns_and_keeps_shapes(tmp_path: Any) -> None:
    spec = SPECS["digits-like"]
    module = build(**spec)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 8, 8))
    labels = (X[:, 0, :4].sum(axis=(1, 2)) > X[:, 0, 4:].sum(axis=(1, 2))).astype(int) * 2 + \
        (X[:, 0, :, :4].sum(axis=(1, 2)) > 0).astype(int)
    Y = np.eye(4)[labels]
    params, history = module.train(X, Y, optimizer="adam", learning_rate=0.01, epochs=60, batch_size=16, seed=1)
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert module.accuracy(params, X, Y) > 0.9
    path = str(tmp_path / "p.npz")
    module.save(params, path)
    loaded = module.load(path)
    assert all(np.array_equal(loaded[key], params[key]) for key in params)
    with pytest.raises(ValueError, match=r"X: expected shape \(n, 1, 8, 8\), got \(3, 1, 8, 7\)"):
        module.forward(params, np.zeros((3, 1, 8, 7)))
    with pytest.raises(ValueError, match=r"params\['W1'\]: expected shape \(3, 1, 3, 3\)"):
        module.forward({**params, "W1": np.zeros((3, 1, 3, 2))}, X)


# ---------------------------------------------------------------------------------------------
# The spec: shapes checked when it is read, one line naming the field.

GOOD = {"name": "net", "inputs": [1, 8, 8], "loss": "cross_entropy", "layers": [
    {**CONV, "filters": 4, "kernel": 3}, {"type": "maxpool2d", "pool": 2}, {"type": "flatten"},
    {"units": 3, "activation": "softmax"}]}


def _with(index: int, **changes: Any) -> dict[str, Any]:
    layers = [dict(layer) for layer in GOOD["layers"]]
    layers[index] = {key: value for key, value in {**layers[index], **changes}.items() if value is not None}
    return {**GOOD, "layers": layers}


@pytest.mark.parametrize(("spec", "field", "message"), [
    (_with(0, kernel=9), "layers[0].kernel", "kernel 9x9 is larger than its input 8x8 (shape [1, 8, 8])"),
    (_with(0, kernel=[3, 12], padding=1), "layers[0].kernel",
     "kernel 3x12 is larger than its padded input 10x10 (shape [1, 8, 8])"),
    (_with(1, pool=[2, 7]), "layers[1].pool", "pooling window 2x7 is larger than its input 6x6 (shape [4, 6, 6])"),
    (_with(2, type="dense", units=3), "layers[2].type",
     'a dense layer needs a flat input, got shape [4, 3, 3]; add a layer with type = "flatten" before it'),
    (_with(0, padding="same", stride=2), "layers[0].padding", '"same" padding needs stride 1, got stride [2, 2]'),
    (_with(0, padding="same", kernel=2), "layers[0].padding", '"same" padding needs an odd kernel'),
    (_with(0, padding="full"), "layers[0].padding", "unknown value 'full'"),
    (_with(0, type="conv"), "layers[0].type", "(did you mean 'conv2d'?)"),
    (_with(0, filter=4), "layers[0].filter", "(did you mean 'filters'?)"),
    (_with(1, units=3), "layers[1].units", "unknown key"),
    (_with(0, kernel=0), "layers[0].kernel", "expected integers from 1 to 4096, got 0"),
    (_with(0, stride=[1, 2, 3]), "layers[0].stride", "expected an integer or [height, width] of integers"),
    (_with(3, type="flatten", units=None, activation=None), "layers[3].type",
     "flatten needs an image input [C, H, W], got a flat input of 36"),
    (_with(0, activation="softmax"), "layers[0].activation", "softmax is supported on the output layer only"),
    ({**GOOD, "layers": GOOD["layers"][:2]}, "layers[1].type", "the output layer must be dense"),
    ({**GOOD, "inputs": [8, 8]}, "inputs", "expected an integer or [channels, height, width], got 2 numbers"),
    ({**GOOD, "inputs": [1, 0, 8]}, "inputs[1]", "expected an integer from 1 to 4096, got 0"),
    ({**GOOD, "inputs": 64}, "layers[0].type", "conv2d needs an image input [C, H, W], got a flat input of 64"),
    ({**GOOD, "data": {"X": [[0.0]], "Y": [[1.0]]}}, "data.X[0]", "expected a row of 64 numbers"),
])
def test_bad_shapes_are_refused_with_one_line_naming_the_field(spec: dict[str, Any], field: str,
                                                               message: str) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict(spec)
    assert caught.value.field == field
    assert message in caught.value.message
    assert "\n" not in str(caught.value)


def test_a_kernel_too_large_exits_2_with_one_line_and_writes_nothing(tmp_path: Any,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "net.toml", tmp_path / "out"
    path.write_text('name = "net"\ninputs = [1, 5, 4]\nloss = "sse"\n[[layers]]\ntype = "conv2d"\nfilters = 2\n'
                    'kernel = [3, 5]\n[[layers]]\ntype = "flatten"\n[[layers]]\nunits = 1\n', encoding="utf-8")
    assert codegen_main([str(path), "-o", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"error: {path}: layers[0].kernel: kernel 3x5 is larger than its input 5x4 (shape [1, 5, 4])"]
    assert not out.exists()


def test_shapes_follow_pytorchs_output_size_formula() -> None:
    spec = spec_from_dict({**GOOD, "inputs": [3, 11, 7], "layers": [
        {**CONV, "filters": 5, "kernel": [3, 2], "stride": [2, 3], "padding": [1, 2]},
        {"type": "avgpool2d", "pool": [2, 3], "stride": 1}, {"type": "maxpool2d", "pool": 2}, {"type": "flatten"},
        {"units": 2}]})
    # ⌊(11 + 2 − 3)/2⌋ + 1 = 6, ⌊(7 + 4 − 2)/3⌋ + 1 = 4; then 6 − 2 + 1 = 5, 4 − 3 + 1 = 2; then ⌊5/2⌋ = 2, 1
    assert spec.shapes == ((3, 11, 7), (5, 6, 4), (5, 5, 2), (5, 2, 1), (10,), (2,))
    torch_shape = F.max_pool2d(F.avg_pool2d(F.conv2d(torch.zeros(1, 3, 11, 7), torch.zeros(5, 3, 3, 2),
                                                     stride=(2, 3), padding=(1, 2)), (2, 3), 1), 2).shape
    assert tuple(torch_shape[1:]) == spec.shapes[3]


# ---------------------------------------------------------------------------------------------
# The proof on small instances: the derived sums equal the expanded scalar chain rule.

@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_conv_sums_equal_the_expanded_chain_rule(stride: int, padding: int) -> None:
    assert verify_conv2d((2, 3), (stride, stride), (padding, padding), channels=2, filters=2, samples=2) == ()


@pytest.mark.parametrize(("kind", "pool", "stride"), [
    ("maxpool2d", (2, 2), (2, 2)), ("maxpool2d", (3, 2), (2, 1)), ("maxpool2d", (2, 2), (3, 3)),
    ("avgpool2d", (2, 2), (2, 2)), ("avgpool2d", (2, 3), (1, 2))])
def test_pooling_routing_equals_sympys_derivative(kind: str, pool: tuple[int, int], stride: tuple[int, int]) -> None:
    assert verify_pool2d(kind, pool, stride) == []


def test_the_conv_proof_catches_a_wrong_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    derived = conv2d.derive_conv2d()
    # the kernel not flipped: W[f, c, y − s·i + p] read as W[f, c, s·i − y + p]
    wrong = derived.input_sum.summed.xreplace({conv2d.y: 2 * conv2d.s * conv2d.i - conv2d.y})
    broken = dataclasses.replace(derived, input_sum=dataclasses.replace(derived.input_sum, summed=wrong))
    monkeypatch.setattr(conv2d, "derive_conv2d", lambda: broken)
    verify_conv2d.cache_clear()
    try:
        assert verify_conv2d((2, 2), (1, 1), (0, 0))
    finally:
        verify_conv2d.cache_clear()


def test_every_conv_example_is_proved() -> None:
    for name in ("digits_cnn", "lenet"):
        assert verify_matrix_form(derive_network(load_spec(ROOT / "examples" / f"{name}.toml"))) == []


# ---------------------------------------------------------------------------------------------
# The examples and the document.

def test_digits_cnn_reaches_95_percent_on_held_out_digits() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 1, 8, 8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    module = import_module(derive_network(load_spec(ROOT / "examples" / "digits_cnn.toml")))
    params, _ = module.train(x_tr, np.eye(10)[y_tr])
    assert module.accuracy(params, x_te, np.eye(10)[y_te]) >= 0.95


UNSEEN_DOCS = [SPECS["non-square, strided, two convs, avgpool"], SPECS["same padding, overlapping maxpool"],
               SPECS["three convs, two dense"]]


@pytest.mark.parametrize("spec", UNSEEN_DOCS, ids=["two-convs", "same-maxpool", "three-convs"])
def test_conv_documents_compile_and_show_the_convolution_steps(spec: dict[str, Any], tmp_path: Any) -> None:
    tex = render_latex(spec_from_dict({"name": "t", **spec}))
    compile_tex(tex, tmp_path, "t")
    assert "the convolution layer" in tex
    assert "correlation of the layer input" in tex and "transposed convolution" in tex
    assert "flipped kernel" not in tex  # true for stride 1 only; the transposed convolution holds for every stride
    assert r"\delta^{(l)}_{kgij}" in tex  # ∂E/∂b and ∂E/∂W: δ summed over samples k and positions i, j
    kinds = {layer.get("type") for layer in spec["layers"]}
    assert ("tie for the maximum" in tex) == ("maxpool2d" in kinds)
    assert ("spread evenly" in tex) == ("avgpool2d" in kinds)
    japanese = render_markdown(spec_from_dict({"name": "t", **spec}), "ja")
    assert "畳み込み層" in japanese


def test_a_conv_document_has_the_graph_and_the_worked_example_of_its_data_table() -> None:
    rows = np.random.default_rng(0).integers(-10, 11, size=(3, 64)) / 10
    targets = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]]
    spec = spec_from_dict({**GOOD, "data": {"X": rows.tolist(), "Y": targets}})
    doc = document(derive_network(spec), "en")
    assert [section.key for section in doc.sections][:4] == ["notation", "network", "chain", "graph"]
    assert [section.key for section in doc.sections][-3:] == ["backprop", "update", "worked"]
    worked = render_markdown(spec, "en").split("## A worked example with numbers")[1]
    assert "the rows of the spec's data table" in worked and "central difference" in worked


def test_conv_init_uses_pytorchs_fans() -> None:
    # He for relu: std √(2 / fan_in) with fan_in = C·kh·kw (PyTorch's _calculate_fan_in_and_fan_out);
    # Xavier for tanh: √(2 / (fan_in + fan_out)) with fan_out = F·kh·kw.
    spec = {"inputs": [16, 9, 9], "loss": "sse", "layers": [
        {**CONV, "filters": 64, "kernel": 5, "activation": "relu"},
        {**CONV, "filters": 32, "kernel": 3, "activation": "tanh"}, {"type": "flatten"}, {"units": 1}]}
    params = build(**spec).init_params(3)
    for key, activation in (("W1", "relu"), ("W2", "tanh")):
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(params[key].shape))
        expected = math.sqrt(2 / fan_in) if activation == "relu" else math.sqrt(2 / (fan_in + fan_out))
        assert params[key].std() == pytest.approx(expected, rel=0.05)
        assert not params[key.replace("W", "b")].any()


def test_float32_conv_training_with_validation_and_big_data_gathering() -> None:
    spec = {**SPECS["pool first, cropped tiles, stride 2 conv"], "dtype": "float32"}
    module = build(**spec)
    X, Y = _data(spec, 1200, seed=5)
    X, Y = np.repeat(X, 4, axis=0), np.repeat(Y, 4, axis=0)  # 4800·2·11·10 float32: batches are gathered
    params, history = module.train(X, Y, optimizer="momentum", learning_rate=0.001, epochs=2, batch_size=50,
                                   validation=(X[:20], Y[:20]))
    assert params["W2"].dtype == np.float32 and len(history["val_loss"]) == 2
    assert history["loss"][1] < history["loss"][0]
    assert X.astype(np.float32).nbytes > module.SHUFFLE_WHOLE_BYTES
