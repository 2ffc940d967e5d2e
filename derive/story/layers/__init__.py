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
"""
