"""conv2d in the generated module: im2col as one copy of a window view, one matrix product forward,
δᵀ·im2col for ∂E/∂W, and δ·K added back one kernel offset at a time (col2im) for ∂E/∂A⁽ˡ⁻¹⁾.

P{l} is the zero-padded input (m, H + 2p, W + 2p, C); C{l} the im2col matrix (m·Ho·Wo, kh·kw·C), its
columns in (u, v, c) order so that the copies and the col2im adds run over contiguous channels;
K{l} is W{l} (F, C, kh, kw) with its columns in that order. Measured: one product into C{l} and
kh·kw strided adds is about 6× faster than kh·kw products of δ with W[:, :, u, v].
"""

from __future__ import annotations

from codegen.layers.base import activation_lines, gradient_of, offset_slice, output_of, step, strided
from codegen.model import Line, Work
from derive.network import LayerDerivation, NetworkDerivation


def rows(layer: LayerDerivation) -> str:
    filters, height, width = layer.out_shape
    return f"(m * {height * width}, {filters})"


def output(layer: LayerDerivation) -> str:
    return f"A{layer.index}g"


def gradient(layer: LayerDerivation) -> str:
    return f"d{layer.index}g"


def reads_input(layer: LayerDerivation) -> bool:
    """A padded first convolution copies X straight into its padded input, with no A0 between."""
    return layer.settings.padding != (0, 0)  # type: ignore[attr-defined]


def formula(net: NetworkDerivation) -> str:
    return "conv2d: Zl[k, f, i, j] = bl[f] + Σ_c Σ_u Σ_v Wl[f, c, u, v] A(l-1)[k, c, s·i + u - p, s·j + v - p]"


def layout(net: NetworkDerivation) -> str:
    return "a conv2d W is (filters, C, kh, kw), as in PyTorch."


def words(layer: LayerDerivation) -> str:
    s = layer.settings
    assert layer.rule is not None
    return (f"[conv2d {s.filters}@{s.kernel[0]}x{s.kernel[1]} stride {s.stride[0]},{s.stride[1]} "  # type: ignore[attr-defined]
            f"pad {s.padding[0]},{s.padding[1]} {layer.rule.name}]")  # type: ignore[attr-defined]


