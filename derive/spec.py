"""The spec: a declared network, parsed from TOML (or a dict) and checked field by field.

Contract (TOML)::

    name = "xor"            # module name: a Python identifier, not a keyword
    inputs = 2              # features per sample
    loss = "sse"            # sse | mse | bce | cross_entropy | a formula in a and y
    reduction = "sum"       # sum | mean (over samples)
    dtype = "float64"       # float64 | float32
    [[layers]]
    units = 2
    activation = "sigmoid"  # a registered name or a formula in z
    [train]
    optimizer = "gd"        # gd | sgd | momentum | adam
    learning_rate = 0.5
    epochs = 5000
    batch_size = 32
    seed = 0

Every problem is a :class:`~derive.errors.SpecError` naming the field path.
"""

from __future__ import annotations

import difflib
import itertools
import keyword
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from derive import naming
from derive.bounded import within
from derive.errors import SpecError, shown, shown_value
from derive.reading import check_nesting, read_text, read_toml
from derive.rules import (
    ACTIVATIONS,
    LOSSES,
    ActivationRule,
    LossRule,
    formula_activation,
    formula_loss,
)
from derive.slopes import infinite_slope

OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
REDUCTIONS = ("sum", "mean")
DTYPES = ("float64", "float32")
INITS = ("auto", "xavier", "he")
MAX_LAYERS = 256
MAX_UNITS = 1_000_000
MAX_NAME = 100  # characters of a module name
PARAMETER_BYTES_WARNED = 2**31  # parameters that need more memory than this are warned about
SLOPE_SECONDS = 3.0  # to look for points where an activation's derivative is infinite
RESERVED_NAMES = frozenset({"numpy"})  # what the generated module imports, beyond the standard library


@dataclass(frozen=True)
class LayerSpec:
    units: int
    activation: ActivationRule
    init: str = "auto"


@dataclass(frozen=True)
class TrainSpec:
    optimizer: str = "gd"
    learning_rate: float = 0.1
    epochs: int = 1000
    batch_size: int = 32
    seed: int = 0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8


@dataclass(frozen=True)
class Spec:
    name: str
    inputs: int
    layers: tuple[LayerSpec, ...]
    loss: LossRule
    reduction: str = "sum"
    dtype: str = "float64"
    train: TrainSpec = field(default_factory=TrainSpec)
    source: str = "<spec>"
    warnings: tuple[str, ...] = ()
    data: tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]] | None = None  # [data] X and Y

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *(layer.units for layer in self.layers))

    @property
    def outputs(self) -> int:
        return self.layers[-1].units


TOP_KEYS = ("name", "inputs", "loss", "reduction", "dtype", "layers", "train", "data")
DATA_KEYS = ("X", "Y")
MAX_DATA_ROWS = 64
LAYER_KEYS = ("units", "activation", "init", "type")  # type: dense here; other kinds in derive.layers.grid
TRAIN_KEYS = tuple(TrainSpec.__dataclass_fields__)


def load_spec(path: str | Path) -> Spec:
    """Read and check a TOML spec file (UTF-8, at most ``MAX_SPEC_BYTES``; a byte order mark is skipped)."""
    return parse_spec(read_text(path), str(path))


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Check a spec given as TOML text."""
    return spec_from_dict(read_toml(text, source), source)


def spec_from_dict(data: dict[str, Any], source: str = "<spec>") -> Spec:
    """Check a spec given as a dict (the parsed TOML); the Python API's way in."""
    try:
        check_nesting(data)
        return _Checker(source).spec(data)
    except SpecError as error:
        raise error.with_source(source) from None


