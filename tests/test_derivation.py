"""Facts of the derivation, each checked against an independent fact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy as sp

from derive import derive_network, load_spec, spec_from_dict
from derive.elementwise import derive_elementwise
from derive.loss import derive_loss
from derive.naming import a, y, z
from derive.rules import ACTIVATIONS, LOSSES, formula_activation
from derive.softmax import derive_softmax
from derive.verify import verify_matrix_form


def sigma(u: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-u))


def test_sigmoid_derivative_is_rewritten_in_its_output_and_proved() -> None:
    d = derive_elementwise(ACTIVATIONS["sigmoid"])
    # Worked on paper: σ' = σ(1 − σ).
    assert sp.simplify(d.in_output - a * (1 - a)) == 0
    assert sp.simplify(sp.diff(sigma(z), z) - d.in_output.subs(a, sigma(z))) == 0
    assert d.derivative.has(sp.exp)  # derived from the definition, not typed in


def test_tanh_and_softplus_rewrites() -> None:
    assert sp.simplify(derive_elementwise(ACTIVATIONS["tanh"]).in_output - (1 - a**2)) == 0
    softplus = derive_elementwise(ACTIVATIONS["softplus"])
    assert softplus.in_output is None and softplus.named is ACTIVATIONS["sigmoid"]


def test_formula_activation_is_derived_like_a_builtin() -> None:
    swish = derive_elementwise(formula_activation("z/(1 + exp(-z))"))
    paper = sigma(z) + z * sigma(z) * (1 - sigma(z))  # product rule by hand
    assert sp.simplify(swish.derivative - paper) == 0
    from derive.stable import unstable
    assert sp.simplify(unstable(swish.backward) - paper) == 0


def test_sse_gradient_is_a_minus_y_not_half() -> None:
    # Seed 002 writes ½Σ(A − Y) for ∂E/∂A; the ½ cancels against the 2 of the power rule.
    assert sp.simplify(derive_loss(LOSSES["sse"]).gradient - (a - y)) == 0


def test_softmax_cross_entropy_collapses_to_a_minus_y() -> None:
    s = derive_softmax(derive_loss(LOSSES["cross_entropy"]))
    assert s.collapsed is not None and sp.simplify(s.collapsed - (a - y)) == 0
    assert s.uses_target_sum
    assert derive_softmax(derive_loss(LOSSES["sse"])).collapsed is None


def test_sigmoid_bce_delta_cancels_to_a_minus_y() -> None:
    net = derive_network(spec_from_dict({"name": "t", "inputs": 2, "loss": "bce",
                                         "layers": [{"units": 1, "activation": "sigmoid"}]}))
    A1, Y = sp.Symbol("A1", real=True), sp.Symbol("Y", real=True)
    assert sp.simplify(net.output.delta - (A1 - Y)) == 0


CASES = [
    ("tanh", "softmax", "cross_entropy", "mean", 2),
    ("sigmoid", "softmax", "sse", "sum", 2),
    ("softplus", "identity", "mse", "mean", 3),  # hidden wider than the output
    ("tanh", "tanh", "(a - y)**4", "sum", 1),  # hidden narrower than the output
    ("sigmoid", "sigmoid", "sse", "sum", 3),
    ("relu", "identity", "sse", "sum", 3),  # piecewise: proved on each side of every kink
    ("leaky_relu", "leaky_relu", "mse", "mean", 2),
    ("abs(z)", "sigmoid", "bce", "sum", 2),
    ("max(z, 0, 1 - z)", "identity", "sse", "sum", 2),
    ("softsign", "identity", "sse", "sum", 1),  # f′ in the output through |A|: proved in z
    ("tanh", "identity", "log_cosh", "mean", 2),  # tanh against sinh/cosh
    ("elu", "identity", "huber", "sum", 2),
    ("selu", "identity", "l1", "mean", 2),
]


@pytest.mark.parametrize(("hidden", "output", "loss", "reduction", "width"), CASES)
def test_matrix_form_equals_expanded_scalar_derivative(hidden: str, output: str, loss: str, reduction: str,
                                                       width: int) -> None:
    spec = spec_from_dict({"name": "t", "inputs": 2, "loss": loss, "reduction": reduction,
                           "layers": [{"units": width, "activation": hidden}, {"units": 2, "activation": output}]})
    assert verify_matrix_form(derive_network(spec), samples=2) == []


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("examples/*.toml")),
                         ids=lambda path: path.stem)
def test_matrix_form_of_every_example(path: Path) -> None:
    assert verify_matrix_form(derive_network(load_spec(path))) == []


def test_matrix_form_check_catches_a_wrong_relu_mask() -> None:
    spec = spec_from_dict({"name": "t", "inputs": 2, "loss": "sse",
                           "layers": [{"units": 2, "activation": "relu"}, {"units": 1, "activation": "identity"}]})
    net = derive_network(spec)
    hidden = net.layers[0]
    wrong = dataclasses.replace(hidden, backward=1 - hidden.backward)  # the mask of the other side of the kink
    assert verify_matrix_form(dataclasses.replace(net, layers=(wrong, net.layers[1])))


def test_matrix_form_check_catches_a_wrong_delta() -> None:
    spec = spec_from_dict({"name": "t", "inputs": 3, "loss": "sse",
                           "layers": [{"units": 2, "activation": "tanh"}, {"units": 2, "activation": "identity"}]})
    net = derive_network(spec)
    wrong = dataclasses.replace(net, output=dataclasses.replace(net.output, delta=net.output.delta / 2))
    assert len(verify_matrix_form(wrong)) == 2 * 3 + 2 + 2 * 2 + 2


def test_deep_network_derives_layer_by_layer() -> None:
    layers = [{"units": 4, "activation": "sigmoid"}] * 9 + [{"units": 2, "activation": "softmax"}]
    net = derive_network(spec_from_dict({"name": "deep", "inputs": 3, "loss": "cross_entropy", "layers": layers}))
    assert len(net.layers) == 10
    assert all(layer.backward is not None and layer.backward.free_symbols == {layer.A} for layer in net.layers[:-1])
