"""What the document calls each built-in activation and loss in words (2乗和誤差, シグモイド関数, …)."""

from __future__ import annotations

from derive.i18n import _
from derive.rules import ACTIVATIONS, LOSSES, ActivationRule, LossRule


def loss_name(rule: LossRule) -> str:
    names = {
        "sse": _("the sum of squared errors"),
        "mse": _("the mean squared error"),
        "bce": _("the binary cross-entropy"),
        "cross_entropy": _("the cross-entropy"),
        "huber": _("the Huber loss"),
        "log_cosh": _("the log-cosh loss"),
        "l1": _("the mean absolute error (L1)"),
    }
    if LOSSES.get(rule.name) != rule:
        return _("a loss given as a formula")
    return names.get(rule.name, rule.name)


def activation_name(rule: ActivationRule) -> str:
    names = {
        "sigmoid": _("the sigmoid function"),
        "tanh": _("the hyperbolic tangent"),
        "relu": _("the ReLU function"),
        "leaky_relu": _("the leaky ReLU function"),
        "identity": _("the identity function"),
        "softplus": _("the softplus function"),
        "softmax": _("the softmax function"),
        "gelu": _("the GELU function"),
        "gelu_tanh": _("the GELU function in its tanh approximation"),
        "elu": _("the ELU function"),
        "selu": _("the SELU function"),
        "silu": _("the SiLU function (swish)"),
        "mish": _("the Mish function"),
        "softsign": _("the softsign function"),
    }
    if ACTIVATIONS.get(rule.name) != rule:
        return _("an activation given as a formula")
    return names.get(rule.name, rule.name)
