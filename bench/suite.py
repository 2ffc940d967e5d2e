"""The benchmark proper; ``bench/run.py`` pins the threads and then calls ``main``."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

import machine
import peers
import scaling
import workloads
from peers import Result, Run
from workloads import Params, Workload

TOOLCHAIN_HOME = {
    "spec_from_dict": "derive",
    "derive_network": "derive",
    "import_module": "codegen",
    "render_module": "codegen",
}
CHECK_ROWS = 512


def tool(name: str) -> Callable[..., Any]:
    """A toolchain entry point of derive or codegen."""
    module = importlib.import_module(TOOLCHAIN_HOME[name])
    return getattr(module, name)  # type: ignore[no-any-return]


def build_generated(spec: dict[str, Any]) -> tuple[Any | None, str]:
    """(module, note): the generated module for ``spec``, or None and why not."""
    try:
        start = time.perf_counter()
        module = tool("import_module")(tool("spec_from_dict")(spec))
        return module, f"import_module took {time.perf_counter() - start:.2f} s"
    except (ImportError, AttributeError) as exc:
        return None, f"not available ({type(exc).__name__}: {exc})"
    except Exception as exc:  # report and benchmark the peers anyway
        return None, f"failed to build: {failure_line(exc)}"


def initial_params(module: Any | None, wl: Workload) -> Params:
    """The shared starting point: the generated module's init_params(seed=0), or without it seeded Glorot
    weights, so that the peers can still be compared with each other."""
    if module is None:
        return workloads.glorot_params(wl.sizes, wl.dtype)
    return workloads.copy_params(module.init_params(seed=0), wl.dtype)


def implementations(module: Any | None, per_call: bool = False) -> list[tuple[str, peers.Builder]]:
    """The generated module first (the reference for ratios and the check), then the peers."""
    if module is None:
        return list(peers.PEERS)
    return [("generated", peers.generated_builder(module, per_call)), *peers.PEERS]


def agreement_check(module: Any | None, wl: Workload, params0: Params) -> str:
    """One full-batch SGD step on the first rows (no shuffling effect): weights must agree."""
    rows = min(CHECK_ROWS, wl.x_train.shape[0])
    sub = dataclasses.replace(wl, x_train=wl.x_train[:rows], y_train=wl.y_train[:rows])
    cfg = Run(epochs=1, batch_size=rows)
    entries = [e for e in implementations(module) if e[0] not in peers.WITHOUT_PARAMS]
    results = peers.train_all(entries, sub, params0, cfg)
    ref = results[0].params
    parts = []
    for r in results[1:]:
        if ref is None or r.params is None:
            parts.append(f"{r.name}: n/a")
        else:
            parts.append(f"{r.name} {workloads.max_abs_diff(ref, r.params):.1e}")
    return (
        f"Check: one full-batch SGD step on {rows} rows from the shared init, "
        f"max |param - {results[0].name}|: " + ", ".join(parts)
    )


def failure_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def result_row(r: Result, base: float | None, wl: Workload) -> str:
    t = r.median_seconds
    if t is None:
        return f"| {r.name} | {r.note or '—'} | — | — | — |"
    ratio = t / base if base else None
    loss = acc = None
    if r.params is not None:
        loss = workloads.mean_cross_entropy(r.params, wl.x_train, wl.y_train, wl.hidden_activations)
        acc = workloads.accuracy(r.params, wl.x_test, wl.y_test, wl.hidden_activations)
    return f"| {r.name} | {t:.4g} | {fmt(ratio, '.2f')} | {fmt(loss, '.4f')} | {fmt(acc, '.4f')} |"


def results_table(results: list[Result], wl: Workload, has_generated: bool) -> str:
    base = results[0].median_seconds if has_generated else None
    lines = [
        ("| implementation | s/epoch (median) | time / generated | final train loss | test accuracy |"),
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [result_row(r, base, wl) for r in results]
    return "\n".join(lines)


def run_training(wl: Workload, per_call: bool) -> None:
    print(f"\n## {wl.name}: {wl.title}\n")
    timing = (
        "one train(epochs=1) call per epoch, interleaved with the peers"
        if per_call
        else f"one train(epochs={wl.epochs}) call, each epoch timed by its callback"
    )
    print(
        f"train {wl.x_train.shape[0]} / test {wl.x_test.shape[0]} samples, {wl.epochs} epochs, 2 threads. "
        f"Generated module timed as {timing}; the peers' epochs are interleaved. Loss and accuracy "
        "come from one shared NumPy evaluator applied to each implementation's final weights.\n"
    )
    module, note = build_generated(wl.spec)
    print(f"Generated module: {note}")
    if module is None:
        print("Initial weights: the stand-in's init_params(seed=0), as the module is missing.")
    params0 = initial_params(module, wl)
    print(agreement_check(module, wl, params0) + "\n")
    cfg = Run(epochs=wl.epochs, batch_size=wl.batch_size)
    meter = machine.Interference()
    results = peers.train_all(implementations(module, per_call), wl, params0, cfg)
    if module is None:
        results.insert(0, Result("generated", note=note))
    print(results_table(results, wl, module is not None))
    print(f"\n{meter.report()}")


def run_scaling(quick: bool, budget_s: float) -> None:
    print(f"\n## W3: derivation + code generation time vs depth (width {scaling.WIDTH})\n")
    try:
        fns = [tool(n) for n in ("spec_from_dict", "derive_network", "render_module")]
    except (ImportError, AttributeError) as exc:
        print(f"skipped: toolchain not available ({type(exc).__name__}: {exc})")
        return
    depths = scaling.QUICK_DEPTHS if quick else scaling.DEPTHS
    try:  # untimed warm-up: first-call costs (lazy imports, caches) are not per-layer work
        scaling.time_depth(1, *fns)
    except Exception as exc:
        print(f"skipped: {failure_line(exc)}")
        return
    meter = machine.Interference()
    timings, skipped = time_depths(depths, fns, budget_s)
    print(scaling.markdown(timings, skipped, budget_s))
    print(f"\n{meter.report()}")


def time_depths(
    depths: tuple[int, ...], fns: list[Callable[..., Any]], budget_s: float
) -> tuple[list[scaling.Timing], list[int]]:
    """Timings per depth, and the depths skipped once one depth went over ``budget_s``."""
    timings: list[scaling.Timing] = []
    for i, layers in enumerate(depths):
        if timings and timings[-1].total_s > budget_s:
            return timings, list(depths[i:])
        print(f"  deriving {layers} layers ...", file=sys.stderr, flush=True)
        try:
            timings.append(scaling.time_depth(layers, *fns))
        except Exception as exc:
            print(f"{layers} layers failed: {failure_line(exc)}")
            break
    return timings, []


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Train one network with the generated module and its peers; print tables.",
    )
    parser.add_argument("--workload", choices=["W1", "W2", "W3", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, smaller W2 and W3")
    parser.add_argument(
        "--per-call",
        action="store_true",
        help="time the generated module with one train(epochs=1) call per epoch, interleaved with the "
        "peers (its setup is then paid every epoch), not one train call timed by its callback",
    )
    parser.add_argument(
        "--w3-budget",
        type=float,
        default=300.0,
        help="stop W3 once one depth takes longer than this many seconds (default 300)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("# Benchmark" + (" (quick)" if args.quick else "") + "\n")
    print(machine.environment())
    if warning := machine.idle_check():
        print(f"\n{warning}")
    if args.workload in ("W1", "all"):
        try:
            run_training(workloads.digits(epochs=3 if args.quick else 30), args.per_call)
        except ImportError as exc:
            print(f"\n## W1: skipped, load_digits needs scikit-learn ({exc.name} not installed)")
    if args.workload in ("W2", "all"):
        w2 = {"n_train": 6000, "n_test": 1000} if args.quick else {}
        run_training(workloads.synthetic_mnist(**w2), args.per_call)
    if args.workload in ("W3", "all"):
        run_scaling(args.quick, args.w3_budget)
    return 0
