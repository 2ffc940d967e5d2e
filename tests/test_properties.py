"""Property tests (Hypothesis, derandomized): gradients of random networks, random bad specs,
random formulas, and random bad data given to a generated module.

Only the generated module's public API is used (init_params, forward, loss, gradients, train,
save, load); its forward pass and loss are checked against a NumPy reference written here.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from derive import SpecError, parse_spec, spec_from_dict
from derive.layers import KINDS
from derive.rules import ACTIVATIONS, LOSSES
from derive.spec import OPTIMIZERS, TOP_KEYS, TRAIN_KEYS
from tests.conftest import H, build, numeric_gradients, relative_error


def _settings(examples: int) -> settings:
    return settings(derandomize=True, deadline=None, max_examples=examples,
                    suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# A NumPy reference for the networks drawn below.


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1/(1 + e^-z), without overflow


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


_erf = np.vectorize(math.erf, otypes=[float])
SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717  # PyTorch's


ACTIVATION_REFERENCE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.maximum(z, 0.01 * z),
    "identity": lambda z: z,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "z*sigmoid(z)": lambda z: z * _sigmoid(z),
    "log(1 + exp(z))": lambda z: np.logaddexp(0.0, z),
    "z**3/3 + z": lambda z: z**3 / 3 + z,
    "softmax": _softmax,
    "gelu": lambda z: z * (1 + _erf(z / math.sqrt(2))) / 2,
    "gelu_tanh": lambda z: z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))) / 2,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "selu": lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0))),
    "silu": lambda z: z * _sigmoid(z),
    "mish": lambda z: z * np.tanh(np.logaddexp(0.0, z)),
    "softsign": lambda z: z / (1 + np.abs(z)),
    "atan(z) + sinh(z)/4 + log1p(z**2)": lambda z: np.arctan(z) + np.sinh(z) / 4 + np.log1p(z**2),
}
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softplus",
          "z*sigmoid(z)", "log(1 + exp(z))", "z**3/3 + z", "gelu", "gelu_tanh", "elu", "selu", "silu", "mish",
          "softsign", "atan(z) + sinh(z)/4 + log1p(z**2)"]
# Not differentiable at z = 0 (relu, leaky_relu, selu), or f″ jumps there (elu, softsign), so that
# central differences across 0 are off by more than the tolerance.
KINKED = {"relu", "leaky_relu", "elu", "selu", "softsign"}
QUARTIC = "(a - y)**2 / 2 + (a - y)**4"
OUTPUT_LOSS = [
    ("sigmoid", "bce"), ("sigmoid", "sse"), ("identity", "sse"), ("identity", "mse"), ("tanh", "mse"),
    ("softmax", "cross_entropy"), ("softplus", "sse"), ("identity", QUARTIC), ("tanh", QUARTIC),
    ("identity", "huber"), ("tanh", "log_cosh"), ("identity", "l1"),
]
LOSS_KINKS = {"l1": 0.0, "huber": 1.0}  # |a − y| where ℓ′ (l1) or ℓ″ (huber) jumps


def _reference(spec: dict[str, Any], params: dict[str, np.ndarray],
               X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Pre-activations Z1..ZL and the output, by the textbook recurrence."""
    A, Zs = X, []
    for index, layer in enumerate(spec["layers"], start=1):
        Z = A @ params[f"W{index}"] + params[f"b{index}"]
        Zs.append(Z)
        A = ACTIVATION_REFERENCE[layer["activation"]](Z)
    return Zs, A


