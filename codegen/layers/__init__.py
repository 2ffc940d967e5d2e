"""The generated code of each layer kind, one module per kind (``codegen/layers/<stage>.py``), found through the
kind (:meth:`derive.layers.LayerKind.code`); :mod:`codegen.layers.base` says what each module provides."""
