"""Each layer kind's part of the document, one module per kind (``derive/story/layers/<stage>.py``),
found through the kind (:meth:`derive.layers.LayerKind.story`). Each module provides:

* ``notation(net, cast, kind)``: its rows of the notation table (:class:`~derive.story.layers.base.Notes`);
* ``describe(layer, cast)``: one sentence saying what the layer does, with its sizes;
* ``forward_rows(layer, cast)``: its forward equations; ``diagram(layer, cast)``: its blocks of the
  block diagram, up to (not including) A⁽ˡ⁾;
* ``sections(net, cast, kind)``: its derivation: the partials SymPy derives and the chain-rule sums or routing;
* ``parameter_rows(net, layer, cast)``: ∂E/∂W⁽ˡ⁾ and ∂E/∂b⁽ˡ⁾ (none for a kind without parameters);
  ``input_gradient(net, layer)``: ∂E/∂A⁽ˡ⁻¹⁾ in this layer's symbols;
* ``graph(net, cast, worked, layer)``: its nodes and edges of the computational graph, with the
  worked example's numbers;
* ``worked_forward(net, cast, worked, layer)`` and ``worked_parameters(net, worked, layer)``: its rows of
  the worked example; ``entry_label(key, index)``: the name of one of its parameter entries.

The sections that walk the whole network (notation, network, chain rule, graph, backpropagation,
worked example) are written once, in :mod:`derive.story`, and ask each layer's kind for these.
``DEFAULTS`` is what a module that does not define a function gets: a kind without parameters has no
parameter rows and no parameter entries; a kind with nothing to add to the notation table adds nothing.
"""

from __future__ import annotations

from typing import Any


def _no_entries(key: str, index: tuple[int, ...]) -> Any:
    raise KeyError(f"{key}: this layer has no parameters")


def _no_notation(net: Any, cast: Any, kind: Any) -> Any:
    from derive.story.layers.base import Notes

    return Notes()


DEFAULTS: dict[str, Any] = {
    "notation": _no_notation,
    "parameter_rows": lambda net, layer, cast: [],
    "worked_parameters": lambda net, worked, layer: [],
    "entry_label": _no_entries,
}
