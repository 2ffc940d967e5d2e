"""GELU, ELU, SELU, SiLU, Mish, softsign; Huber, log-cosh, L1; cosh, sinh, erf, … in formulas.

Each is checked against PyTorch's autograd (CPU, float64) with PyTorch's own GELU (both
approximations), ELU, SELU, SiLU, Mish, Softsign, HuberLoss and L1Loss, and log-cosh written in
torch ops: loss values and gradients of whole networks to 1e-8 relative, the one-sided values
taken at kinks, and the outputs at |z| = 1000. The module's own erf is checked against
math.erf. NumPy warnings are errors here, as in the training tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn import functional as F  # noqa: N812 (PyTorch's own spelling)

from codegen import render_module
from derive import SpecError, derive_network, spec_from_dict
from tests.conftest import build, relative_error

pytestmark = pytest.mark.filterwarnings("error")

Tensor = torch.Tensor
TORCH_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda z: z,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,  # negative_slope 0.01, as the registry's
    "gelu": lambda z: F.gelu(z, approximate="none"),
    "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    "elu": F.elu,
    "selu": F.selu,
    "silu": F.silu,
    "mish": F.mish,
    "softsign": F.softsign,
    # formulas with the new functions and constants
    "cosh(z)/2 - sinh(z)/3": lambda z: torch.cosh(z) / 2 - torch.sinh(z) / 3,
    "atan(z) + log1p(z**2)": lambda z: torch.atan(z) + torch.log1p(z**2),
    "expm1(z/2) - softplus(-z)": lambda z: torch.expm1(z / 2) - F.softplus(-z),
    "pi*erf(z) - e**(-z**2)": lambda z: math.pi * torch.erf(z) - math.e ** (-(z**2)),
}
NEW_ACTIVATIONS = ["gelu", "gelu_tanh", "elu", "selu", "silu", "mish", "softsign"]
FORMULAS = ["cosh(z)/2 - sinh(z)/3", "atan(z) + log1p(z**2)", "expm1(z/2) - softplus(-z)", "pi*erf(z) - e**(-z**2)"]


def _by_outputs(loss: Callable[..., Tensor]) -> Callable[[Tensor, Tensor, str], Tensor]:
    """A loss that averages over the J outputs: torch's mean, or its sum divided by J."""
    return lambda A, Y, reduction: loss(A, Y, reduction=reduction) / (A.shape[1] if reduction == "sum" else 1)


def _log_cosh(A: Tensor, Y: Tensor, reduction: str) -> Tensor:
    return torch.log(torch.cosh(A - Y)).mean() if reduction == "mean" else torch.log(torch.cosh(A - Y)).sum()


TORCH_LOSSES: dict[str, Callable[[Tensor, Tensor, str], Tensor]] = {
    "huber": _by_outputs(lambda A, Y, reduction: F.huber_loss(A, Y, reduction=reduction, delta=1.0)),
    "l1": _by_outputs(F.l1_loss),
    "mse": _by_outputs(F.mse_loss),
    "log_cosh": _by_outputs(_log_cosh),
    "sse": lambda A, Y, reduction: ((A - Y) ** 2).sum() / 2 / (A.shape[0] if reduction == "mean" else 1),
}


