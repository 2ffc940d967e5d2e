"""maxpool2d and avgpool2d in the generated module, one window offset (u, v) at a time.

Where the windows tile the input (stride = pool) a reshape R{l} (m, Ho, ph, Wo, pw, C) shows every
window, and ∂E/∂A⁽ˡ⁻¹⁾ is written through the same reshape; else the windows are a
``sliding_window_view`` and each offset's share is added at its place. Max pooling keeps I{l},
the offset of each window's first maximum (PyTorch's choice at a tie), by a running maximum.
"""

from __future__ import annotations

from codegen.layers.base import gradient_of, offset_slice, output_of, reads_input, step, strided
from codegen.model import Line, Work
from derive.network import LayerDerivation, NetworkDerivation

__all__ = [
    "formula",
    "forward",
    "gradient",
    "input_gradient",
    "layout",
    "output",
    "parameters",
    "reads_input",
    "words",
]


def output(layer: LayerDerivation) -> str:
    return f"A{layer.index}"


def gradient(layer: LayerDerivation) -> str:
    return f"g{layer.index}"


def formula(net: NetworkDerivation) -> str:
    return "pooling: Al[k, c, i, j] = max or mean of A(l-1)[k, c, s·i + u, s·j + v] over the window (u, v)"


def layout(net: NetworkDerivation) -> str:
    return ""


def words(layer: LayerDerivation) -> str:
    s = layer.settings
    return f"[{layer.kind.name} {s.pool[0]}x{s.pool[1]} stride {s.stride[0]},{s.stride[1]}]"  # type: ignore[attr-defined]


