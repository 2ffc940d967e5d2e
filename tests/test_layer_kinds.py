"""The layer-kind registry: a new kind is one module per stage and one registry line (tests/kinds/ adds
``gain`` with nothing else), and every kind answers every stage the same way."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from codegen import import_module, render_markdown
from derive import SpecError, derive_network, spec_from_dict
from derive.layers import KINDS
from derive.verify import verify_matrix_form
from derive.worked import work_example
from tests.conftest import numeric_gradients, relative_error
from tests.kinds.gain import GainKind

STORY_HOOKS = ("notation", "describe", "forward_rows", "diagram", "sections", "parameter_rows", "input_gradient",
               "graph", "worked_forward", "worked_parameters", "entry_label")
CODE_HOOKS = ("output", "gradient", "formula", "layout", "words", "forward", "parameters", "input_gradient",
              "reads_input")


@pytest.fixture
def gain() -> Iterator[None]:
    """The one registry line, for this test only."""
    KINDS["gain"] = GainKind()
    try:
        yield
    finally:
        del KINDS["gain"]


def _spec(factor: float = -1.5, loss: str = "sse") -> dict[str, object]:
    return {"name": "g", "inputs": 3, "loss": loss, "layers": [
        {"units": 4, "activation": "tanh"}, {"type": "gain", "factor": factor}, {"units": 2, "activation": "sigmoid"}]}


@pytest.mark.parametrize("kind", sorted(KINDS), ids=str)
def test_every_registered_kind_provides_every_stage(kind: str) -> None:
    story, code = KINDS[kind].story(), KINDS[kind].code()
    assert [hook for hook in STORY_HOOKS if not callable(getattr(story, hook, None))] == []
    assert [hook for hook in CODE_HOOKS if not callable(getattr(code, hook, None))] == []


def test_a_kind_added_by_its_three_modules_and_one_registry_line_derives_documents_and_trains(gain: None) -> None:
    spec = spec_from_dict(_spec())
    net = derive_network(spec)
    assert [layer.kind.name for layer in net.layers] == ["dense", "gain", "dense"]
    assert verify_matrix_form(net) == []
    markdown = render_markdown(net)
    assert "## The gain layer" in markdown and r"\operatorname{gain}(A^{(1)})" in markdown
    assert "Layer $2$: its input times $-1.5$." in markdown
    module = import_module(net)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    params = module.init_params(seed=2)
    _, grads = module.gradients(params, X, Y)
    numeric = numeric_gradients(lambda shifted: module.loss(shifted, X, Y), params)
    assert relative_error(grads, numeric) < 1e-7
    worked = work_example(net)  # the worked example's numbers are the module's too
    X4 = np.asarray(worked.A[0], dtype=float)
    loss, module_grads = module.gradients({key: np.asarray(value, float) for key, value in worked.params.items()}, X4,
                                          np.asarray(worked.batch.Y[:4], float))
    assert loss == pytest.approx(float(worked.E), rel=1e-9)
    for key, value in module_grads.items():
        np.testing.assert_allclose(np.asarray(worked.gradients[key], float), value, rtol=1e-8, atol=1e-12)
    _, history = module.train(X, Y, epochs=200, learning_rate=0.5)
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_a_kind_s_fields_are_checked_by_the_kind(gain: None) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict({**_spec(), "layers": [{"units": 4}, {"type": "gain", "factor": "big"}, {"units": 1}]})
    assert caught.value.field == "layers[1].factor"
    with pytest.raises(SpecError) as caught:
        spec_from_dict({**_spec(), "layers": [{"units": 4}, {"type": "gain", "factr": 2}, {"units": 1}]})
    assert caught.value.field == "layers[1].factr" and "did you mean 'factor'" in caught.value.message


def test_without_its_registry_line_the_kind_is_unknown() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_dict(_spec())
    assert caught.value.field == "layers[1].type" and "unknown value 'gain'" in caught.value.message
