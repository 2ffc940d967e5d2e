"""The spec: a declared network, parsed from TOML (or a dict) and checked field by field.

Contract (TOML)::

    name = "xor"            # module name: a Python identifier, not a keyword
    inputs = 2              # features per sample, or [C, H, W] for an image
    loss = "sse"            # sse | mse | bce | cross_entropy | a formula in a and y
    reduction = "sum"       # sum | mean (over samples)
    dtype = "float64"       # float64 | float32
    [[layers]]
    type = "dense"          # the default; a kind of derive.layers.KINDS, which reads the rest
    units = 2
    activation = "sigmoid"  # a registered name or a formula in z
    [train]
    optimizer = "gd"        # gd | sgd | momentum | adam
    learning_rate = 0.5
    epochs = 5000
    batch_size = 32
    seed = 0

Every problem is a :class:`~derive.errors.SpecError` naming the field path. Each layer's fields are
read by its kind (:mod:`derive.layers`), which also gives the layer's output shape.
"""

from __future__ import annotations

import difflib
import itertools
import keyword
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sympy as sp

from derive import naming
from derive.bounded import within
from derive.errors import SpecError, shown, shown_value
from derive.optimizers import HYPERPARAMETERS
from derive.optimizers import OPTIMIZERS as OPTIMIZER_RULES
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

if TYPE_CHECKING:
    from derive.layers import Settings, Shape

OPTIMIZERS = tuple(OPTIMIZER_RULES)
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
class TrainSpec:
    """The [train] table: the optimizer (a rule of :mod:`derive.optimizers`), the learning rate, epochs,
    batch size and seed, and every optimizer's settings by name (``spec.train.momentum``)."""

    optimizer: str = "gd"
    learning_rate: float = 0.1
    epochs: int = 1000
    batch_size: int = 32
    seed: int = 0
    settings: dict[str, float] = field(default_factory=lambda: {name: setting.default
                                                                for name, setting in HYPERPARAMETERS.items()})

    def __getattr__(self, name: str) -> float:
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(f"TrainSpec has no setting {name!r}")


@dataclass(frozen=True)
class Spec:
    """A checked network: ``layers`` holds each layer's settings as its kind read them, ``shapes`` a sample's
    shape before the first layer and after each ((d,) or (C, H, W)); ``inputs`` is a sample's number of
    values, d or C·H·W."""

    name: str
    inputs: int
    layers: tuple[Settings, ...]
    loss: LossRule
    reduction: str = "sum"
    dtype: str = "float64"
    train: TrainSpec = field(default_factory=TrainSpec)
    source: str = "<spec>"
    warnings: tuple[str, ...] = ()
    data: tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]] | None = None  # [data] X and Y
    shapes: tuple[Shape, ...] = ()

    def __post_init__(self) -> None:
        if not self.shapes:  # a spec built by hand from dense layers alone
            sizes = [self.inputs, *(layer.units for layer in self.layers)]  # type: ignore[attr-defined]
            object.__setattr__(self, "shapes", tuple((size,) for size in sizes))

    @property
    def input_shape(self) -> Shape:
        return self.shapes[0]

    @property
    def sizes(self) -> tuple[Any, ...]:
        """Each shape as the generated module's SIZES lists it: a width, or (C, H, W) for an image."""
        return tuple(shape if len(shape) == 3 else shape[0] for shape in self.shapes)

    @property
    def outputs(self) -> int:
        return self.shapes[-1][0]


TOP_KEYS = ("name", "inputs", "loss", "reduction", "dtype", "layers", "train", "data")
DATA_KEYS = ("X", "Y")
MAX_DATA_ROWS = 64
TRAIN_KEYS = ("optimizer", "learning_rate", "epochs", "batch_size", "seed", *HYPERPARAMETERS)


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


def input_shape(value: Any) -> Shape:
    """``inputs``: an integer (a flat vector of features) or [C, H, W] (an image)."""
    from derive.layers.windows import side

    if isinstance(value, list):
        if len(value) != 3:
            raise SpecError("inputs", f"expected an integer or [channels, height, width], got {len(value)} numbers")
        return tuple(side(v, f"inputs[{index}]") for index, v in enumerate(value))
    return (integer(value, "inputs", 1, MAX_UNITS),)


