"""Windows slid over an image, as a convolution's kernel and a pooling window are: their sizes, strides
and padding as the spec gives them, and the output size, ⌊(H + 2p − k)/s⌋ + 1 per axis, as in PyTorch.

An image sample is (C, H, W): channels, rows, columns.
"""

from __future__ import annotations

from typing import Any

from derive.errors import SpecError

MAX_SIDE = 4096
Shape = tuple[int, ...]


def side(value: Any, path: str, most: int = MAX_SIDE) -> int:
    """One size of ``inputs`` (channels, rows or columns)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"expected an integer, got {value!r}")
    if not 1 <= value <= most:
        raise SpecError(path, f"expected an integer from 1 to {most}, got {value}")
    return value


def pair(value: Any, path: str, least: int = 1) -> tuple[int, int]:
    """k or [kh, kw] as (kh, kw)."""
    values = value if isinstance(value, list) else [value, value]
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise SpecError(path, f"expected an integer or [height, width] of integers, got {value!r}")
    for v in values:
        if not least <= v <= MAX_SIDE:
            raise SpecError(path, f"expected integers from {least} to {MAX_SIDE}, got {value!r}")
    return values[0], values[1]


def padding(value: Any, path: str, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """An integer, [ph, pw], "valid" (0) or "same" (output size = input size: stride 1, odd kernel)."""
    if value == "valid":
        return 0, 0
    if value == "same":
        if stride != (1, 1):
            raise SpecError(path, f'"same" padding needs stride 1, got stride {list(stride)}')
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise SpecError(path, f'"same" padding needs an odd kernel (pad (k - 1)/2 on each side), '
                                  f"got kernel {list(kernel)}")
        return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    if isinstance(value, str):
        raise SpecError(path, f"unknown value {value!r}; expected an integer, [height, width], \"same\" or \"valid\"")
    return pair(value, path, least=0)


def window_out(shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int],
               path: str, what: str) -> tuple[int, int]:
    """(Ho, Wo) of a window slid over the padded (H, W), or the one-line error when it does not fit."""
    _, height, width = shape
    padded = (height + 2 * pad[0], width + 2 * pad[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        where = f"padded input {padded[0]}x{padded[1]}" if pad != (0, 0) else f"input {height}x{width}"
        raise SpecError(path, f"{what} {kernel[0]}x{kernel[1]} is larger than its {where} "
                              f"(shape {list(shape)})")
    return (padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1