def forward(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    s, l = layer.settings, layer.index
    (channels, height, width), (filters, out_h, out_w) = layer.in_shape, layer.out_shape
    (kh, kw), (sh, sw), (ph, pw) = s.kernel, s.stride, s.padding  # type: ignore[attr-defined]
    source = output_of(net, l - 1)
    head = (f"Layer {l}: conv2d, {filters} filters {kh}x{kw}, stride ({sh}, {sw}), padding ({ph}, {pw}): "
            f"Z{l}[k, f, i, j] = b{l}[f] + Σ_c,u,v W{l}[f, c, u, v] "
            f"A{l - 1}[k, c, {sh}·i + u - {ph}, {sw}·j + v - {pw}]")
    lines: list[Line] = []
    if (ph, pw) != (0, 0):
        work.zeros(f"P{l}", f"(m, {height + 2 * ph}, {width + 2 * pw}, {channels})",
                   f"layer {l}: the input with {ph}, {pw} rows and columns of zeros around it")
        lines.append(Line(f"np.copyto(P{l}[:, {ph}:{ph + height}, {pw}:{pw + width}], {source})", (head,)))
        padded = f"P{l}"
    else:
        padded = source
    work.array(f"C{l}", f"(m * {out_h * out_w}, {kh * kw * channels})",
               f"layer {l}: im2col, one row per output position, columns in (u, v, c) order (channels innermost, "
               f"as in the input), and W{l} as K{l} with its columns in the same order")
    work.alias(f"C{l}w", f"C{l}.reshape(m, {out_h}, {out_w}, {kh}, {kw}, {channels})")
    work.array(f"K{l}", f"({filters}, {kh * kw * channels})")
    work.alias(f"V{l}", f"np.lib.stride_tricks.sliding_window_view({padded}, ({kh}, {kw}), axis=(1, 2))"
                        f"{strided(sh, sw)}", f"layer {l}: every window of the input, a view (m, Ho, Wo, C, kh, kw)")
    work.array(f"Z{l}", f"(m * {out_h * out_w}, {filters})", f"layer {l}: Z{l}, A{l} and δ{l} as (m·Ho·Wo, F)")
    kernels = f"K{l}.reshape({filters}, {kh}, {kw}, {channels})"
    lines.append(Line(f"np.copyto({kernels}, params[\"W{l}\"].transpose(0, 2, 3, 1))", () if lines else (head,)))
    lines.append(Line(f"np.copyto(C{l}w, V{l}.transpose(0, 1, 2, 4, 5, 3))"))
    lines.append(Line(f"np.matmul(C{l}, K{l}.T, out=Z{l})",
                      (f"Z{l} = im2col(A{l - 1}) W{l}ᵀ + b{l}: one matrix product for every position",)))
    lines.append(Line(f"Z{l} += params[\"b{l}\"]"))
    lines += activation_lines(layer, work)
    work.alias(f"A{l}g", f"A{l}.reshape(m, {out_h}, {out_w}, {filters})")
    work.array(f"d{l}", f"(m * {out_h * out_w}, {filters})")
    work.alias(f"d{l}g", f"d{l}.reshape(m, {out_h}, {out_w}, {filters})")
    return lines


def parameters(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l, (filters, channels) = layer.index, (layer.out_shape[0], layer.in_shape[0])
    kh, kw = layer.settings.kernel  # type: ignore[attr-defined]
    work.array(f"KG{l}", f"({filters}, {kh * kw * channels})", f"layer {l}: ∂E/∂W{l} in K{l}'s (u, v, c) order")
    rows = layer.out_shape[1] * layer.out_shape[2]
    work.alias(f"ones{l}", f"np.ones(m * {rows}, dtype)", f"layer {l}: a row of ones, for ∂E/∂b{l} = 𝟏ᵀ δ{l}")
    return [
        Line(f"np.matmul(d{l}.T, C{l}, out=KG{l})",
             (f"∂E/∂W{l}[f, c, u, v] = Σ_k,i,j δ{l}[k, f, i, j] A{l - 1}[k, c, s·i + u - p, s·j + v - p]: "
              f"δ{l}ᵀ im2col(A{l - 1})",)),
        Line(f"np.copyto(grads[\"W{l}\"], KG{l}.reshape({filters}, {kh}, {kw}, {channels}).transpose(0, 3, 1, 2))"),
        Line(f"np.matmul(ones{l}, d{l}, out=grads[\"b{l}\"])",
             (f"∂E/∂b{l}[f] = Σ_k,i,j δ{l}[k, f, i, j]   (∂Z{l}/∂b{l}[f] = 1): 𝟏ᵀ δ{l}, a product with a row "
              "of ones (measured 3x faster than a reduction down the rows)",)),
    ]


def input_gradient(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    """∂E/∂A⁽ˡ⁻¹⁾, the transposed convolution: δ W into the im2col matrix, then each kernel offset's column
    added back (col2im)."""
    s, l = layer.settings, layer.index
    (channels, height, width), (_, out_h, out_w) = layer.in_shape, layer.out_shape
    (kh, kw), (sh, sw), (ph, pw) = s.kernel, s.stride, s.padding  # type: ignore[attr-defined]
    target = gradient_of(net, l - 1)
    if (ph, pw) != (0, 0):
        work.array(f"dP{l}", f"(m, {height + 2 * ph}, {width + 2 * pw}, {channels})",
                   f"layer {l}: ∂E/∂(padded input)")
        padded = f"dP{l}"
    else:
        padded = target
    rows, cols = offset_slice("u", sh, out_h), offset_slice("v", sw, out_w)
    lines = [
        Line(f"np.matmul(d{l}, K{l}, out=C{l})",
             (step(net, layer, f"conv_transpose(δ{l}, W{l})", f"∂Z{l}/∂A{l - 1}: the kernel weight joining them"),
              f"∂E/∂A{l - 1}[k, c, y, x] = Σ_f,i,j δ{l}[k, f, i, j] W{l}[f, c, y - s·i + p, x - s·j + p] over the "
              "windows that cover (y, x):",
              f"δ{l} W{l} gives each window's share (into C{l}, free now), added back at its place")),
        Line(f"{padded}.fill(0)"),
        Line(f"for u in range({kh}):"),
        Line(f"    for v in range({kw}):"),
        Line(f"        {padded}[:, {rows}, {cols}] += C{l}w[:, :, :, u, v]"),
    ]
    if padded != target:
        lines.append(Line(f"np.copyto({target}, {padded}[:, {ph}:{ph + height}, {pw}:{pw + width}])",
                          ("the padding's share is dropped: it is not an input",)))
    return lines