def _reference_loss(spec: dict[str, Any], Z: np.ndarray, A: np.ndarray, Y: np.ndarray) -> float:
    loss, output = spec["loss"], spec["layers"][-1]["activation"]
    if loss == "bce":
        assert output == "sigmoid"
        log_a, log_1ma = -np.logaddexp(0.0, -Z), -np.logaddexp(0.0, Z)
        total = -np.sum(Y * log_a + (1 - Y) * log_1ma)
    elif loss == "cross_entropy":
        assert output == "softmax"
        log_a = Z - Z.max(axis=1, keepdims=True)
        log_a = log_a - np.log(np.exp(log_a).sum(axis=1, keepdims=True))
        total = -np.sum(Y * log_a)
    elif loss == "sse":
        total = np.sum((A - Y) ** 2) / 2
    elif loss == "mse":
        total = np.sum((A - Y) ** 2) / A.shape[1]
    elif loss == "huber":
        d = np.abs(A - Y)
        total = np.sum(np.where(d <= 1, d**2 / 2, d - 0.5)) / A.shape[1]
    elif loss == "log_cosh":
        total = np.sum(np.logaddexp(A - Y, Y - A) - np.log(2)) / A.shape[1]
    elif loss == "l1":
        total = np.sum(np.abs(A - Y)) / A.shape[1]
    else:
        assert loss == QUARTIC
        total = np.sum((A - Y) ** 2 / 2 + (A - Y) ** 4)
    return float(total / (A.shape[0] if spec["reduction"] == "mean" else 1))


def _near_a_kink(spec: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray) -> bool:
    """Whether a step of ±H in any one parameter moves some relu/leaky_relu pre-activation across 0,
    where central differences and the derivative legitimately disagree."""
    kinked = [i for i, layer in enumerate(spec["layers"]) if layer["activation"] in KINKED]
    if not kinked:
        return False

    def signs(p: dict[str, np.ndarray]) -> list[np.ndarray]:
        Zs, _ = _reference(spec, p, X)
        return [np.sign(Zs[i]) for i in kinked]

    base = signs(params)
    if any(np.any(s == 0) for s in base):
        return True
    for key, value in params.items():
        for index in np.ndindex(value.shape):
            for step in (H, -H):
                shifted = dict(params)
                shifted[key] = value.copy()
                shifted[key][index] += step
                if any(np.any(a != b) for a, b in zip(signs(shifted), base, strict=True)):
                    return True
    return False


# ---------------------------------------------------------------------------------------------
# Random valid networks, built once each.

_MODULES: dict[str, ModuleType] = {}


def module_for(spec: dict[str, Any]) -> ModuleType:
    key = json.dumps(spec, sort_keys=True)
    if key not in _MODULES:
        _MODULES[key] = build(**spec)
    return _MODULES[key]


@st.composite
def networks(draw: st.DrawFn, max_depth: int = 4) -> dict[str, Any]:
    depth = draw(st.integers(1, max_depth))
    output, loss = draw(st.sampled_from(OUTPUT_LOSS))
    layers = [{"units": draw(st.integers(1, 8)), "activation": draw(st.sampled_from(HIDDEN))}
              for _ in range(depth - 1)]
    layers.append({"units": draw(st.integers(2 if output == "softmax" else 1, 8)), "activation": output})
    return {"inputs": draw(st.integers(1, 5)), "loss": loss, "reduction": draw(st.sampled_from(["sum", "mean"])),
            "dtype": "float64", "layers": layers}


def targets(spec: dict[str, Any], rng: np.random.Generator, n: int) -> np.ndarray:
    k = spec["layers"][-1]["units"]
    if spec["loss"] == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if spec["loss"] == "bce":
        return rng.uniform(0.0, 1.0, size=(n, k))
    return rng.normal(size=(n, k))