def layer_list(value: Any) -> list[Any]:
    """The ``layers`` field as a list of 1 to ``MAX_LAYERS`` items, or a SpecError naming it."""
    if not isinstance(value, list):
        raise SpecError("layers", f"expected an array of tables ([[layers]]), got {_type(value)}")
    if not value:
        raise SpecError("layers", "the network needs at least one layer")
    if len(value) > MAX_LAYERS:
        raise SpecError("layers", f"{len(value)} layers; at most {MAX_LAYERS} are supported")
    return value


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def spec(self, data: Any) -> Spec:
        if not isinstance(data, dict):
            raise SpecError("", f"expected a table of settings, got {type(data).__name__}")
        from derive.layers import grid  # image input or typed layers (conv2d, pooling, flatten)
        if grid.is_grid(data):
            return grid.grid_spec(self, data)
        _known_keys(data, TOP_KEYS, "")
        for required in ("name", "inputs", "layers", "loss"):
            if required not in data:
                raise SpecError(required, "missing (required)")
        name = _identifier(data["name"], "name")
        inputs = _integer(data["inputs"], "inputs", 1, MAX_UNITS)
        layers = self.layers(data["layers"])
        loss = _loss(data["loss"])
        reduction = _choice(data.get("reduction", "sum"), "reduction", REDUCTIONS)
        dtype = _choice(data.get("dtype", "float64"), "dtype", DTYPES)
        train = self.train(data.get("train", {}))
        warnings = tuple(_partial_domains(layers) + _unwise(layers[-1], loss, len(layers))
                         + _memory((inputs, *(layer.units for layer in layers)), dtype))
        example = self.data(data["data"], inputs, layers[-1].units) if "data" in data else None
        return Spec(name, inputs, layers, loss, reduction, dtype, train, self.source, warnings, example)

    def data(self, value: Any, inputs: int, outputs: int) -> tuple[tuple[tuple[float, ...], ...], ...]:
        """The [data] table: a few rows X (n × inputs) and Y (n × outputs) for the worked example."""
        if not isinstance(value, dict):
            raise SpecError("data", f"expected a table with X and Y, got {_type(value)}")
        _known_keys(value, DATA_KEYS, "data")
        arrays = []
        for key, columns in (("X", inputs), ("Y", outputs)):
            if key not in value:
                raise SpecError(f"data.{key}", "missing (required)")
            rows = value[key]
            if not isinstance(rows, list) or not rows or len(rows) > MAX_DATA_ROWS:
                raise SpecError(f"data.{key}", f"expected an array of 1 to {MAX_DATA_ROWS} rows, got {_type(rows)}")
            checked = []
            for index, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != columns:
                    raise SpecError(f"data.{key}[{index}]", f"expected a row of {columns} numbers, got {row!r}"[:200])
                checked.append(tuple(_finite(number, f"data.{key}[{index}]") for number in row))
            arrays.append(tuple(checked))
        if len(arrays[0]) != len(arrays[1]):
            raise SpecError("data.Y", f"expected {len(arrays[0])} rows to match data.X, got {len(arrays[1])}")
        return tuple(arrays)

    def layers(self, value: Any) -> tuple[LayerSpec, ...]:
        layers = []
        for index, item in enumerate(layer_list(value)):
            path = f"layers[{index}]"
            if not isinstance(item, dict):
                raise SpecError(path, f"expected a table with units and activation, got {_type(item)}")
            _known_keys(item, LAYER_KEYS, path)
            if "units" not in item:
                raise SpecError(f"{path}.units", "missing (required)")
            units = _integer(item["units"], f"{path}.units", 1, MAX_UNITS)
            activation = _activation(item.get("activation", "identity"), f"{path}.activation")
            init = _choice(item.get("init", "auto"), f"{path}.init", INITS)
            layers.append(LayerSpec(units, activation, init))
        for index, layer in enumerate(layers[:-1]):
            if layer.activation.kind == "softmax":
                raise SpecError(f"layers[{index}].activation", "softmax is supported on the output layer only")
        return tuple(layers)

    def train(self, value: Any) -> TrainSpec:
        if not isinstance(value, dict):
            raise SpecError("train", f"expected a table, got {_type(value)}")
        _known_keys(value, TRAIN_KEYS, "train")
        defaults = TrainSpec()
        return TrainSpec(
            optimizer=_choice(value.get("optimizer", defaults.optimizer), "train.optimizer", OPTIMIZERS),
            learning_rate=_number(value.get("learning_rate", defaults.learning_rate), "train.learning_rate"),
            epochs=_integer(value.get("epochs", defaults.epochs), "train.epochs", 1, 10**9),
            batch_size=_integer(value.get("batch_size", defaults.batch_size), "train.batch_size", 1, 10**9),
            seed=_integer(value.get("seed", defaults.seed), "train.seed", 0, 2**63 - 1),
            momentum=_fraction(value.get("momentum", defaults.momentum), "train.momentum"),
            beta1=_fraction(value.get("beta1", defaults.beta1), "train.beta1"),
            beta2=_fraction(value.get("beta2", defaults.beta2), "train.beta2"),
            epsilon=_number(value.get("epsilon", defaults.epsilon), "train.epsilon"),
        )


