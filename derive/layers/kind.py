"""What a layer kind is: one object, registered once in :data:`derive.layers.KINDS`, that every stage asks.

Notation: layer l reads A⁽ˡ⁻¹⁾ (A⁽⁰⁾ = X) of one sample's shape ``in_shape`` — ``(d,)`` for a flat
vector, ``(C, H, W)`` for an image — and writes A⁽ˡ⁾ of shape ``out_shape``. A kind with parameters
(dense, conv2d) computes a pre-activation Z⁽ˡ⁾ and applies its elementwise activation,
A⁽ˡ⁾ = f(Z⁽ˡ⁾), with δ⁽ˡ⁾ = ∂E/∂Z⁽ˡ⁾; a kind without (pooling, flatten) writes A⁽ˡ⁾ directly and
passes ∂E/∂A⁽ˡ⁻¹⁾ back from ∂E/∂A⁽ˡ⁾.

A kind's stages, each in a module named after the kind's ``stage`` (``dense``, ``conv2d``, ``pool2d``,
``flatten``):

* here, in ``derive/layers/<stage>.py``: reading its spec fields (with field-path errors) and its
  output shape, its indexed definition and the partials SymPy derives, its small-instance proof
  (:mod:`derive.verify`), its parameters' shapes and initialisation fans, and its numbers for the
  worked example (:mod:`derive.worked`);
* ``derive/story/layers/<stage>.py``: its document sections, forward and backward equations,
  computational-graph nodes and worked-example rows;
* ``codegen/layers/<stage>.py``: its generated forward and backward lines.

So a new kind is one module per stage and one line in :data:`derive.layers.KINDS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from derive.network import LayerDerivation

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Settings:
    """A layer's settings as its kind read them from the spec; each kind's subclass adds its fields.

    Every subclass has ``kind`` (the name of its kind), ``activation`` (an
    :class:`~derive.rules.ActivationRule`, or None for a kind without one) and ``init`` (auto, xavier
    or he), as fields or as class attributes.
    """


class LayerKind:
    """A kind of layer. Subclasses set the class attributes and override what applies to them."""

    name: str = ""  # the spec's ``type``
    keys: tuple[str, ...] = ()  # its spec fields besides ``type``
    needs: str = "any"  # the input it reads: "image" (C, H, W), "flat" (d,) or "any"
    has_parameters: bool = False
    can_be_output: bool = False  # whether the network's last layer may be of this kind
    stage: str = ""  # the modules of its stages: derive/layers/<stage>.py, derive/story/layers/<stage>.py, …
    story_module: str = ""  # its document stage, if not derive.story.layers.<stage> (a kind of a test, a plug-in)
    code_module: str = ""  # its code stage, if not codegen.layers.<stage>

    # -- the spec ------------------------------------------------------------------------------

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[Settings, Shape]:
        """The settings of ``item`` (a [[layers]] table) on an input of ``shape``, and the output shape."""
        raise NotImplementedError

    # -- the derivation ------------------------------------------------------------------------

    def derive(self, settings: Settings) -> Any:
        """What SymPy derives for this kind (cached: it holds for every layer of the kind), or None."""
        return None

    def fans(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> tuple[int, int]:
        """(fan_in, fan_out) of the initialisation's standard deviation, as PyTorch counts them."""
        return 0, 0

    def parameter_shapes(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> dict[str, Shape]:
        """The shapes of its parameters by role (``{"W": …, "b": …}``), as the generated module keeps them."""
        return {}

    def parameter_count(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> int:
        shapes = self.parameter_shapes(settings, in_shape, out_shape).values()
        return sum(int(np.prod(shape)) for shape in shapes)

    def verify(self, layer: LayerDerivation) -> list[str]:
        """The entries where the kind's derived sums and the expanded scalar chain rule differ, on a small
        instance of the layer's settings (empty: proved). Dense layers are proved with the loss, through the
        whole chain, by :func:`derive.verify.verify_matrix_form`."""
        return []

    # -- numbers for the worked example ----------------------------------------------------------

    def forward_numbers(self, layer: LayerDerivation, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        """Z⁽ˡ⁾ (a kind with an activation) or A⁽ˡ⁾ (one without) for the batch A⁽ˡ⁻¹⁾, shape (n, *out_shape).
        ``params`` holds this layer's parameters by role; the arrays hold numbers (mpmath or float)."""
        raise NotImplementedError

    def backward_numbers(self, layer: LayerDerivation, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(∂E/∂(each parameter) by role, ∂E/∂A⁽ˡ⁻¹⁾) from ``delta``, ∂E/∂Z⁽ˡ⁾ (or ∂E/∂A⁽ˡ⁾ for a kind
        without an activation), by the derived sums."""
        raise NotImplementedError

    def near_tie(self, layer: LayerDerivation, A: np.ndarray) -> bool:
        """Whether the input A⁽ˡ⁻¹⁾ puts the layer near a point where its derivative jumps (two entries of a
        max-pooling window all but equal), where rounding could decide the worked example's numbers."""
        return False

    # -- its other stages ----------------------------------------------------------------------

    def story(self) -> ModuleType:
        """Its document stage, ``derive/story/layers/<stage>.py``."""
        return importlib.import_module(self.story_module or f"derive.story.layers.{self.stage}")

    def code(self) -> ModuleType:
        """Its code stage, ``codegen/layers/<stage>.py``."""
        return importlib.import_module(self.code_module or f"codegen.layers.{self.stage}")

    def __repr__(self) -> str:
        return f"<layer kind {self.name}>"