def torch_gradients(spec: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray,
                    Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """E and ∂E/∂w by PyTorch's autograd, for the network of ``spec`` with ``params``."""
    weights = {key: torch.tensor(value, dtype=torch.float64, requires_grad=True) for key, value in params.items()}
    A = torch.tensor(X, dtype=torch.float64)
    for index, layer in enumerate(spec["layers"], start=1):
        A = TORCH_ACTIVATIONS[layer["activation"]](A @ weights[f"W{index}"] + weights[f"b{index}"])
    E = TORCH_LOSSES[spec["loss"]](A, torch.tensor(Y, dtype=torch.float64), spec.get("reduction", "sum"))
    E.backward()
    return E.item(), {key: weight.grad.numpy() for key, weight in weights.items()}


def assert_same_gradients(spec: dict[str, Any], X: np.ndarray, Y: np.ndarray, seed: int = 0) -> None:
    module = build(**spec)
    rng = np.random.default_rng(seed)
    params = {key: value + 0.3 * rng.normal(size=value.shape) for key, value in module.init_params(seed).items()}
    E, grads = module.gradients(params, X, Y)
    E_torch, grads_torch = torch_gradients(spec, params, X, Y)
    assert E == pytest.approx(E_torch, rel=1e-8)
    assert relative_error(grads, grads_torch) < 1e-8
    for key in grads:
        np.testing.assert_allclose(grads[key], grads_torch[key], rtol=1e-8, atol=1e-12 * np.abs(grads_torch[key]).max())


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS + FORMULAS)
def test_activations_give_torchs_gradients(activation: str) -> None:
    rng = np.random.default_rng(1)
    X, Y = 2 * rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    spec = {"inputs": 3, "loss": "mse", "reduction": "mean", "layers": [
        {"units": 6, "activation": activation}, {"units": 4, "activation": activation},
        {"units": 2, "activation": "identity"}]}
    assert_same_gradients(spec, X, Y)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("loss", ["huber", "log_cosh", "l1"])
def test_losses_give_torchs_values_and_gradients(loss: str, reduction: str) -> None:
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 3)), 3 * rng.normal(size=(20, 2))  # |a − y| on both sides of huber's 1
    spec = {"inputs": 3, "loss": loss, "reduction": reduction, "layers": [
        {"units": 5, "activation": "tanh"}, {"units": 2, "activation": "identity"}]}
    assert_same_gradients(spec, X, Y)


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
@pytest.mark.parametrize("loss", ["huber", "log_cosh", "l1"])
def test_new_activations_with_new_losses(activation: str, loss: str) -> None:
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(12, 2)), 2 * rng.normal(size=(12, 3))
    spec = {"inputs": 2, "loss": loss, "reduction": "mean", "layers": [
        {"units": 4, "activation": activation}, {"units": 3, "activation": activation}]}
    assert_same_gradients(spec, X, Y)


# ---------------------------------------------------------------------------------------------
# Kinks: the value taken where the derivative jumps, against PyTorch and against paper.

LAMBDA, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