def _type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _known_keys(table: dict[str, Any], known: tuple[str, ...], path: str) -> None:
    for key in table:
        if key not in known:
            where = f"{path}.{shown(key, 40)}" if path else shown(key, 40)
            guess = difflib.get_close_matches(str(key)[:40], known, n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else f" (known keys: {', '.join(known)})"
            raise SpecError(where, f"unknown key{hint}")


def _identifier(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise SpecError(path, f"expected a string, got {_type(value)}")
    if len(value) > MAX_NAME:
        raise SpecError(path, f"{shown_value(value)} is {len(value)} characters long; a name has at most {MAX_NAME}")
    if not value.isidentifier() or not value.isascii():
        raise SpecError(path, f"{value!r} is not a Python identifier "
                              "(ASCII letters, digits and _, not starting with a digit)")
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise SpecError(path, f"{value!r} is a Python keyword; choose another name")
    if value in sys.stdlib_module_names or value in sys.builtin_module_names or value in RESERVED_NAMES:
        what = "NumPy, which the generated module imports" if value in RESERVED_NAMES else "a standard-library module"
        raise SpecError(path, f"{value!r} is the name of {what}; a generated module of that name would "
                              "shadow it (or be shadowed by it); choose another name")
    if value.startswith("__") and value.endswith("__"):
        raise SpecError(path, f"{value!r} is a name Python reserves (as __init__ and __main__); choose another name")
    return value


def _integer(value: Any, path: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"expected an integer, got {_type(value)} {shown_value(value)}")
    if not least <= value <= most:
        raise SpecError(path, f"expected an integer from {least} to {most}, got {shown_value(value)}")
    return value


def _float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"expected a number, got {_type(value)} {shown_value(value)}")
    return float(value)


def _finite(value: Any, path: str) -> float:
    number = _float(value, path)
    if not math.isfinite(number):
        raise SpecError(path, f"expected finite numbers, got {value}")
    return number


def _number(value: Any, path: str) -> float:
    number = _float(value, path)
    if not math.isfinite(number) or number <= 0:
        raise SpecError(path, f"expected a finite number > 0, got {value}")
    return number


def _fraction(value: Any, path: str) -> float:
    """A decay rate: 0 <= value < 1, as train() accepts (0 turns momentum into plain sgd)."""
    number = _float(value, path)
    if not 0 <= number < 1:
        raise SpecError(path, f"expected a number >= 0 and < 1, got {value}")
    return number


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise SpecError(path, f"expected one of {', '.join(choices)}, got {_type(value)}")
    if value not in choices:
        suggestion = _did_you_mean(value, choices)
        raise SpecError(path, f"unknown value {shown_value(value)}; expected one of {', '.join(choices)}{suggestion}")
    return value


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    guess = difflib.get_close_matches(value[:40], list(choices), n=1)
    return f" (did you mean '{guess[0]}'?)" if guess else ""


def _activation(value: Any, path: str) -> ActivationRule:
    if not isinstance(value, str):
        raise SpecError(path, f"expected an activation name or a formula in z, got {_type(value)}")
    text = value.strip()
    if text in ACTIVATIONS:
        return ACTIVATIONS[text]
    if text.isidentifier() and text != "z":
        names = tuple(ACTIVATIONS)
        raise SpecError(path, f"unknown activation {shown_value(text)}{_did_you_mean(text, names)}; "
                              f"expected one of {', '.join(names)} or a formula in z")
    rule = formula_activation(text)
    expr = rule.definition(path)
    _depends_on(expr, naming.z, path, "an activation formula must depend on z")
    _differentiable(expr, naming.z, path)
    return rule


def _loss(value: Any) -> LossRule:
    path = "loss"
    if not isinstance(value, str):
        raise SpecError(path, f"expected a loss name or a formula in a and y, got {_type(value)}")
    text = value.strip()
    if text in LOSSES:
        return LOSSES[text]
    if text.isidentifier() and text not in ("a", "y"):
        names = tuple(LOSSES)
        raise SpecError(path, f"unknown loss {shown_value(text)}{_did_you_mean(text, names)}; "
                              f"expected one of {', '.join(names)} or a formula in a and y")
    rule = formula_loss(text)
    expr = rule.element(path)
    _depends_on(expr, naming.a, path, "a loss formula must depend on a (the network output)")
    _differentiable(expr, naming.a, path)
    return rule


CONSTANT_POINTS = (-2.71, -1.13, -0.37, 0.29, 0.83, 1.61, 3.07)  # where a formula's slope is looked at


def _depends_on(expr: sp.Expr, symbol: sp.Symbol, path: str, message: str) -> None:
    """``symbol`` occurs in ``expr`` and ``expr`` is not constant in it: its derivative is not 0 at every one of
    ``CONSTANT_POINTS`` (other variables at 0.5), as ``(z+1)**2 - z**2 - 2*z`` is, through which nothing learns."""
    if symbol not in expr.free_symbols:
        raise SpecError(path, f"{message}; {shown_value(str(expr))} does not")
    slope = sp.diff(expr, symbol)
    others = {other: sp.Rational(1, 2) for other in slope.free_symbols - {symbol}}

    def flat() -> bool:
        if sp.expand(slope) == 0:
            return True
        for point in CONSTANT_POINTS:
            value = complex(slope.subs(others).subs(symbol, sp.Float(point, 30)).evalf(30))
            if not abs(value) < 1e-20:  # NaN (outside the domain) counts as not flat
                return False
        return True

    if within(flat, False):
        raise SpecError(path, f"{message}; {shown_value(str(expr))} is constant in {symbol} (its derivative is 0), so "
                              "no gradient flows through it")


def _differentiable(expr: sp.Expr, symbol: sp.Symbol, path: str) -> None:
    derivative = sp.diff(expr, symbol)
    if derivative.has(sp.Derivative, sp.Subs, sp.nan, sp.zoo):
        raise SpecError(path, f"SymPy cannot differentiate {str(expr)!r} with respect to {symbol} "
                              f"(it gives {str(derivative)!r})")


def _partial_domains(layers: tuple[LayerSpec, ...]) -> list[str]:
    """Warnings for activation formulas SymPy cannot show real and finite for every real z."""
    warnings = []
    for index, layer in enumerate(layers):
        rule = layer.activation
        if ACTIVATIONS.get(rule.name) == rule:
            continue
        expr = rule.definition()
        if not within(lambda expr=expr: expr.is_real is True and expr.is_finite is True, False):
            warnings.append(f"layers[{index}].activation: SymPy cannot show that {rule.formula} is real and finite "
                            "for every real z; pre-activations outside its domain give NaN or inf in training")
            continue
        point = within(lambda expr=expr: infinite_slope(expr, naming.z), None, seconds=SLOPE_SECONDS)
        if point is not None:
            warnings.append(f"layers[{index}].activation: the derivative of {rule.formula} is infinite or undefined "
                            f"at z = {point}; a pre-activation there gives inf or NaN gradients in training")
    return warnings


def _memory(sizes: tuple[int, ...], dtype: str) -> list[str]:
    """A warning when the parameters alone need more than ``PARAMETER_BYTES_WARNED`` of memory."""
    count = sum(fan_in * fan_out + fan_out for fan_in, fan_out in itertools.pairwise(sizes))
    size = count * (8 if dtype == "float64" else 4)
    if size <= PARAMETER_BYTES_WARNED:
        return []
    return [f"layers: {count:,} parameters need {_bytes(size)} as {dtype}, and training several times that "
            "(gradients, optimizer state); init_params may fail for lack of memory"]


def _bytes(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "bytes" else f"{size} bytes"
        size /= 1024  # type: ignore[assignment]
    return ""  # pragma: no cover


def _unwise(output: LayerSpec, loss: LossRule, depth: int) -> list[str]:
    """Legal but unwise pairs of output activation and loss, each with the reason."""
    where = f"layers[{depth - 1}].activation"
    name = output.activation.name
    warnings = []
    if name == "softmax" and output.units == 1:
        warnings.append(f"{where}: softmax over one unit always outputs 1, so its gradient is zero and nothing "
                        "is learned; use sigmoid for a single output, or softmax over two or more units")
    if loss.name == "bce" and name == "softmax":
        warnings.append(f"{where}: softmax with bce couples the outputs although bce treats each one as an "
                        "independent yes/no; use sigmoid with bce, or softmax with cross_entropy")
    elif loss.name == "bce" and name != "sigmoid":
        warnings.append(f"{where}: bce takes log(a) and log(1 - a), but {name} outputs are not confined to "
                        "(0, 1), so the loss can be undefined; use sigmoid on the output layer")
    if loss.name == "cross_entropy" and name == "sigmoid" and output.units == 1:
        warnings.append(f"{where}: cross_entropy over one sigmoid unit only rewards y = 1 (the y = 0 term "
                        "is missing), so the output drifts to 1; use bce, or softmax over two units")
    elif loss.name == "cross_entropy" and name not in ("softmax", "sigmoid"):
        warnings.append(f"{where}: cross_entropy expects probabilities that sum to 1, but {name} outputs "
                        "are not; use softmax on the output layer")
    return warnings