def draw_params(module: ModuleType, rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = module.init_params(seed=int(rng.integers(0, 2**31)))
    return {key: value + 0.3 * rng.normal(size=value.shape) for key, value in params.items()}


# ---------------------------------------------------------------------------------------------
# a. Generated gradients against central differences.

TOLERANCE = 1e-5  # median error ~1e-9, worst seen 5e-7; a 0.1 % error in one entry of ∂E/∂W1 exceeds it


@_settings(300)
@given(spec=networks(), n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_gradients_of_random_networks_match_central_differences(spec: dict[str, Any], n: int, seed: int) -> None:
    module = module_for(spec)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, spec["inputs"]))
    Y = targets(spec, rng, n)
    params = draw_params(module, rng)
    Zs, A = _reference(spec, params, X)
    # Far out, stacked z**3/3 + z layers make E's third derivatives huge and central differences
    # inexact (up to 3e-6 at |Z| < 30); within |Z| < 10 the largest error seen in 1500 draws is 5e-7.
    assume(all(np.all(np.abs(Z) < 10) for Z in Zs))
    assume(not _near_a_kink(spec, params, X))
    if spec["loss"] in LOSS_KINKS:  # a step of ±H in a weight moves A by less than 1e-3 here
        assume(np.all(np.abs(np.abs(A - Y) - LOSS_KINKS[spec["loss"]]) > 1e-3))

    np.testing.assert_allclose(module.forward(params, X), A, rtol=1e-10, atol=1e-12)
    E = module.loss(params, X, Y)
    assert E == pytest.approx(_reference_loss(spec, Zs[-1], A, Y), rel=1e-9, abs=1e-12)
    E_again, grads = module.gradients(params, X, Y)
    assert E_again == pytest.approx(E, rel=1e-12, abs=1e-15)
    assert set(grads) == set(params)
    assert all(grads[key].shape == params[key].shape and grads[key].dtype == np.float64 for key in params)

    numeric = numeric_gradients(lambda p: module.loss(p, X, Y), params)
    error = relative_error(grads, numeric)
    assert error < TOLERANCE, f"relative error {error:.2e} for {spec}"


SANITY = [
    {"inputs": 3, "loss": "sse", "reduction": "sum", "dtype": "float64",
     "layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}]},
    {"inputs": 2, "loss": "cross_entropy", "reduction": "mean", "dtype": "float64",
     "layers": [{"units": 3, "activation": "z*sigmoid(z)"}, {"units": 3, "activation": "softmax"}]},
    {"inputs": 4, "loss": QUARTIC, "reduction": "sum", "dtype": "float64",
     "layers": [{"units": 5, "activation": "softplus"}, {"units": 1, "activation": "identity"}]},
]


@pytest.mark.parametrize("spec", SANITY, ids=["tanh-sigmoid-sse", "swish-softmax-ce", "softplus-quartic"])
def test_the_tolerance_rejects_wrong_gradients(spec: dict[str, Any]) -> None:
    """The comparison above can fail: a doubled ∂E/∂W1, or one entry off by 0.1 %, is caught."""
    module = module_for(spec)
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(5, spec["inputs"])), targets(spec, rng, 5)
    params = draw_params(module, rng)
    _, grads = module.gradients(params, X, Y)
    numeric = numeric_gradients(lambda p: module.loss(p, X, Y), params)
    assert relative_error(grads, numeric) < TOLERANCE  # the honest one passes

    doubled = {**grads, "W1": 2 * grads["W1"]}
    assert relative_error(doubled, numeric) > 1e3 * TOLERANCE
    nudged = {key: value.copy() for key, value in grads.items()}
    index = np.unravel_index(np.argmax(np.abs(grads["W1"])), grads["W1"].shape)
    nudged["W1"][index] *= 1.001
    assert relative_error(nudged, numeric) > TOLERANCE


# ---------------------------------------------------------------------------------------------
# b. Random invalid specs: one mutation of a valid one; always a one-line SpecError at that field.

IDENTIFIER = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
WRONG_VALUES: list[Any] = [True, False, 0, 3, -2, 2.5, float("inf"), "three", "", [1, 2], [], {"a": 1}, {}]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TYPE_OF: dict[str, Callable[[Any], bool]] = {
    "name": lambda v: isinstance(v, str), "inputs": _is_int, "loss": lambda v: isinstance(v, str),
    "reduction": lambda v: isinstance(v, str), "dtype": lambda v: isinstance(v, str),
    "layers": lambda v: isinstance(v, list), "train": lambda v: isinstance(v, dict),
    "units": _is_int, "activation": lambda v: isinstance(v, str), "init": lambda v: isinstance(v, str),
    "optimizer": lambda v: isinstance(v, str), "learning_rate": _is_number, "momentum": _is_number,
    "beta1": _is_number, "beta2": _is_number, "epsilon": _is_number,
    "epochs": _is_int, "batch_size": _is_int, "seed": _is_int,
}


def _layer_index(draw: st.DrawFn, spec: dict[str, Any]) -> int:
    return draw(st.integers(0, len(spec["layers"]) - 1))