def layer_list(value: Any) -> list[Any]:
    """The ``layers`` field as a list of 1 to ``MAX_LAYERS`` items, or a SpecError naming it."""
    if not isinstance(value, list):
        raise SpecError("layers", f"expected an array of tables ([[layers]]), got {type_name(value)}")
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
        known_keys(data, TOP_KEYS, "")
        for required in ("name", "inputs", "layers", "loss"):
            if required not in data:
                raise SpecError(required, "missing (required)")
        name = _identifier(data["name"], "name")
        shape = input_shape(data["inputs"])
        layers, shapes = self.layers(data["layers"], shape)
        loss = _loss(data["loss"])
        reduction = choice(data.get("reduction", "sum"), "reduction", REDUCTIONS)
        dtype = choice(data.get("dtype", "float64"), "dtype", DTYPES)
        train = self.train(data.get("train", {}))
        warnings = tuple(_partial_domains(layers) + _unwise(layers[-1], shapes[-1][0], loss, len(layers))
                         + _memory(layers, shapes, dtype))
        inputs = math.prod(shape)
        example = self.data(data["data"], inputs, shapes[-1][0]) if "data" in data else None
        return Spec(name, inputs, layers, loss, reduction, dtype, train, self.source, warnings, example, shapes)

    def data(self, value: Any, inputs: int, outputs: int) -> tuple[tuple[tuple[float, ...], ...], ...]:
        """The [data] table: a few rows X (n × inputs) and Y (n × outputs) for the worked example."""
        if not isinstance(value, dict):
            raise SpecError("data", f"expected a table with X and Y, got {type_name(value)}")
        known_keys(value, DATA_KEYS, "data")
        arrays = []
        for key, columns in (("X", inputs), ("Y", outputs)):
            if key not in value:
                raise SpecError(f"data.{key}", "missing (required)")
            rows = value[key]
            if not isinstance(rows, list) or not rows or len(rows) > MAX_DATA_ROWS:
                raise SpecError(f"data.{key}", f"expected an array of 1 to {MAX_DATA_ROWS} rows, got {type_name(rows)}")
            checked = []
            for index, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != columns:
                    raise SpecError(f"data.{key}[{index}]", f"expected a row of {columns} numbers, got {row!r}"[:200])
                checked.append(tuple(_finite(number, f"data.{key}[{index}]") for number in row))
            arrays.append(tuple(checked))
        if len(arrays[0]) != len(arrays[1]):
            raise SpecError("data.Y", f"expected {len(arrays[0])} rows to match data.X, got {len(arrays[1])}")
        return tuple(arrays)

    def layers(self, value: Any, shape: Shape) -> tuple[tuple[Settings, ...], tuple[Shape, ...]]:
        """Each layer read by its kind, on the shape the layers before it leave."""
        from derive.layers import KINDS

        layers: list[Settings] = []
        shapes = [shape]
        for index, item in enumerate(layer_list(value)):
            path = f"layers[{index}]"
            if not isinstance(item, dict):
                raise SpecError(path, f"expected a table with units and activation, got {type_name(item)}")
            kind = KINDS[choice(item.get("type", "dense"), f"{path}.type", tuple(KINDS))]
            known_keys(item, (*kind.keys, "type"), path)
            if kind.needs == "image" and len(shapes[-1]) != 3:
                raise SpecError(f"{path}.type", f"{kind.name} needs an image input [C, H, W], got a flat input of "
                                                f"{shapes[-1][0]}")
            if kind.needs == "flat" and len(shapes[-1]) != 1:
                raise SpecError(f"{path}.type", f"a {kind.name} layer needs a flat input, got shape "
                                                f'{list(shapes[-1])}; add a layer with type = "flatten" before it')
            settings, out = kind.read(item, shapes[-1], path)
            layers.append(settings)
            shapes.append(out)
        for index, layer in enumerate(layers[:-1]):
            if layer.activation is not None and layer.activation.kind == "softmax":
                raise SpecError(f"layers[{index}].activation", "softmax is supported on the output layer only")
        if not KINDS[layers[-1].kind].can_be_output:
            raise SpecError(f"layers[{len(layers) - 1}].type", f"the output layer must be dense (add flatten and a "
                                                               f"dense layer), got {layers[-1].kind}")
        return tuple(layers), tuple(shapes)

    def train(self, value: Any) -> TrainSpec:
        if not isinstance(value, dict):
            raise SpecError("train", f"expected a table, got {type_name(value)}")
        known_keys(value, TRAIN_KEYS, "train")
        defaults = TrainSpec()
        return TrainSpec(
            optimizer=choice(value.get("optimizer", defaults.optimizer), "train.optimizer", OPTIMIZERS),
            learning_rate=_number(value.get("learning_rate", defaults.learning_rate), "train.learning_rate"),
            epochs=integer(value.get("epochs", defaults.epochs), "train.epochs", 1, 10**9),
            batch_size=integer(value.get("batch_size", defaults.batch_size), "train.batch_size", 1, 10**9),
            seed=integer(value.get("seed", defaults.seed), "train.seed", 0, 2**63 - 1),
            settings={name: (_fraction if setting.bounds == "fraction" else _number)(
                value.get(name, setting.default), f"train.{name}") for name, setting in HYPERPARAMETERS.items()},
        )