@pytest.mark.parametrize(("activation", "slope"), [
    ("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0), ("selu", LAMBDA * ALPHA), ("softsign", 1.0),
    ("gelu", 0.5), ("gelu_tanh", 0.5), ("silu", 0.5), ("mish", math.tanh(math.log(2)))])
def test_slope_at_zero_is_torchs(activation: str, slope: float) -> None:
    # One unit, Z = 0 exactly, E = Σ A (sse against Y = A − 1): ∂E/∂b = f′(0), worked out on paper
    # (selu takes the left slope λα, elu's two sides agree at 1, gelu′(0) = silu′(0) = ½,
    # mish′(0) = tanh(softplus(0)) = tanh(log 2)), and equal to PyTorch's.
    spec = {"inputs": 1, "loss": "sse", "layers": [{"units": 1, "activation": activation}]}
    module = build(**spec)
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    X = np.array([[0.0]])
    Y = module.forward(params, X) - 1.0
    _, grads = module.gradients(params, X, Y)
    _, grads_torch = torch_gradients(spec, params, X, Y)
    assert grads["b1"][0] == pytest.approx(slope, rel=1e-15, abs=1e-300)
    assert grads["b1"][0] == pytest.approx(grads_torch["b1"][0], rel=1e-15, abs=1e-300)


@pytest.mark.parametrize(("loss", "residual", "gradient"), [
    ("l1", 0.0, 0.0), ("l1", 0.5, 1.0), ("l1", -2.0, -1.0),
    ("huber", 0.0, 0.0), ("huber", 1.0, 1.0), ("huber", -1.0, -1.0), ("huber", 0.25, 0.25), ("huber", 3.0, 1.0),
    ("log_cosh", 0.0, 0.0), ("log_cosh", 1.0, math.tanh(1.0)),
])
def test_loss_gradient_at_and_beside_its_kinks(loss: str, residual: float, gradient: float) -> None:
    # Identity output A = b1 (W1 = 0), Y = 0: ∂E/∂b1 = ∂ℓ/∂a at a − y = residual.
    spec = {"inputs": 1, "loss": loss, "layers": [{"units": 1, "activation": "identity"}]}
    module = build(**spec)
    params = {"W1": np.array([[0.0]]), "b1": np.array([residual])}
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    _, grads = module.gradients(params, X, Y)
    _, grads_torch = torch_gradients(spec, params, X, Y)
    assert grads["b1"][0] == pytest.approx(gradient, rel=1e-15, abs=0)
    assert grads["b1"][0] == pytest.approx(grads_torch["b1"][0], rel=1e-15, abs=0)


def test_kink_conventions_are_stated_as_data() -> None:
    net = derive_network(spec_from_dict({"name": "k", "inputs": 1, "loss": "l1", "layers": [
        {"units": 2, "activation": "selu"}, {"units": 2, "activation": "max(z, 0) - max(-z, 0)/2"},
        {"units": 1, "activation": "identity"}]}))
    selu, formula, identity = (layer.elementwise for layer in net.layers)
    assert "λα" in selu.kink and "left" in selu.kink
    assert "left" in formula.kink and "H(0) = 0" in formula.kink  # a user's formula gets the general statement
    assert identity.kink == ""
    assert "sign(0) = 0" in net.output.loss.kink


# ---------------------------------------------------------------------------------------------
# Stable forms: |z| = 1000 in float32 and float64, no warning, PyTorch's values.

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
def test_activations_at_plus_minus_1000(activation: str, dtype: str) -> None:
    spec = {"inputs": 1, "loss": "sse", "dtype": dtype, "layers": [{"units": 1, "activation": activation}]}
    module = build(**spec)
    kind = np.dtype(dtype).type
    params = {"W1": np.array([[1.0]], kind), "b1": np.array([0.0], kind)}
    X = np.array([[-1000.0], [-30.0], [-1.0], [0.0], [1.0], [30.0], [1000.0]])
    A = module.forward(params, X)
    expected = TORCH_ACTIVATIONS[activation](torch.tensor(X, dtype=torch.float64)).numpy()
    assert A.dtype == kind and np.all(np.isfinite(A))
    # σ is evaluated as ½ + ½ tanh(z/2), exact to an absolute eps, so z σ(z) to |z| eps: silu(−30) ≈ −2.8e-12
    # is off by 5e-16.
    rtol, eps = (1e-6 if dtype == "float32" else 1e-15), float(np.finfo(kind).eps)
    assert np.all(np.abs(A - expected) <= rtol * np.abs(expected) + eps * (1 + np.abs(X))), A - expected
    _, grads = module.gradients(params, X, np.zeros_like(X))
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("activation", "loss"), [
    ("gelu", "huber"), ("gelu_tanh", "log_cosh"), ("elu", "l1"), ("selu", "huber"), ("silu", "log_cosh"),
    ("mish", "l1"), ("softsign", "log_cosh"), ("atan(z) + log1p(z**2)", "huber")])
def test_training_on_inputs_scaled_by_1e3_raises_no_warning(activation: str, loss: str, dtype: str) -> None:
    rng = np.random.default_rng(4)
    X = 1e3 * rng.normal(size=(64, 4))
    Y = np.tanh(X[:, :2] / 1e3) + 0.1 * rng.normal(size=(64, 2))
    model = build(inputs=4, loss=loss, reduction="mean", dtype=dtype, layers=[
        {"units": 8, "activation": activation}, {"units": 2, "activation": "identity"}])
    start = model.loss(model.init_params(), X, Y)
    _, grads = model.gradients(model.init_params(), X, Y)
    assert np.isfinite(start) and all(np.all(np.isfinite(g)) for g in grads.values())
    params, history = model.train(X, Y, optimizer="adam", learning_rate=0.01, epochs=30, batch_size=16)
    assert np.all(np.isfinite(history["loss"]))
    assert model.loss(params, X, Y) < start