def parameters(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    return []


def input_gradient(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    if layer.kind.name == "maxpool2d":
        lines, words = _max_input(net, layer, work), step(net, layer, f"route(g{l})", "each window's first maximum")
    else:
        lines, words = _avg_input(net, layer, work), step(net, layer, f"spread(g{l})", "each window's mean")
    return [Line(lines[0].code, (words, *lines[0].comments)), *lines[1:]]


def _tiles(layer: LayerDerivation) -> bool:
    """Whether the pooling windows tile the input: stride = pool, so a reshape shows every window."""
    return layer.settings.stride == layer.settings.pool


def _window_entry(layer: LayerDerivation) -> str:
    """The entry (u, v) of every window at once, (m, Ho, Wo, C): a strided view of the input."""
    return f"R{layer.index}[:, :, u, :, v]" if _tiles(layer) else f"V{layer.index}[..., u, v]"


def forward(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    s, l = layer.settings, layer.index
    channels, out_h, out_w = layer.out_shape
    (ph, pw), (sh, sw) = s.pool, s.stride
    source = output_of(net, l - 1)
    out = f"(m, {out_h}, {out_w}, {channels})"
    what = "max" if layer.kind.name == "maxpool2d" else "mean"
    head = (f"Layer {l}: {layer.kind.name} {ph}x{pw}, stride ({sh}, {sw}): "
            f"A{l}[k, c, i, j] = {what} of its window of A{l - 1}, one window entry (u, v) at a time")
    work.array(f"A{l}", out, f"layer {l}: A{l} and g{l} = ∂E/∂A{l} as (m, Ho, Wo, C)")
    work.array(f"g{l}", out)
    if _tiles(layer):
        work.alias(f"R{l}", f"{source}[:, :{out_h * ph}, :{out_w * pw}].reshape(m, {out_h}, {ph}, {out_w}, {pw}, "
                            f"{channels})", f"layer {l}: the windows tile the input: a reshape (m, Ho, ph, Wo, pw, C)")
    else:
        work.alias(f"V{l}", f"np.lib.stride_tricks.sliding_window_view({source}, ({ph}, {pw}), axis=(1, 2))"
                            f"{strided(sh, sw)}",
                   f"layer {l}: every window of the input, a view (m, Ho, Wo, C, ph, pw)")
    entry = _window_entry(layer)
    first = entry.replace("u", "0").replace("v", "0")
    loop = [Line(f"for o in range(1, {ph * pw}):"), Line(f"    u, v = divmod(o, {pw})")]
    if layer.kind.name == "avgpool2d":
        return [Line(f"np.copyto(A{l}, {first})", (head,)), *loop, Line(f"    A{l} += {entry}"),
                Line(f"A{l} *= {1 / (ph * pw)!r}", (f"the mean: the window's sum times 1/({ph}·{pw})",))]
    kind = "np.int8" if ph * pw <= 127 else "np.intp"
    work.array(f"I{l}", out, f"layer {l}: the offset u·{pw} + v of each window's first maximum, and a mask",
               dtype=kind)
    work.array(f"H{l}", out, dtype=kind)
    work.array(f"G{l}", out, dtype="bool")
    return [Line(f"np.copyto(A{l}, {first})", (head,)), Line(f"I{l}.fill(0)"), *loop,
            Line(f"    np.greater({entry}, A{l}, out=G{l})",
                 ("strictly greater: at a tie the first maximum stays (PyTorch's choice)",)),
            Line(f"    np.multiply(G{l}, o, out=H{l})",
                 ("I = o where the entry is greater: o exceeds every earlier offset, so a maximum does it",)),
            Line(f"    np.maximum(I{l}, H{l}, out=I{l})"),
            Line(f"    np.maximum(A{l}, {entry}, out=A{l})")]


def _max_input(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    why = f"∂A{l}/∂(window entry) = [entry is the window's first maximum] (SymPy: Π H(a - a')): g{l} routed there"
    return _scatter(net, layer, [
        Line(f"np.equal(I{l}, o, out=G{l})", (why,)),
        Line(f"np.multiply(g{l}, G{l}, out={{share}})")], work)


def _avg_input(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    (ph, pw) = layer.settings.pool
    why = f"∂A{l}/∂(window entry) = 1/({ph}·{pw}): each entry of a window gets g{l}/({ph}·{pw})"
    return [Line(f"g{l} *= {1 / (ph * pw)!r}", (why,)),
            *_scatter(net, layer, [Line(f"np.copyto({{share}}, g{l})")], work)]


def _scatter(net: NetworkDerivation, layer: LayerDerivation, share: list[Line], work: Work) -> list[Line]:
    """∂E/∂A⁽ˡ⁻¹⁾ from each window's share, one window offset (u, v) at a time: ``share`` writes the
    shares of offset o = u·pw + v, (m, Ho, Wo, C), into ``{share}``. Where the windows tile, that is
    the strided view of ∂E/∂A⁽ˡ⁻¹⁾ they cover; else a buffer added at its place (windows overlap)."""
    l = layer.index
    channels, out_h, out_w = layer.out_shape
    height, width = layer.in_shape[1:]
    (ph, pw), (sh, sw) = layer.settings.pool, layer.settings.stride
    target = gradient_of(net, l - 1)
    lines = []
    loop = [Line(f"for o in range({ph * pw}):"), Line(f"    u, v = divmod(o, {pw})")]
    if _tiles(layer):
        if (out_h * ph, out_w * pw) != (height, width):
            lines.append(Line(f"{target}.fill(0)", ("the rows and columns no window covers get nothing",)))
        tiles = f"{target}[:, :{out_h * ph}, :{out_w * pw}].reshape(m, {out_h}, {ph}, {out_w}, {pw}, {channels})"
        work.alias(f"dR{l}", tiles, f"layer {l}: ∂E/∂A{l - 1} seen as its tiles (m, Ho, ph, Wo, pw, C)")
        body = [Line("    " + line.code.format(share=f"dR{l}[:, :, u, :, v]"), line.comments) for line in share]
        return [*lines, *loop, *body]
    work.array(f"U{l}", f"(m, {out_h}, {out_w}, {channels})", f"layer {l}: the shares of one window offset")
    rows, cols = offset_slice("u", sh, out_h), offset_slice("v", sw, out_w)
    body = [Line("    " + line.code.format(share=f"U{l}"), line.comments) for line in share]
    return [Line(f"{target}.fill(0)", ("windows overlap or leave gaps: add each offset's share",)), *loop, *body,
            Line(f"    {target}[:, {rows}, {cols}] += U{l}")]