def _unknown(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    return IDENTIFIER.filter(lambda key: key not in known)


def m_unknown_key(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    where = draw(st.sampled_from(["top", "layer", "train"]))
    if where == "top":
        key = draw(_unknown(TOP_KEYS))
        spec[key] = draw(st.sampled_from(WRONG_VALUES))
        return key
    if where == "layer":
        index, key = _layer_index(draw, spec), draw(_unknown((*KINDS["dense"].keys, "type")))
        spec["layers"][index][key] = 1
        return f"layers[{index}].{key}"
    key = draw(_unknown(TRAIN_KEYS))
    spec.setdefault("train", {})[key] = 1
    return f"train.{key}"


def m_wrong_type(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    where = draw(st.sampled_from(["top", "layer", "train"]))
    if where == "top":
        field = draw(st.sampled_from(["name", "inputs", "loss", "reduction", "dtype", "layers", "train"]))
        path, table = field, spec
    elif where == "layer":
        index = _layer_index(draw, spec)
        field = draw(st.sampled_from(["units", "activation", "init"]))
        path, table = f"layers[{index}].{field}", spec["layers"][index]
    else:
        field = draw(st.sampled_from(list(TRAIN_KEYS)))
        path, table = f"train.{field}", spec.setdefault("train", {})
    table[field] = draw(st.sampled_from([v for v in WRONG_VALUES if not TYPE_OF[field](v)]))
    return path


def m_layer_not_a_table(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    index = _layer_index(draw, spec)
    spec["layers"][index] = draw(st.sampled_from([3, "sigmoid", [1, 2], True]))
    return f"layers[{index}]"


def m_out_of_range(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    choice = draw(st.sampled_from(["units", "inputs", "epochs", "batch_size", "seed"]))
    if choice == "units":
        index = _layer_index(draw, spec)
        spec["layers"][index]["units"] = draw(st.one_of(st.integers(-10**6, 0), st.integers(10**6 + 1, 10**12)))
        return f"layers[{index}].units"
    if choice == "inputs":
        spec["inputs"] = draw(st.integers(-10**6, 0))
        return "inputs"
    least = 0 if choice == "seed" else 1
    spec.setdefault("train", {})[choice] = draw(st.integers(-10**6, least - 1))
    return f"train.{choice}"


def m_bad_number(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    field = draw(st.sampled_from(["learning_rate", "epsilon", "momentum", "beta1", "beta2"]))
    bad = [-1, -0.5, float("inf"), float("-inf"), float("nan")]
    bad += [0, 0.0] if field in ("learning_rate", "epsilon") else [1, 1.0, 1.5, 10]
    spec.setdefault("train", {})[field] = draw(st.sampled_from(bad))
    return f"train.{field}"


def m_missing(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    field = draw(st.sampled_from(["name", "inputs", "layers", "loss"]))
    del spec[field]
    return field


def m_empty_layers(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    spec["layers"] = []
    return "layers"


def m_unknown_activation(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    index = _layer_index(draw, spec)
    spec["layers"][index]["activation"] = draw(IDENTIFIER.filter(lambda s: s not in ACTIVATIONS and s != "z"))
    return f"layers[{index}].activation"


def m_unknown_loss(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    spec["loss"] = draw(IDENTIFIER.filter(lambda s: s not in LOSSES and s not in ("a", "y")))
    return "loss"


def m_wrong_variable(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    if draw(st.booleans()):
        index = _layer_index(draw, spec)
        spec["layers"][index]["activation"] = draw(st.sampled_from(["y*z", "a + z", "exp(x)", "tanh(z) + w"]))
        return f"layers[{index}].activation"
    spec["loss"] = draw(st.sampled_from(["(a - z)**2", "x*a", "a*y + b", "log(a) + t"]))
    return "loss"


def m_softmax_hidden(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    if len(spec["layers"]) == 1:
        spec["layers"].insert(0, {"units": 3, "activation": "tanh"})
    index = draw(st.integers(0, len(spec["layers"]) - 2))
    spec["layers"][index]["activation"] = "softmax"
    return f"layers[{index}].activation"


def m_bad_name(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    spec["name"] = draw(st.one_of(
        st.sampled_from(keyword.kwlist + keyword.softkwlist),
        st.text("ab1-. é$", max_size=8).filter(lambda s: not (s.isidentifier() and s.isascii())),
    ))
    return "name"


def m_bad_choice(draw: st.DrawFn, spec: dict[str, Any]) -> str:
    where = draw(st.sampled_from(["optimizer", "reduction", "dtype", "init"]))
    choices = {"optimizer": OPTIMIZERS, "reduction": ("sum", "mean"), "dtype": ("float64", "float32"),
               "init": ("auto", "xavier", "he")}[where]
    value = draw(st.text("abcdgmnst_0123", min_size=0, max_size=8).filter(lambda s: s not in choices))
    if where == "optimizer":
        spec.setdefault("train", {})["optimizer"] = value
        return "train.optimizer"
    if where == "init":
        index = _layer_index(draw, spec)
        spec["layers"][index]["init"] = value
        return f"layers[{index}].init"
    spec[where] = value
    return where


MUTATIONS = [m_unknown_key, m_wrong_type, m_layer_not_a_table, m_out_of_range, m_bad_number, m_missing,
             m_empty_layers, m_unknown_activation, m_unknown_loss, m_wrong_variable, m_softmax_hidden,
             m_bad_name, m_bad_choice]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(data: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(key)} = {_toml_value(value)}\n" for key, value in data.items())


def _assert_one_line_at(error: SpecError, source: str, path: str) -> None:
    text = str(error)
    assert error.field == path, text
    assert text.startswith(f"{source}: {path}: "), text
    assert "\n" not in text and "\r" not in text
    assert len(text) > len(f"{source}: {path}: ") + 10  # and says something


@_settings(600)
@given(spec=networks(max_depth=3), mutation=st.sampled_from(MUTATIONS), data=st.data())
def test_one_mutation_gives_a_spec_error_naming_its_field(spec: dict[str, Any], mutation: Callable[..., str],
                                                          data: st.DataObject) -> None:
    spec = json.loads(json.dumps({"name": "net", **spec, "train": {"optimizer": "adam"}}))  # a deep copy
    spec_from_dict(spec)  # valid before the mutation
    path = mutation(data.draw, spec)

    with pytest.raises(SpecError) as caught:
        spec_from_dict(spec, "mutated.toml")
    _assert_one_line_at(caught.value, "mutated.toml", path)

    text = to_toml(spec)
    with pytest.raises(SpecError) as parsed:
        parse_spec(text, "mutated.toml")
    _assert_one_line_at(parsed.value, "mutated.toml", path)
    assert str(parsed.value) == str(caught.value)


# ---------------------------------------------------------------------------------------------
# c. Random text as a formula: accepted or a one-line SpecError, never anything else, never run.

FORMULA_CHARS = list("az()+-*/._ 0123456789[]'\",")
FORMULA_WORDS = ["exp", "log", "sqrt", "tanh", "sigmoid", "abs", "max", "min", "z", "a", "y", "**",
                 "cosh", "sinh", "erf", "atan", "log1p", "expm1", "softplus", "pi", "e",
                 "__import__", "os", "system", "open", "lambda", "eval", "exec", "__class__", "1e12", "1e-12",
                 "#", "\n", '"""', "\\", "\t", "\u00e9"]
random_text = st.lists(st.one_of(st.sampled_from(FORMULA_CHARS), st.sampled_from(FORMULA_WORDS)),
                       max_size=30).map("".join)


def _expressions(variables: list[str]) -> st.SearchStrategy[str]:
    """Well-formed formulas, often with extreme constants, so that SymPy really gets to work."""
    leaves = st.sampled_from([*variables, "0", "1", "2", "0.5", "-1", "64", "1e12", "1e-12", "0.0", "pi", "e"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["exp", "log", "sqrt", "tanh", "sigmoid", "abs", "-", "cosh", "sinh", "erf",
                                       "atan", "log1p", "expm1", "softplus"]), inner)
            .map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _check_formula(formula: str, as_loss: bool) -> None:
    spec: dict[str, Any] = {"name": "net", "inputs": 2, "loss": "sse", "layers": [{"units": 2, "activation": "tanh"}]}
    if as_loss:
        spec["loss"], path = formula, "loss"
    else:
        spec["layers"][0]["activation"], path = formula, "layers[0].activation"
    try:
        checked = spec_from_dict(spec, "f.toml")
    except SpecError as error:
        _assert_one_line_at(error, "f.toml", path)
        return
    rule = checked.loss if as_loss else checked.layers[0].activation
    assert rule.formula == formula.strip() or rule.name == formula.strip()
    # What is accepted can be quoted in generated code and documents as it is: one line, no quotes,
    # no comment, no backslash.
    text = rule.formula
    assert text.isascii() and text.isprintable() and not set(text) & set("#\\'\"\n"), text


@_settings(500)
@given(formula=random_text, as_loss=st.booleans())
def test_random_text_as_a_formula_is_accepted_or_refused_in_one_line(formula: str, as_loss: bool) -> None:
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        _check_formula(formula, as_loss)
        assert list(Path(folder).iterdir()) == []


@_settings(1000)
@given(formula=st.one_of(_expressions(["z", "y"]), _expressions(["a", "y", "z"])), as_loss=st.booleans())
def test_well_formed_formulas_with_extreme_constants_are_accepted_or_refused(formula: str, as_loss: bool) -> None:
    _check_formula(formula, as_loss)


PAYLOADS = [
    "open('CANARY', 'w')", "__import__('os').system('touch CANARY')", "exec(\"open('CANARY', 'w')\")",
    "eval(\"open('CANARY','w')\")", "(lambda: open('CANARY', 'w'))()", "[open('CANARY', 'w') for _ in 'x'][0]",
    "(c := open('CANARY', 'w'))", "z.__class__.__base__.__subclasses__()", "getattr(z, '__class__')",
    "open.__call__('CANARY', 'w')", "__builtins__['open']('CANARY', 'w')", "z if open('CANARY', 'w') else z",
    "f'{open(\"CANARY\", \"w\")}'", "breakpoint()", "globals()['__builtins__']", "import os",
]


@pytest.mark.parametrize("as_loss", [False, True], ids=["activation", "loss"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_formulas_are_parsed_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str,
                                       as_loss: bool) -> None:
    monkeypatch.chdir(tmp_path)
    for formula in (payload, f"z + {payload}", f"exp({payload})", f"max(a, {payload})"):
        spec: dict[str, Any] = {"name": "net", "inputs": 2, "loss": "sse",
                                "layers": [{"units": 2, "activation": "tanh"}]}
        if as_loss:
            spec["loss"], path = formula, "loss"
        else:
            spec["layers"][0]["activation"], path = formula, "layers[0].activation"
        with pytest.raises(SpecError) as caught:
            spec_from_dict(spec, "canary.toml")
        _assert_one_line_at(caught.value, "canary.toml", path)
    assert not (tmp_path / "CANARY").exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# d. The generated module given bad data: ValueError naming the argument (and the shapes).


def _first_named(message: str) -> str | None:
    found = re.search(r"\b([XY])\b", message)
    return found.group(1) if found else None


def _names_shape(message: str, shape: tuple[int, ...], expected: int) -> None:
    assert str(shape) in message, message
    assert re.search(rf"\b{expected}\b", message.replace(str(shape), "")), message


BAD_DATA = ["x_ndim", "x_columns", "y_ndim", "y_columns", "rows", "x_nonfinite", "y_nonfinite", "labels"]


@_settings(200)
@given(spec=networks(max_depth=2), kind=st.sampled_from(BAD_DATA), data=st.data())
def test_generated_module_refuses_bad_data_by_name(spec: dict[str, Any], kind: str, data: st.DataObject) -> None:
    if kind == "labels":
        assume(spec["loss"] in ("bce", "cross_entropy"))
    module = module_for(spec)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    n = data.draw(st.integers(1, 6), label="n")
    d, k = spec["inputs"], spec["layers"][-1]["units"]
    X, Y = rng.normal(size=(n, d)), targets(spec, rng, n)
    params = module.init_params()

    if kind == "x_ndim":
        X = data.draw(st.sampled_from([X[0], X[:, :, None], np.float64(1.0), X.ravel()]), label="X")
    elif kind == "x_columns":
        X = rng.normal(size=(n, data.draw(st.integers(0, 8).filter(lambda c: c != d), label="columns")))
    elif kind == "y_ndim":
        Y = data.draw(st.sampled_from([Y[:, 0], Y[:, :, None], np.float64(0.0)]), label="Y")
    elif kind == "y_columns":
        Y = rng.normal(size=(n, data.draw(st.integers(0, 9).filter(lambda c: c != k), label="columns")))
    elif kind == "rows":
        Y = targets(spec, rng, data.draw(st.integers(1, 8).filter(lambda m: m != n), label="rows"))
    elif kind in ("x_nonfinite", "y_nonfinite"):
        target = X if kind == "x_nonfinite" else Y
        row, column = rng.integers(0, target.shape[0]), rng.integers(0, target.shape[1])
        target[row, column] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value")
    else:
        row = int(rng.integers(0, n))
        if spec["loss"] == "bce":
            Y[row, rng.integers(0, k)] = data.draw(st.sampled_from([-0.5, 1.5, -1e-3, 2.0]), label="label")
        else:
            Y[row] = Y[row] * 2 if data.draw(st.booleans(), label="double") else Y[row] - 0.5
    argument = "X" if kind.startswith("x") else "Y"

    calls: dict[str, Callable[[], object]] = {
        "loss": lambda: module.loss(params, X, Y),
        "gradients": lambda: module.gradients(params, X, Y),
        "train": lambda: module.train(X, Y, epochs=1),
    }
    if argument == "X":
        calls["forward"] = lambda: module.forward(params, X)
        calls["predict"] = lambda: module.predict(params, X)
    call = data.draw(st.sampled_from(sorted(calls)), label="call")
    with pytest.raises(ValueError) as caught:
        calls[call]()
    message = str(caught.value)
    assert "\n" not in message
    assert _first_named(message) == argument, message

    if kind in ("x_ndim", "x_columns"):
        _names_shape(message, np.shape(X), d)
    elif kind in ("y_ndim", "y_columns"):
        _names_shape(message, np.shape(Y), k)
    elif kind == "rows":
        _names_shape(message, np.shape(Y), n)
    elif kind.endswith("nonfinite"):
        assert re.search(r"nan|inf|finite", message, re.IGNORECASE), message
    elif spec["loss"] == "bce":
        assert "[0, 1]" in message, message
    else:
        assert f"row {row}" in message, message


@_settings(100)
@given(spec=networks(max_depth=3), fault=st.sampled_from(["missing", "shape", "extra"]), data=st.data())
def test_load_refuses_a_file_that_does_not_fit(spec: dict[str, Any], fault: str, data: st.DataObject) -> None:
    module = module_for(spec)
    params = draw_params(module, np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed")))
    key = data.draw(st.sampled_from(sorted(params)), label="key")
    with tempfile.TemporaryDirectory() as folder:
        good, bad = str(Path(folder) / "good.npz"), str(Path(folder) / "bad.npz")
        module.save(params, good)
        loaded = module.load(good)
        assert set(loaded) == set(params) and all(np.array_equal(loaded[k], params[k]) for k in params)

        arrays = dict(params)
        if fault == "missing":
            del arrays[key]
        elif fault == "shape":
            arrays[key] = data.draw(st.sampled_from([
                np.concatenate([params[key], params[key][:1]]), params[key][..., None], params[key].ravel()[:-1],
            ]), label="bad array")
        else:
            key = data.draw(st.sampled_from(["W9", "b9", "extra", "w1"]), label="extra key")
            arrays[key] = np.zeros(2)
        np.savez(bad, **arrays)
        with pytest.raises(ValueError) as caught:
            module.load(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert f"'{key}'" in message, message
    if fault == "shape":
        assert str(arrays[key].shape) in message and str(params[key].shape) in message, message
