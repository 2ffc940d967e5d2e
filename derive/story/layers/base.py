"""What the kinds' document parts share: the notation table's slots, the graph's operation names and
edges, and arrays of numbers as the worked example shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from derive import naming
from derive.notation import Array, FunctionName, Partial, Value
from derive.steps import Edge, Paragraph

LABEL_OPS = 6  # an edge label shows a local derivative of at most this many operations
TIMES, PLUS, DOT = FunctionName(r"\times"), FunctionName("+"), FunctionName(r"\cdot")
SHOWN = 4  # rows and columns of an array shown; more are left out (⋯)

Entry = tuple[sp.Basic, Paragraph]


@dataclass
class Notes:
    """A kind's rows of the notation table, by the place they take in it: the sizes after the layers,
    the indices after the outputs, the arrays after the input, the operations after the Kronecker
    delta, the blocks of the diagram after the activations."""

    sizes: list[Entry] = field(default_factory=list)
    indices: list[Entry] = field(default_factory=list)
    arrays: list[Entry] = field(default_factory=list)
    operations: list[Entry] = field(default_factory=list)
    blocks: list[Entry] = field(default_factory=list)


def numbers(values: np.ndarray, digits: int = 4) -> Array:
    """An array as the document shows it: at most ``SHOWN`` rows and columns; of a batch of images,
    the first sample's first channel."""
    matrix = np.atleast_2d(values)
    while matrix.ndim > 2:
        matrix = matrix[0]
    rows = tuple(tuple(Value(value, digits) for value in line[:SHOWN]) for line in matrix[:SHOWN])
    return Array(rows, matrix.shape[0] > SHOWN, matrix.shape[1] > SHOWN)


def short(local: sp.Basic, name: sp.Basic) -> sp.Basic:
    """An edge's local derivative as derived when it is short (σ′ = A(1 − A), 1 − A², H(Z)), else its
    name (GELU′, ∂ℓ/∂a), which the document's sections derive; a label stays a label."""
    return name if sp.count_ops(local) > LABEL_OPS else local


def edge(source: str, target: str, quantity: sp.Basic, value: object, local: sp.Basic | None,
         back: object) -> Edge:
    """An edge carrying ``quantity = value`` forward and ∂E/∂quantity = back backward (None: no gradient)."""
    forward = sp.Eq(quantity, Value(value), evaluate=False)
    backward = None if back is None else sp.Eq(Partial(naming.E, quantity), Value(back), evaluate=False)
    return Edge(source, target, forward, local, backward)
