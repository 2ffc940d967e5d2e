"""Attacks through formulas (issue 19, items 2 and 11): a derivative printed so that NumPy evaluates it
as NaN where it is real (|z|^π′ as π z |z^(π−2)|), and a formula that is constant in its variable,
through which no gradient flows."""

from __future__ import annotations

import numpy as np
import pytest

from derive import SpecError, spec_from_dict
from tests.conftest import build, numeric_gradients, relative_error


@pytest.mark.parametrize("activation", ["abs(z)**pi", "abs(z)**e", "abs(z)**(pi/2)", "abs(z)**2.5 + z",
                                        "z*abs(z)**(1/3)", "abs(z - 1)**e", "abs(2*z)**pi", "sqrt(z**2 + 1)**pi",
                                        "abs(tanh(z))**pi"])
def test_fractional_powers_of_abs_are_finite_and_right_for_negative_pre_activations(activation: str) -> None:
    module = build(inputs=2, loss="sse", layers=[{"units": 3, "activation": activation},
                                                 {"units": 1, "activation": "identity"}])
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 2)) * 2
    Y = rng.normal(size=(6, 1))
    params = module.init_params(seed=3)
    Z1 = X @ params["W1"] + params["b1"]
    assert (Z1 < 0).any() and (Z1 > 0).any()  # both sides of 0 are exercised
    _, grads = module.gradients(params, X, Y)
    assert all(np.all(np.isfinite(grad)) for grad in grads.values())
    assert relative_error(grads, numeric_gradients(lambda p: module.loss(p, X, Y), params)) < 1e-6


@pytest.mark.parametrize("activation", ["(z+1)**2 - z**2 - 2*z", "max(z, 0) + min(z, 0) - z", "z - z + 2",
                                        "exp(log(2)*z)/2**z", "(z - 1)*(z + 1) - z**2", "sigmoid(z) + sigmoid(-z)"])
def test_an_activation_constant_in_z_is_refused(activation: str) -> None:
    spec = {"name": "f", "inputs": 1, "loss": "sse", "layers": [{"units": 1, "activation": activation}]}
    with pytest.raises(SpecError, match=r"^<spec>: layers\[0\]\.activation: an activation formula must depend on z; "
                                        r".* (is constant in z \(its derivative is 0\), so no gradient flows through "
                                        r"it|does not)$"):
        spec_from_dict(spec)


@pytest.mark.parametrize("loss", ["(a + y)**2 - a**2 - 2*a*y", "a - a + y", "log(exp(y))*a - a*y"])
def test_a_loss_constant_in_a_is_refused(loss: str) -> None:
    spec = {"name": "f", "inputs": 1, "loss": loss, "layers": [{"units": 1, "activation": "sigmoid"}]}
    with pytest.raises(SpecError, match=r"^<spec>: loss: a loss formula must depend on a .*(is constant in a|does "
                                        r"not)"):
        spec_from_dict(spec)


@pytest.mark.parametrize("activation", ["z**3 - 3*z", "abs(z)", "max(z, 0)", "sigmoid(z) - sigmoid(-z)", "log(z)",
                                        "max(z - 1, 0) + min(z + 1, 0)"])
def test_formulas_flat_somewhere_only_are_accepted(activation: str) -> None:
    spec = spec_from_dict({"name": "f", "inputs": 1, "loss": "sse",
                           "layers": [{"units": 1, "activation": activation}]})
    assert spec.layers[0].activation.formula
