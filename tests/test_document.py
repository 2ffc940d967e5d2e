"""The derivation document: it compiles with no overfull box, its Markdown renders with KaTeX, and
every symbol is the one the notation table states. Each notation test reads the generated LaTeX
for a defect that a reader once found."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

from chainrule.cli import derive_main
from codegen import latex_of, render_latex, render_markdown
from derive import derive_network, load_spec, spec_from_dict
from derive.layers.dense import derive_affine
from derive.steps import Math, Paragraph, Table, Words
from derive.story import document
from tests.rendering import compile_tex, katex_errors, pages
from tests.specs import UNSEEN

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def latex(**spec: Any) -> str:
    return render_latex(spec_from_dict({"name": "t", **spec}))


def body(tex: str) -> str:
    return tex.split(r"\begin{document}")[1]


# ---------------------------------------------------------------------------------------------
# It compiles and renders.


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_compiles_with_no_overfull_box(path: Path, tmp_path: Path) -> None:
    compile_tex(render_latex(load_spec(path)), tmp_path, path.stem)


@pytest.mark.parametrize("spec", UNSEEN, ids=lambda spec: spec["name"])
def test_unseen_specs_compile_with_no_overfull_box(spec: dict[str, Any], tmp_path: Path) -> None:
    compile_tex(render_latex(spec_from_dict(spec)), tmp_path, spec["name"])


def test_every_markdown_math_block_renders_with_katex(tmp_path: Path) -> None:
    files = []
    for path in EXAMPLES:
        files.append(tmp_path / f"{path.stem}.md")
        files[-1].write_text(render_markdown(load_spec(path)))
    for spec in UNSEEN:
        files.append(tmp_path / f"{spec['name']}.md")
        files[-1].write_text(render_markdown(spec_from_dict(spec)))
    assert katex_errors(files) == {str(file): [] for file in files}


def test_the_katex_check_catches_bad_math(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("A $x^{(1)}^{\\mathsf{T}}$ double superscript.\n\n$$\n\\frac{1}{\n$$\n")
    errors = katex_errors([bad])[str(bad)]
    assert len(errors) == 2 and any("Double superscript" in error["error"] for error in errors)


def test_the_compile_check_catches_an_overfull_line(tmp_path: Path) -> None:
    tex = latex(inputs=2, loss="sse", layers=[{"units": 1, "activation": "sigmoid"}])
    wide = tex.replace(r"\end{document}", r"\[" + "+".join(["x_{1}"] * 60) + r"\]" + "\n\\end{document}")
    with pytest.raises(AssertionError, match="overfull"):
        compile_tex(wide, tmp_path, "wide")


def test_the_page_check_catches_a_blank_page(tmp_path: Path) -> None:
    tex = latex(inputs=2, loss="sse", layers=[{"units": 1, "activation": "sigmoid"}])
    blank = tex.replace(r"\end{document}", "\\clearpage\\thispagestyle{empty}\\mbox{}\n\\end{document}")
    with pytest.raises(AssertionError, match="is blank"):
        compile_tex(blank, tmp_path, "blank")


def test_a_one_neuron_derivation_is_about_two_pages(tmp_path: Path) -> None:
    """The derivation itself; the computational graph and the worked example come on top of it."""
    doc = document(derive_network(load_spec(ROOT / "examples" / "perceptron_and.toml")))
    derivation = dataclasses.replace(doc, sections=tuple(s for s in doc.sections if s.key not in ("graph", "worked")))
    compile_tex(latex_of(derivation), tmp_path, "and")
    assert pages(tmp_path / "and.pdf") <= 3


def test_derive_writes_a_pdf_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.rendering import require
    require("pdflatex", "apt-get install texlive-latex-extra")
    out = tmp_path / "xor.pdf"
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF") and b"/Creator (chainrule" in out.read_bytes()
    assert capsys.readouterr().err.splitlines() == [f"wrote {out}"]
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "-o", str(out)]) == 0  # our own PDF: replaced
    foreign = tmp_path / "paper.pdf"
    foreign.write_bytes(b"%PDF-1.5\n% someone else's\n/Creator (LaTeX with hyperref)\n%%EOF\n")
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "-o", str(foreign)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert b"someone else's" in foreign.read_bytes()
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "-o", str(out), "--format", "md"]) == 2  # contradicts
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "--format", "pdf"]) == 2  # a PDF needs -o
    assert "a PDF needs an output file" in capsys.readouterr().err


def test_a_pdf_without_a_tex_engine_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdflatex here
    out = tmp_path / "xor.pdf"
    assert derive_main([str(ROOT / "examples" / "xor.toml"), "-o", str(out)]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "pdflatex" in message and "apt-get install" in message
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# One notation, stated once, used everywhere.


def test_delta_is_only_the_error_and_the_kronecker_delta_is_an_indicator() -> None:
    for path in EXAMPLES:
        tex = body(render_latex(load_spec(path)))
        assert not re.search(r"\\delta_\{", tex), path  # no Kronecker δ_ij
        assert all(match.startswith("^{(") for match in re.findall(r"(?<=\\delta)\S{0,3}", tex)), path
        if "dense" in tex or "[j = q]" in tex:
            assert "[i = p] [j = q] A^{(l-1)}_{ki}" in tex or "[i = p]" in tex


def test_every_layer_quantity_carries_its_superscript() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "xor.toml")))
    assert r"Z^{(l)}_{kj} &= \sum_{i=1}^{d^{(l-1)}} A^{(l-1)}_{ki} W^{(l)}_{ij} + b^{(l)}_{j}" in tex
    assert not re.search(r"_\{[a-z],[a-z]\}", tex)  # one index style: A_{ki}, never A_{k,i}
    assert not re.search(r"(?<![\\{a-zA-Z])([AZWb])_\{", tex)  # no unlabelled A_{kj}


def test_softmax_section_uses_classes_c_defines_K_and_keeps_the_mean() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "softmax_classifier.toml")))
    assert "K = m" in tex and r"c = 1, \dots, K" in tex
    assert r"a_{c} &= \frac{e^{z_{c}}}{\sum_{c''=1}^{K} e^{z_{c''}}}" in tex
    assert "a_{c} ([c = c'] - a_{c'})" in tex  # the Jacobian entry of one sample, in the indicator
    assert "s_{1}" not in tex and r"\operatorname{diag}" not in tex
    assert r"\delta^{(2)}_{kc} &= \frac{\partial E}{\partial Z^{(2)}_{kc}} = \frac{1}{n} (A^{(2)}_{kc} - Y_{kc})" in tex
    assert r"\sum_{c'=1}^{K} y_{c'} = 1" in tex


def test_the_scalar_view_keeps_the_sample_index_on_both_sides() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "perceptron_and.toml")))
    chain = re.search(r"\\frac\{\\partial E\}\{\\partial w_\{p\}\} &= (.*)", tex)
    assert chain is not None
    assert chain.group(1).startswith(r"\sum_{k=1}^{n} \frac{\partial \ell}{\partial a_{k}}")
    assert r"\sum_{k=1}^{n} (a_{k} - y_{k}) \cdot a_{k} (1 - a_{k}) \cdot x_{kp}" in chain.group(1)
    assert r"({X}^{\mathsf{T}} \delta^{(1)})_{p1}" in chain.group(1)


def test_relu_has_one_step_function_with_the_kink_chosen_once() -> None:
    tex = body(latex(inputs=2, loss="sse", layers=[{"units": 3, "activation": "relu"},
                                                   {"units": 1, "activation": "identity"}]))
    assert r"\operatorname{ReLU}'(z) &= H(z)" in tex
    assert "H(0) = 0" in tex and not re.search(r"\\theta\s*\(|\\theta\\left", tex) and "Heaviside" not in tex
    assert r"\operatorname{ReLU}'(Z^{(l)}_{kj}) &= H(Z^{(l)}_{kj})" in tex
    assert r"\operatorname{ReLU}'(Z^{(1)}_{kj}) &= H(Z^{(1)}_{kj})" in tex


def test_a_formula_activation_is_phi_with_its_formula_shown() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "swish.toml")))
    assert r"\varphi(z) = \frac{z}{1 + e^{- z}}" in tex
    assert r"A^{(1)} &= \varphi(Z^{(1)})" in tex and r"\rightarrow \varphi() \rightarrow" in tex
    assert not re.search(r"(?<![a-z])f\(z\)", tex) and "(Z)" not in tex


def test_mse_shows_its_one_over_m_not_a_half() -> None:
    tex = body(latex(inputs=2, loss="mse", reduction="mean", layers=[{"units": 2, "activation": "identity"}]))
    assert r"E &= \frac{1}{m n} \sum_{k=1}^{n} \sum_{j=1}^{m}" in tex
    assert "m = d^{(1)}" in tex and "d^{(1)} = 2" in tex
    assert r"\frac{\partial E}{\partial A^{(1)}_{kj}} &= \frac{1}{m n}" in tex


def test_no_leftovers_times_one_repeated_steps_or_two_spellings_of_a_power() -> None:
    for spec in ({"inputs": 2, "loss": "sse", "layers": [{"units": 2, "activation": "tanh"},
                                                         {"units": 1, "activation": "identity"}]},
                 {"inputs": 3, "loss": "bce", "layers": [{"units": 1, "activation": "sigmoid"}]}):
        tex = body(latex(**spec)).split("A worked example with numbers")[0]  # numbers may well be 1
        assert not re.search(r"\\cdot 1(?![0-9])", tex) and "= 1 = 1" not in tex
        assert r"\tanh{\left(z \right)} = \tanh" not in tex
        assert not re.search(r"\\tanh\{\\left\(z \\right\)\}\^\{2\}|\\tanh\(z\)\^\{2\}", tex)
    tanh = body(latex(**{"inputs": 2, "loss": "sse", "layers": [{"units": 2, "activation": "tanh"}]}))
    assert r"\tanh'(z) &= 1 - \tanh^{2}{\left(z \right)} = 1 - a^{2}" in tanh


def test_bce_shows_the_residual_and_the_cancellation_with_sigmoid() -> None:
    tex = body(latex(inputs=2, loss="bce", layers=[{"units": 1, "activation": "sigmoid"}]))
    assert r"\frac{a - y}{a (1 - a)}" in tex
    scalar = re.search(r"\\frac\{\\partial E\}\{\\partial w_\{p\}\} &= (.*)", tex)
    assert scalar is not None and r"\sum_{k=1}^{n} (a_{k} - y_{k}) \cdot x_{kp}" in scalar.group(1)
    assert "cancels against the denominator" in tex


def test_L_the_bias_update_and_the_minibatch_are_defined() -> None:
    tex = body(latex(inputs=2, loss="sse", layers=[{"units": 3, "activation": "tanh"},
                                                  {"units": 1, "activation": "identity"}],
                     train={"optimizer": "sgd"}))
    assert "L = 2" in tex
    assert r"b^{(l)} \leftarrow b^{(l)} - \eta \frac{\partial E_B}{\partial b^{(l)}}" in tex
    assert r"B, E_B" in tex and "minibatch" in tex


def test_the_sse_steps_a_learner_does_on_paper() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "xor.toml")))
    assert r"\frac{1}{2} (a^{2} - 2 a y + y^{2})" in tex
    assert r"\frac{\partial \ell}{\partial a} &= \frac{1}{2} (2 a - 2 y) = a - y" in tex
    assert r"\frac{1}{2} \sum_{k=1}^{n} (A^{(2)} - Y)" in tex and "common slip" in tex
    assert r"\frac{0 \cdot (1 + e^{- z}) - 1 \cdot (- e^{- z})}{(1 + e^{- z})^{2}}" in tex  # quotient rule
    assert r"\sigma(z) (1 - \sigma(z)) = a (1 - a)" in tex


def test_the_update_is_derived_from_the_first_order_change() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "xor.toml")))
    assert r"\Delta E &\approx" in tex and r"\nabla E \cdot \Delta\theta" in tex
    assert r"\Delta\theta = - \eta \nabla E" in tex or r"\Delta\theta = - \eta" in tex
    assert "Cauchy" in tex


def test_the_deep_chain_the_recursion_and_every_delta() -> None:
    spec = UNSEEN[11]  # six layers
    assert len(spec["layers"]) == 6
    tex = body(render_latex(spec_from_dict(spec)))
    for layer in range(1, 7):
        assert re.search(rf"\\delta\^\{{\({layer}\)\}} &=", tex), layer
    assert r"\delta^{(l-1)} &= (\delta^{(l)} {W^{(l)}}^{\mathsf{T}}) \odot" in tex
    first = re.search(r"\\frac\{\\partial E\}\{\\partial W\^\{\(1\)\}\} &= (.*)", tex)
    assert first is not None and first.group(1).count(r"\partial") >= 2 * 11


def test_the_block_diagram_names_every_layer() -> None:
    spec = UNSEEN[11]
    tex = body(render_latex(spec_from_dict(spec)))
    diagram = tex.split("The block diagram")[1].split(r"\section*")[0]
    assert r"\cdots" not in diagram and diagram.count(r"\rightarrow f() \rightarrow") == 6
    for layer in range(1, 7):
        assert rf"\rightarrow Z^{{({layer})}} \rightarrow" in tex


def test_prose_is_words_and_math_never_math_in_words() -> None:
    math_characters = set("∂σδ⊙Σηℓ⁽⁾ᵀ²₁₂ᵢ√∈≤≥≈→←_^\\")
    for spec in [load_spec(path) for path in EXAMPLES] + [spec_from_dict(spec) for spec in UNSEEN]:
        doc = document(derive_network(spec))
        for section in doc.sections:
            for block in section.blocks:
                paragraphs = [block] if isinstance(block, Paragraph) else [
                    cell for cells in (block.header, *block.rows) for cell in cells] if isinstance(block, Table) \
                    else []
                for paragraph in [section.title, *paragraphs]:
                    for run in paragraph.runs:
                        if isinstance(run, Words):
                            words = run.text.replace(spec.name, "")  # the network's name is the user's word
                            assert not math_characters & set(words), (section.key, run.text)
                            assert "simplify" not in words and "*" not in words, (section.key, run.text)
                        else:
                            assert isinstance(run, Math)


def test_related_equations_share_one_display() -> None:
    tex = body(render_latex(load_spec(ROOT / "examples" / "xor.toml")))
    sections = tex.split(r"\section*")
    assert max(section.count(r"\begin{align*}") for section in sections) <= 6
    network = next(section for section in sections if "The network" in section)
    forward = network.split(r"\begin{align*}")[1]
    assert all(row in forward for row in ("A^{(0)} &= X", "Z^{(1)} &=", "A^{(2)} &=", "E &="))


# ---------------------------------------------------------------------------------------------
# The matrix forms are derived.


def test_the_matrix_forms_are_derived_by_sympy_from_the_indexed_sums() -> None:
    d = derive_affine()
    names = [str(form) for form in (d.weight_sum.matrix, d.bias_sum.matrix, d.input_sum.matrix)]
    assert names == ["A_lm1.T*d_l", "ones.T*d_l", "d_l*W_l.T"]
    # The summed entry formulas, evaluated on numbers, agree with NumPy's products: an independent fact.
    rng = np.random.default_rng(7)
    n, fan_in, units = 3, 2, 4
    A, D, W = rng.normal(size=(n, fan_in)), rng.normal(size=(n, units)), rng.normal(size=(fan_in, units))
    arrays = {"A_lm1": A, "d_l": D, "W_l": W}
    sizes = {sp.Symbol("n", positive=True, integer=True): n, sp.Symbol("width_lm1", positive=True, integer=True):
             fan_in, sp.Symbol("width_l", positive=True, integer=True): units}

    def value(expr: sp.Expr, **indices: int) -> float:
        symbols = {sp.Symbol(name, integer=True): index for name, index in indices.items()}
        expr = expr.subs(sizes).subs(symbols).doit()
        return float(expr.replace(lambda e: isinstance(e, sp.Indexed),
                                  lambda e: sp.Float(arrays[e.base.label.name][tuple(int(i) - 1 for i in e.indices)])))

    for p in range(1, fan_in + 1):
        for q in range(1, units + 1):
            assert value(d.weight_sum.summed, p=p, q=q) == pytest.approx((A.T @ D)[p - 1, q - 1])
    for q in range(1, units + 1):
        assert value(d.bias_sum.summed, q=q) == pytest.approx(D.sum(axis=0)[q - 1])
    for k in range(1, n + 1):
        for p in range(1, fan_in + 1):
            assert value(d.input_sum.summed, k=k, p=p) == pytest.approx((D @ W.T)[k - 1, p - 1])


def test_the_notebook_shows_the_derivation_and_one_section(tmp_path: Path) -> None:
    net = derive_network(load_spec(ROOT / "examples" / "xor.toml"))
    whole, loss = net._repr_markdown_(), net.section("loss")._repr_markdown_()
    assert whole.count("\n## ") == len(net.document().sections) and loss.count("\n## ") == 1
    assert "a - y" in loss and net.section("loss")._repr_latex_().startswith("$$")
    files = []
    for name, text in (("whole", whole), ("loss", loss), ("latex", net._repr_latex_())):
        files.append(tmp_path / f"{name}.md")
        files[-1].write_text(text)
    assert katex_errors(files) == {str(file): [] for file in files}
    with pytest.raises(KeyError, match="no section 'nope'"):
        net.section("nope")


def test_a_convolutional_document_numbers_the_output_as_the_whole_network_does() -> None:
    """digits_cnn has 4 layers (conv, pool, flatten, dense): its output is A⁽⁴⁾, every layer keeps its own
    number (A⁽²⁾ is the pooling's output), and only layers 1 and 4 update."""
    tex = render_latex(derive_network(load_spec(ROOT / "examples" / "digits_cnn.toml")))
    assert r"\frac{\partial E}{\partial A^{(4)}}" in tex and r"A^{(2)} &= \operatorname{maxpool}(A^{(1)})" in tex
    assert r"\delta^{(4)}_{kc} &=" in tex and r"\delta^{(2)}" not in tex and r"\delta^{(3)}" not in tex
    assert "l = 1, 4" in tex