def type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), type(value).__name__)


def known_keys(table: dict[str, Any], known: tuple[str, ...], path: str) -> None:
    for key in table:
        if key not in known:
            where = f"{path}.{shown(key, 40)}" if path else shown(key, 40)
            guess = difflib.get_close_matches(str(key)[:40], known, n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else f" (known keys: {', '.join(known)})"
            raise SpecError(where, f"unknown key{hint}")


def _identifier(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise SpecError(path, f"expected a string, got {type_name(value)}")
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


def integer(value: Any, path: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"expected an integer, got {type_name(value)} {shown_value(value)}")
    if not least <= value <= most:
        raise SpecError(path, f"expected an integer from {least} to {most}, got {shown_value(value)}")
    return value


def _float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"expected a number, got {type_name(value)} {shown_value(value)}")
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


def choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise SpecError(path, f"expected one of {', '.join(choices)}, got {type_name(value)}")
    if value not in choices:
        suggestion = _did_you_mean(value, choices)
        raise SpecError(path, f"unknown value {shown_value(value)}; expected one of {', '.join(choices)}{suggestion}")
    return value


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    guess = difflib.get_close_matches(value[:40], list(choices), n=1)
    return f" (did you mean '{guess[0]}'?)" if guess else ""


def activation_rule(value: Any, path: str) -> ActivationRule:
    if not isinstance(value, str):
        raise SpecError(path, f"expected an activation name or a formula in z, got {type_name(value)}")
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
        raise SpecError(path, f"expected a loss name or a formula in a and y, got {type_name(value)}")
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


def _partial_domains(layers: tuple[Settings, ...]) -> list[str]:
    """Warnings for activation formulas SymPy cannot show real and finite for every real z."""
    warnings = []
    for index, layer in enumerate(layers):
        rule = layer.activation
        if rule is None or ACTIVATIONS.get(rule.name) == rule:
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


def _memory(layers: tuple[Settings, ...], shapes: tuple[Shape, ...], dtype: str) -> list[str]:
    """A warning when the parameters alone need more than ``PARAMETER_BYTES_WARNED`` of memory."""
    from derive.layers import KINDS

    count = sum(KINDS[layer.kind].parameter_count(layer, before, after)
                for layer, (before, after) in zip(layers, itertools.pairwise(shapes), strict=True))
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


def _unwise(output: Settings, units: int, loss: LossRule, depth: int) -> list[str]:
    """Legal but unwise pairs of output activation and loss, each with the reason."""
    where = f"layers[{depth - 1}].activation"
    name = output.activation.name
    warnings = []
    if name == "softmax" and units == 1:
        warnings.append(f"{where}: softmax over one unit always outputs 1, so its gradient is zero and nothing "
                        "is learned; use sigmoid for a single output, or softmax over two or more units")
    if loss.name == "bce" and name == "softmax":
        warnings.append(f"{where}: softmax with bce couples the outputs although bce treats each one as an "
                        "independent yes/no; use sigmoid with bce, or softmax with cross_entropy")
    elif loss.name == "bce" and name != "sigmoid":
        warnings.append(f"{where}: bce takes log(a) and log(1 - a), but {name} outputs are not confined to "
                        "(0, 1), so the loss can be undefined; use sigmoid on the output layer")
    if loss.name == "cross_entropy" and name == "sigmoid" and units == 1:
        warnings.append(f"{where}: cross_entropy over one sigmoid unit only rewards y = 1 (the y = 0 term "
                        "is missing), so the output drifts to 1; use bce, or softmax over two units")
    elif loss.name == "cross_entropy" and name not in ("softmax", "sigmoid"):
        warnings.append(f"{where}: cross_entropy expects probabilities that sum to 1, but {name} outputs "
                        "are not; use softmax on the output layer")
    return warnings
