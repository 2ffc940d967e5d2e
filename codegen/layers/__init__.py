"""The generated code of each layer kind, one module per kind (``codegen/layers/<stage>.py``), found through the
kind (:meth:`derive.layers.LayerKind.code`); :mod:`codegen.layers.base` says what each module provides, and
``DEFAULTS`` is what a module that does not define a function gets: a layer's arrays named A{l} and, for the
gradient arriving at it, d{l} (δ, where it has an activation) or g{l}; no parameter lines; no note on
layouts; a first layer that reads the input from A0 (images) or X (flat)."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "output": lambda layer: f"A{layer.index}",
    "gradient": lambda layer: f"d{layer.index}" if layer.rule is not None else f"g{layer.index}",
    "layout": lambda net: "",
    "parameters": lambda net, layer, work: [],
    "reads_input": lambda layer: False,
}
