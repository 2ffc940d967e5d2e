"""Specs that are not in examples/: every activation and loss, 1 to 6 layers, both reductions, every
optimizer, formula activations and losses (short and long). Drawn once from a seeded generator
and listed here, so that a failure names the spec that broke."""

from __future__ import annotations

import random
from typing import Any

from derive.rules import ACTIVATIONS

FORMULA_ACTIVATIONS = [
    "z/(1 + exp(-z))",
    "z**3/3 + z",
    "max(z, 0.2*z)",
    "abs(z)",
    "z*tanh(log(1 + exp(z))) + sqrt(1 + z**2)/(1 + exp(-2*z)) - 1/(1 + z**2)",
]
FORMULA_LOSSES = ["(a - y)**2/2 + (a - y)**4", "log(1 + (a - y)**2)"]
OUTPUT_LOSS = [("sigmoid", "bce"), ("sigmoid", "sse"), ("identity", "mse"), ("softmax", "cross_entropy"),
               ("tanh", "mse"), ("softmax", "sse"), ("softplus", "sse"), ("identity", FORMULA_LOSSES[0]),
               ("sigmoid", FORMULA_LOSSES[1]), ("identity", "huber"), ("tanh", "log_cosh"), ("identity", "l1")]
HIDDEN = [name for name, rule in ACTIVATIONS.items() if rule.kind == "elementwise"] + FORMULA_ACTIVATIONS
OPTIMIZERS = ["gd", "sgd", "momentum", "adam"]


def unseen_specs(count: int = 24, seed: int = 2026) -> list[dict[str, Any]]:
    """``count`` specs: the first ones cover every output/loss pair and every hidden activation."""
    rng = random.Random(seed)
    specs = []
    cycle = 0  # hidden layers take the activations in turn, so every one appears
    for index in range(count):
        depth = 1 + index % 6
        output, loss = OUTPUT_LOSS[index % len(OUTPUT_LOSS)]
        hidden = [HIDDEN[(cycle + offset) % len(HIDDEN)] for offset in range(depth - 1)]
        cycle += depth - 1
        layers = [{"units": rng.randint(1, 9), "activation": activation} for activation in hidden]
        layers.append({"units": rng.randint(2, 4) if output == "softmax" else rng.randint(1, 3),
                       "activation": output})
        specs.append({"name": f"unseen{index}", "inputs": rng.randint(1, 6), "loss": loss,
                      "reduction": rng.choice(["sum", "mean"]), "layers": layers,
                      "train": {"optimizer": OPTIMIZERS[index % 4], "learning_rate": rng.choice([0.5, 0.05, 0.001])}})
    return specs


UNSEEN = unseen_specs()