def test_log_cosh_is_evaluated_without_overflow() -> None:
    # |a − y| = 1000: log cosh would overflow cosh; ℓ = |d| + log1p(e^{−2|d|}) − log 2 = 1000 − log 2.
    model = build(inputs=1, loss="log_cosh", layers=[{"units": 1, "activation": "identity"}])
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    E, grads = model.gradients(params, [[1000.0], [-1000.0]], [[0.0], [0.0]])
    assert E == pytest.approx(2 * (1000 - math.log(2)), rel=1e-15)
    assert grads["b1"][0] == 0.0 and grads["W1"][0, 0] == 2000.0  # tanh(±1000) = ±1


# ---------------------------------------------------------------------------------------------
# The formulas the built-ins replace give the same generated gradients.

@pytest.mark.parametrize(("name", "formula"), [
    ("silu", "z*sigmoid(z)"), ("silu", "z/(1 + exp(-z))"), ("gelu", "0.5*z*(1 + erf(z/sqrt(2)))"),
    ("gelu_tanh", "z/2*(1 + tanh(sqrt(2)/sqrt(pi)*(z + 0.044715*z**3)))"), ("mish", "z*tanh(log(1 + exp(z)))"),
    ("softsign", "z/(abs(z) + 1)"), ("elu", "max(z, 0) + min(exp(z) - 1, 0)"),
    ("selu", "1.0507009873554804934193349852946*max(z, 0) + "
             "1.0507009873554804934193349852946*1.6732632423543772848170429916717*min(exp(z) - 1, 0)"),
])
def test_activation_formulas_equal_their_built_in(name: str, formula: str) -> None:
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    X[0] = 0.0  # Z1 = b1 = 0 on the first row: the kink, where each takes the same value
    modules = [build(inputs=3, loss="sse", layers=[{"units": 4, "activation": activation},
                                                    {"units": 2, "activation": "identity"}])
               for activation in (name, formula)]
    params = modules[0].init_params(seed=9)  # the built-in's init (He for most), the same for both
    results = [module.gradients(params, X, Y) for module in modules]
    (E, grads), (E_formula, grads_formula) = results
    assert E_formula == pytest.approx(E, rel=1e-14)
    for key in grads:
        np.testing.assert_allclose(grads_formula[key], grads[key], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("name", "formula"), [
    ("l1", "abs(y - a)"), ("log_cosh", "log(cosh(y - a))"), ("mse", "(a - y)**2"),
    ("huber", "min(abs(a - y), 1)**2/2 + abs(a - y) - min(abs(a - y), 1)"),
])
def test_loss_formulas_equal_their_built_in(name: str, formula: str) -> None:
    # One output: the built-ins' mean over outputs is then their sum, as a formula's.
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(12, 2)), 2 * rng.normal(size=(12, 1))
    modules = [build(inputs=2, loss=loss, reduction="mean", layers=[{"units": 3, "activation": "tanh"},
                                                                    {"units": 1, "activation": "identity"}])
               for loss in (name, formula)]
    params = modules[0].init_params(seed=2)
    results = [module.gradients(params, X, Y) for module in modules]
    (E, grads), (E_formula, grads_formula) = results
    assert E_formula == pytest.approx(E, rel=1e-13)
    for key in grads:
        np.testing.assert_allclose(grads_formula[key], grads[key], rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# The formula vocabulary: the new names parse, with the same bounds as the others.

@pytest.mark.parametrize(("formula", "reason"), [
    ("z*cosh(1000)", "a constant that cannot be evaluated or exceeds 1e+300"),
    ("z + e**1000", "the exponent 1000 is outside -64..64"),
    ("z + exp(pi*1000)", "a constant that cannot be evaluated or exceeds 1e+300"),
    ("cosh(100*log(z))", "the exponent 100 is outside -64..64"),
    ("softplus(-100*log(z))", "the exponent -100 is outside -64..64"),
    ("z*log1p(-1)", "undefined (division by zero, log(0) or infinity)"),
    ("z + log1p(-2)", "not real-valued"),
    ("pi(z)", "unknown function 'pi'"),
    ("erf(z, 2)", "erf() takes 1 argument(s), got 2"),
    ("2*atan", "'atan' is a function and needs an argument"),
])
def test_new_names_keep_the_bounds(formula: str, reason: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_from_dict({"name": "n", "inputs": 1, "loss": "sse", "layers": [{"units": 1, "activation": formula}]})
    assert reason in str(error.value)


# ---------------------------------------------------------------------------------------------
# The module's own erf.

def _erf_of(dtype: str) -> Callable[..., np.ndarray]:
    return build(inputs=1, loss="sse", dtype=dtype, layers=[{"units": 1, "activation": "gelu"}])._erf


def test_erf_is_emitted_only_when_a_formula_uses_it() -> None:
    def source(activation: str, loss: str = "sse") -> str:
        return render_module(derive_network(spec_from_dict({
            "name": "m", "inputs": 1, "loss": loss, "layers": [{"units": 1, "activation": activation}]})))
    assert "def _erf(" in source("gelu") and "_erf(" in source("gelu").split("def _forward", 1)[1]
    assert "def _erf(" in source("identity", "erf(a - y)**2")
    for activation in ("sigmoid", "gelu_tanh", "silu", "mish"):
        assert "_erf" not in source(activation)


ERF_POINTS = np.concatenate([
    np.linspace(-7, 7, 20001), np.linspace(-0.5, 0.5, 2001),  # every region and both seams, 0.46875 and 4
    np.geomspace(1e-300, 1e3, 3000), -np.geomspace(1e-300, 1e3, 3000),
    [0.46875, np.nextafter(0.46875, 1), 4.0, np.nextafter(4.0, 5), 5.9, 6.0, 26.5, 1e300, -1e300],
])


def test_erf_has_double_precision() -> None:
    erf = _erf_of("float64")
    exact = np.array([math.erf(x) for x in ERF_POINTS])
    values = erf(ERF_POINTS)
    assert values.dtype == np.float64
    relative = np.abs(values - exact) / np.maximum(np.abs(exact), 1e-308)
    # Within 4 ulp of math.erf everywhere (the most just above 0.46875, where erf = 1 − erfc ≈ ½).
    assert relative.max() < 5e-16, ERF_POINTS[np.argmax(relative)]
    assert np.median(relative) == 0.0


def test_erf_in_float32_and_special_values() -> None:
    erf = _erf_of("float32")
    points = ERF_POINTS[np.abs(ERF_POINTS) < 3e38].astype(np.float32)
    values = erf(points)
    assert values.dtype == np.float32
    exact = np.array([math.erf(float(x)) for x in points])
    tiny = np.finfo(np.float32).tiny
    relative = np.abs(values - exact) / np.maximum(np.abs(exact), tiny)
    assert relative.max() < 3 * np.finfo(np.float32).eps
    special = erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    assert special[:4].tolist() == [0.0, 0.0, 1.0, -1.0] and np.signbit(special[1]) and np.isnan(special[4])
    inplace = np.array([0.3, -2.0, 5.0])  # out= may be the input, as the generated code writes it
    expected = [math.erf(x) for x in inplace]
    assert erf(inplace, out=inplace) is inplace
    np.testing.assert_allclose(inplace, expected, rtol=1e-15)


@pytest.mark.parametrize(("formula", "torch_loss"), [
    ("(a - y)**2 + 1", lambda A, Y: ((A - Y) ** 2 + 1).sum()),  # a constant term counts once per entry of Y
    ("(sqrt(2) - 1)*a + (a - y)**2/2", lambda A, Y: ((math.sqrt(2) - 1) * A + (A - Y) ** 2 / 2).sum()),
    ("log(cosh(a - y)) + pi", lambda A, Y: (torch.log(torch.cosh(A - Y)) + math.pi).sum()),
])
def test_loss_formulas_with_constants_give_torchs_values(formula: str,
                                                          torch_loss: Callable[[Tensor, Tensor], Tensor]) -> None:
    TORCH_LOSSES[formula] = lambda A, Y, reduction: torch_loss(A, Y)
    try:
        rng = np.random.default_rng(8)
        spec = {"inputs": 2, "loss": formula, "layers": [{"units": 3, "activation": "tanh"},
                                                         {"units": 2, "activation": "identity"}]}
        assert_same_gradients(spec, rng.normal(size=(6, 2)), rng.normal(size=(6, 2)))
    finally:
        del TORCH_LOSSES[formula]
