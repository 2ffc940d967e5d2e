"""A textbook NumPy convolutional network, in the style of the SimpleConvNet of "Deep Learning from
Scratch" (Convolution, Pooling, Relu, Affine and SoftmaxWithLoss layers with im2col / col2im),
the peer the generated module is measured against. NCHW throughout, as in the book.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def im2col(data: Array, fh: int, fw: int, stride: int = 1, pad: int = 0) -> Array:
    n, c, h, w = data.shape
    out_h, out_w = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    img = np.pad(data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, fh, fw, out_h, out_w))
    for y in range(fh):
        y_max = y + stride * out_h
        for x in range(fw):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, -1)


def col2im(col: Array, shape: tuple[int, ...], fh: int, fw: int, stride: int = 1, pad: int = 0) -> Array:
    n, c, h, w = shape
    out_h, out_w = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, out_h, out_w, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for y in range(fh):
        y_max = y + stride * out_h
        for x in range(fw):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad:h + pad, pad:w + pad]


class Convolution:
    def __init__(self, W: Array, b: Array, stride: int = 1, pad: int = 0) -> None:
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x: Array) -> Array:
        fn, _, fh, fw = self.W.shape
        n, _, h, w = x.shape
        out_h, out_w = 1 + (h + 2 * self.pad - fh) // self.stride, 1 + (w + 2 * self.pad - fw) // self.stride
        self.x, self.col = x, im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout: Array) -> Array:
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = np.sum(dout, axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(fn, c, fh, fw)
        return col2im(dout @ self.col_W.T, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    def __init__(self, ph: int, pw: int, stride: int) -> None:
        self.ph, self.pw, self.stride = ph, pw, stride

    def forward(self, x: Array) -> Array:
        n, c, h, w = x.shape
        out_h, out_w = 1 + (h - self.ph) // self.stride, 1 + (w - self.pw) // self.stride
        col = im2col(x, self.ph, self.pw, self.stride).reshape(-1, self.ph * self.pw)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)

    def backward(self, dout: Array) -> Array:
        dout = dout.transpose(0, 2, 3, 1)
        size = self.ph * self.pw
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape((*dout.shape, size))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.ph, self.pw, self.stride)


class Relu:
    def forward(self, x: Array) -> Array:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: Array) -> Array:
        dout[self.mask] = 0
        return dout


class Affine:
    def __init__(self, W: Array, b: Array) -> None:
        self.W, self.b = W, b

    def forward(self, x: Array) -> Array:
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout: Array) -> Array:
        self.dW, self.db = self.x.T @ dout, np.sum(dout, axis=0)
        return (dout @ self.W.T).reshape(*self.shape)


class SoftmaxWithLoss:
    def forward(self, x: Array, t: Array) -> float:
        shifted = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        self.t = t
        return float(-np.sum(t * np.log(self.y + 1e-7)) / x.shape[0])

    def backward(self) -> Array:
        return (self.y - self.t) / self.t.shape[0]


class SimpleConvNet:
    """The network of a chainrule spec with conv2d (relu), maxpool2d, flatten and dense (softmax output)
    layers, built from the book's layers, with the parameters of the generated module."""

    def __init__(self, spec: Any, params: dict[str, Array]) -> None:
        self.params = {key: value.copy() for key, value in params.items()}
        self.layers: list[tuple[str, Any]] = []
        for index, layer in enumerate(spec.layers, start=1):
            kind = getattr(layer, "kind", "dense")
            if kind == "conv2d":
                conv = Convolution(self.params[f"W{index}"], self.params[f"b{index}"], layer.stride[0],
                                   layer.padding[0])
                self.layers += [(f"{index}", conv), ("", Relu())]
            elif kind == "maxpool2d":
                self.layers.append(("", Pooling(*layer.pool, layer.stride[0])))
            elif kind == "dense":
                self.layers.append((f"{index}", Affine(self.params[f"W{index}"], self.params[f"b{index}"])))
        self.last = SoftmaxWithLoss()

    def step(self, x: Array, t: Array, learning_rate: float) -> float:
        for _, layer in self.layers:
            x = layer.forward(x)
        loss = self.last.forward(x, t)
        dout = self.last.backward()
        for _, layer in reversed(self.layers):
            dout = layer.backward(dout)
        for key, layer in self.layers:
            if key:
                layer.W -= learning_rate * layer.dW
                layer.b -= learning_rate * layer.db
        return loss
