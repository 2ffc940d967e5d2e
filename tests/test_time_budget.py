"""One time budget bounds reading, deriving and printing: formulas that took minutes (composed
sigmoids, many distinct powers) now derive in their plain form within it, and what cannot be
printed in time ends in one line naming the field, exit 2.

The time bounds asserted are the budget plus a wide margin for a slow machine: they fail only
when the budget is not kept (before it existed these specs took 30 s to 8 minutes)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from codegen import import_module, render_latex
from derive import SpecError, derive_network, spec_from_dict
from derive.bounded import OutOfTimeError, Task, cached, time_budget, within, working_on
from derive.naming import z
from tests.conftest import ROOT, numeric_gradients, relative_error

MARGIN = 8.0  # seconds beyond the budget that a loaded machine may need to unwind and return


def nested(variable: str, times: int) -> str:
    text = variable
    for _ in range(times):
        text = f"sigmoid({text})"
    return text


def one_unit(activation: str, loss: str = "sse", inputs: int = 1) -> dict[str, object]:
    return {"name": "f", "inputs": inputs, "loss": loss, "layers": [{"units": 1, "activation": activation}]}


def test_a_deeply_composed_activation_derives_within_the_budget_and_its_gradients_are_right() -> None:
    spec = spec_from_dict(one_unit(nested("z", 8), inputs=2))  # 8 nested sigmoids: 35 s before the budget
    start = time.monotonic()
    model = import_module(derive_network(spec, time_limit=4), time_limit=4)
    assert time.monotonic() - start < 4 + MARGIN
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 2)), rng.uniform(size=(5, 1))
    params = model.init_params(seed=2)
    _, grads = model.gradients(params, X, Y)
    assert relative_error(grads, numeric_gradients(lambda p: model.loss(p, X, Y), params)) < 1e-6


def test_many_distinct_formulas_cost_time_linear_in_their_count() -> None:
    layers = [{"units": 1, "activation": f"{k}**z"} for k in range(2, 42)]  # ~5 s each before: 200 s
    spec = spec_from_dict({"name": "f", "inputs": 1, "loss": "sse", "layers": layers})
    start = time.monotonic()
    net = derive_network(spec, time_limit=6)
    assert time.monotonic() - start < 6 + MARGIN
    for layer, k in zip(net.layers, range(2, 42), strict=True):  # every f′ is still exactly k^z log k
        assert layer.backward is not None
        assert sp.simplify(layer.backward.subs(layer.Z, z) - sp.diff(sp.Integer(k) ** z, z)) == 0


def test_printing_that_would_take_minutes_ends_in_one_line_naming_the_loss(tmp_path: Path) -> None:
    spec = tmp_path / "slow.toml"  # a loss of 8 composed sigmoids: 7 minutes to print before
    spec.write_text(f'name = "f"\ninputs = 1\nloss = "{nested("a", 8)}*y"\n[[layers]]\nunits = 1\n'
                    'activation = "identity"\n')
    out = tmp_path / "slow.tex"
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "derive", str(spec), "-o", str(out), "--time-limit", "3"],
                            cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert time.monotonic() - start < 3 + MARGIN + 2  # plus the interpreter's start
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {spec}: loss: ")
    assert "took longer than the time limit of 3 s" in lines[0] and "simpler form" in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [spec]


def test_the_api_names_the_expensive_field_too() -> None:
    spec = spec_from_dict(one_unit("identity", loss=f"{nested('a', 8)}*y"), "slow.toml")
    with pytest.raises(SpecError, match=r"^slow\.toml: loss: printing the derivation took longer than the time limit"):
        render_latex(spec, time_limit=2)


# --- the mechanism ----------------------------------------------------------------------------------

def test_the_deadline_interrupts_any_work_and_names_the_task() -> None:
    start = time.monotonic()
    with pytest.raises(OutOfTimeError) as error, time_budget(0.3), \
            working_on(Task("layers[2].activation", "net.toml", "deriving 'z**z'")):
        while True:  # pure Python, never returns
            pass
    assert time.monotonic() - start < 3
    assert str(error.value).startswith("net.toml: layers[2].activation: deriving 'z**z' took longer than "
                                       "the time limit of 0.3 s; try a simpler form")


def test_optional_steps_share_half_the_budget_then_fall_back_at_once() -> None:
    with time_budget(1.0):
        assert within(lambda: time.sleep(5) or "done", "fallback") == "fallback"  # cut at 0.5 s
        start = time.monotonic()
        assert within(lambda: "done", "fallback") == "fallback"  # the share is spent: not even tried
        assert time.monotonic() - start < 0.1
    assert within(lambda: "done", "fallback") == "done"  # no budget: tried again


def test_a_result_the_budget_cut_short_is_not_cached() -> None:
    calls: list[int] = []

    @cached(maxsize=4)
    def derivation(x: int) -> str:
        calls.append(x)
        return within(lambda: time.sleep(2) or "simplified", "plain")

    with time_budget(0.5):
        assert derivation(1) == "plain"  # the budget cut the step at 0.25 s
        assert derivation(1) == "plain" and calls == [1]  # kept while the budget lasts
    assert derivation(1) == "simplified"  # computed again, under the step's own limit only
    assert derivation(1) == "simplified" and calls == [1, 1]  # and that result is kept


def test_an_inner_budget_never_extends_the_outer_one() -> None:
    start = time.monotonic()
    with pytest.raises(OutOfTimeError), time_budget(0.3), time_budget(100):
        time.sleep(5)
    assert time.monotonic() - start < 3


def test_a_timer_armed_before_keeps_its_handler() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.4)
        with time_budget(10):
            assert within(lambda: time.sleep(0.1) or "done", "fallback") == "done"
            time.sleep(0.6)  # the foreign timer fires here, through our handler
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("limit", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_time_limit_is_refused_by_the_command_line(limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    from chainrule.cli import derive_main

    with pytest.raises(SystemExit) as exit_:
        derive_main(["examples/xor.toml", "--time-limit", limit])
    assert exit_.value.code == 2 and "--time-limit: expected a number of seconds > 0" in capsys.readouterr().err
