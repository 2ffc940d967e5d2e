"""The derivation teaches: a worked example whose gradients agree with central differences, a
computational graph that compiles (TikZ) and renders (Mermaid), and the same in Japanese."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from chainrule.cli import derive_main
from chainrule.data import DataError, load_batch
from codegen import import_module, render_latex, render_markdown
from codegen.printers import DerivationLatexPrinter
from derive import derive_network, load_spec, spec_from_dict
from derive.story import document
from derive.story.cast import cast_of
from derive.story.graph import layer_graph, neuron
from derive.worked import seeded_batch, work_example
from tests.rendering import render_mermaid
from tests.specs import UNSEEN

ROOT = Path(__file__).resolve().parent.parent


def net_of(name: str) -> object:
    return derive_network(load_spec(ROOT / "examples" / f"{name}.toml"))


@pytest.mark.parametrize("name", ["perceptron_and", "xor"])
def test_the_truth_table_examples_agree_with_central_differences(name: str) -> None:
    worked = work_example(net_of(name))
    assert worked.batch.origin == "spec" and worked.A[0].shape == (4, 2)
    np.testing.assert_array_equal(np.asarray(worked.A[0], dtype=float), [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert worked.checked == sum(values.size for values in worked.gradients.values())  # every entry
    assert float(worked.largest_difference()) < 1e-6
    table = re.findall(r"\$(-?[0-9.]+(?: \\cdot 10\^\{-?\d+\})?)\$ \\\\", render_latex(net_of(name)))
    assert table, "no difference column"


def test_the_worked_numbers_are_the_generated_modules_numbers() -> None:
    """An independent fact: the generated NumPy module, at the same parameters and batch, in float64."""
    for spec in [load_spec(path) for path in sorted((ROOT / "examples").glob("*.toml"))] + \
            [spec_from_dict(spec) for spec in UNSEEN[:8]]:
        net = derive_network(spec)
        worked = work_example(net)
        module = import_module(net)
        params = {key: np.asarray(value, dtype=float).reshape(module.SHAPES[key])
                  for key, value in worked.params.items()}
        X, Y = np.asarray(worked.A[0], dtype=float), np.asarray(worked.batch.Y[:4], dtype=float)
        loss, grads = module.gradients(params, X, Y)
        assert loss == pytest.approx(float(worked.E), rel=1e-9), spec.name
        for key, value in grads.items():
            np.testing.assert_allclose(np.asarray(worked.gradients[key], dtype=float).reshape(value.shape), value,
                                       rtol=1e-8, atol=1e-12, err_msg=f"{spec.name} {key}")


def test_a_gradient_off_by_a_factor_shows_in_the_check_table() -> None:
    worked = work_example(net_of("xor"))
    wrong = {key: value * 1.001 for key, value in worked.gradients.items()}
    biggest = max(abs(float(w - c)) for key in wrong for w, c in zip(wrong[key].flat, worked.central[key].flat,
                                                                      strict=True))
    assert biggest > 1e-6  # the table would show it


def test_a_batch_is_seeded_when_the_spec_has_no_data() -> None:
    net = net_of("softmax_classifier")
    first, second = work_example(net).batch, work_example(net).batch
    assert first.origin == "seeded"
    np.testing.assert_array_equal(first.X, second.X)
    assert np.all(first.Y.sum(axis=1) == 1)  # one-hot rows for cross_entropy
    assert seeded_batch(net).X.shape == (4, 4)


def test_user_data_from_npz_and_csv(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "examples" / "softmax_classifier.toml")
    np.savez(tmp_path / "d.npz", X=np.arange(24.0).reshape(6, 4) / 10, Y=np.array([0, 1, 2, 1, 0, 2]))
    batch = load_batch(tmp_path / "d.npz", spec)
    assert batch.X.shape == (4, 4) and batch.Y.tolist()[:2] == [[1, 0, 0], [0, 1, 0]]
    (tmp_path / "d.csv").write_text("a,b,c,d,label\n0.1,0.2,0.3,0.4,2\n1,2,3,4,0\n")
    batch = load_batch(tmp_path / "d.csv", spec)
    assert batch.Y.tolist() == [[0, 0, 1], [1, 0, 0]]
    (tmp_path / "bad.csv").write_text("a,b,c,d,label\n0.1,0.2,x,0.4,2\n")
    with pytest.raises(DataError, match=r"bad.csv: row 1 \(line 2\), column 'c': 'x' is not a number"):
        load_batch(tmp_path / "bad.csv", spec)
    (tmp_path / "labels.csv").write_text("a,b,c,d,label\n0.1,0.2,0.3,0.4,3\n")
    with pytest.raises(DataError, match=r"labels.csv: row 1 \(line 2\), column 'label': 3 is not a class label: "
                                         r"expected a whole number 0\.\.2$"):
        load_batch(tmp_path / "labels.csv", spec)
    out = tmp_path / "with_data.md"
    assert derive_main([str(ROOT / "examples" / "softmax_classifier.toml"), "--data", str(tmp_path / "d.npz"),
                        "-o", str(out)]) == 0
    assert r"X = \begin{pmatrix}0 & 0.1 & 0.2 & 0.3 \\ 0.4" in out.read_text()


def test_the_neuron_graph_carries_the_derived_local_derivatives() -> None:
    net = net_of("perceptron_and")
    graph = neuron(net, cast_of(net), work_example(net))
    edges = {(edge.source, edge.target): edge for edge in graph.edges}
    x1, w1 = sp.Symbol("x_1", real=True), sp.Symbol("w_1", real=True)
    assert edges["w1", "mul1"].local == x1 and edges["x1", "mul1"].local == w1  # the other input
    assert edges["mul1", "sum"].local == 1 and edges["b", "addb"].local == 1  # an add node passes through
    a = sp.Symbol("a", real=True)
    assert sp.simplify(edges["addb", "act"].local - a * (1 - a)) == 0  # σ′ = a(1 − a)
    worked = work_example(net)
    assert edges["addb", "act"].forward.rhs.args[0] == pytest.approx(float(worked.Z[0][0, 0]))
    assert edges["addb", "act"].backward.rhs.args[0] == pytest.approx(float(worked.deltas[0][0, 0]))


def latex(expr: sp.Basic) -> str:
    return DerivationLatexPrinter().doprint(expr)


def test_a_long_local_derivative_is_labelled_by_its_name() -> None:
    """GELU′ and the Huber loss's ∂ℓ/∂a would not fit on an edge: their names stand there instead."""
    spec = {"name": "robust", "inputs": 3, "loss": "huber", "reduction": "mean",
            "layers": [{"units": 4, "activation": "gelu"}, {"units": 2, "activation": "identity"}]}
    net = derive_network(spec_from_dict(spec))
    graph = layer_graph(net, cast_of(net), work_example(net), 1)
    edges = {(edge.source, edge.target): edge for edge in graph.edges}
    assert r"\operatorname{GELU}'" in latex(edges["add1", "act1"].local)
    assert sp.count_ops(net.layers[0].backward) > 6  # what it stands for is long
    last = {(edge.source, edge.target): edge for edge in layer_graph(net, cast_of(net), work_example(net), 2).edges}
    assert latex(last["act2", "loss"].local) == r"\frac{\partial \ell}{\partial a}"
    assert last["add2", "act2"].local == 1  # identity′ = 1 is short: as derived


@pytest.mark.parametrize("name", ["perceptron_and", "xor"])
def test_the_graph_renders_with_mermaid(name: str, tmp_path: Path) -> None:
    markdown = tmp_path / f"{name}.md"
    markdown.write_text(render_markdown(net_of(name)))
    blocks = markdown.read_text().count("```mermaid")
    assert blocks == (1 if name == "perceptron_and" else 2)
    svgs = render_mermaid(markdown, tmp_path)
    assert len(svgs) == blocks and all("<svg" in svg.read_text() for svg in svgs)


def test_the_graph_is_in_the_latex_as_tikz() -> None:
    tex = render_latex(net_of("perceptron_and"))
    assert tex.count(r"\begin{tikzpicture}") == 1 and r"\usepackage{tikz}" in tex
    assert r"\node[operation] (mul1)" in tex and r"$\times\,x_{1}$" in tex


def test_every_section_of_the_teaching_document_is_present() -> None:
    keys = [section.key for section in document(net_of("xor")).sections]
    assert keys.index("graph") < keys.index("worked") and keys[-1] == "worked"


# ---------------------------------------------------------------------------------------------
# The Japanese edition.

LOCALE = ROOT / "derive" / "locale"
TERMS = ["連鎖律", "誤差逆伝播法", "活性化関数", "損失関数", "2乗和誤差", "偏微分", "勾配降下法", "計算グラフ",
         "数値微分"]


def _messages_in_the_source() -> dict[str, str | None]:
    """Every message the code asks gettext for, as Babel extracts it: msgid → plural (or None)."""
    from babel.messages.extract import extract_from_dir

    found = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=[("derive/**.py", "python"), ("codegen/**.py", "python")],
            keywords={"_": None, "ngettext": (1, 2)}):
        if isinstance(message, tuple):
            found[message[0]] = message[1]
        else:
            found[message] = None
    return found


def test_the_japanese_catalog_translates_every_message_and_keeps_every_formula() -> None:
    from babel.messages.pofile import read_po

    with (LOCALE / "ja" / "LC_MESSAGES" / "chainrule.po").open("rb") as handle:
        catalog = read_po(handle)
    assert not catalog.fuzzy
    translated = {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
    source = _messages_in_the_source()
    assert len(source) > 100
    missing = sorted(set(source) - set(translated))
    assert not missing, f"untranslated messages: {missing[:5]}"
    for msgid, plural in source.items():
        message = translated[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, msgid
        fields = set(re.findall(r"\{(\w+)\}", msgid))
        for string in strings:
            assert set(re.findall(r"\{(\w+)\}", string)) == fields, f"{msgid!r} → {string!r}"
        assert (plural is None) == (not isinstance(message.id, tuple)), msgid


def test_the_catalog_check_catches_an_untranslated_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import derive.i18n as i18n
    from derive.i18n import _
    assert _("Notation") == "Notation"
    with i18n.language("ja"):
        assert _("Notation") == "記法"
        assert _("a sentence nobody wrote") == "a sentence nobody wrote"  # gettext falls back to English
    assert "a sentence nobody wrote" not in _messages_in_the_source()


@pytest.mark.parametrize("name", ["perceptron_and", "xor"])
def test_the_japanese_documents_compile_with_lualatex_and_render_with_katex(name: str, tmp_path: Path) -> None:
    from tests.rendering import compile_tex, katex_errors

    spec = load_spec(ROOT / "examples" / f"{name}.toml")
    tex = render_latex(spec, "ja")
    assert r"\documentclass[10pt]{ltjsarticle}" in tex
    compile_tex(tex, tmp_path, name, engine="lualatex")
    markdown = tmp_path / f"{name}.md"
    markdown.write_text(render_markdown(spec, "ja"))
    assert katex_errors([markdown]) == {str(markdown): []}
    text = tex + markdown.read_text()
    for term in TERMS:
        assert term in text, term
    assert "Backpropagation" not in text and "the chain rule" not in text


def test_the_japanese_cross_entropy_and_gradient_descent_words() -> None:
    tex = render_latex(load_spec(ROOT / "examples" / "softmax_classifier.toml"), "ja")
    assert "交差エントロピー誤差" in tex and "ソフトマックス関数" in tex and "確率的勾配降下法" in tex


def test_derive_writes_a_japanese_pdf_with_lualatex(tmp_path: Path) -> None:
    from tests.rendering import require
    require("lualatex", "apt-get install texlive-luatex texlive-lang-japanese")
    out = tmp_path / "and.pdf"
    assert derive_main([str(ROOT / "examples" / "perceptron_and.toml"), "--lang", "ja", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    fonts = subprocess.run([require("pdffonts", "apt-get install poppler-utils"), str(out)], capture_output=True,
                           text=True, check=True).stdout
    assert "HaranoAji" in fonts  # the Japanese text is set in a Japanese font


def test_a_wide_network_checks_a_sample_and_still_compiles(tmp_path: Path) -> None:
    from tests.rendering import compile_tex

    spec = spec_from_dict({"name": "wide", "inputs": 784, "loss": "cross_entropy",
                           "layers": [{"units": 128, "activation": "relu"}, {"units": 10, "activation": "softmax"}]})
    net = derive_network(spec)
    worked = work_example(net)
    total = sum(values.size for values in worked.gradients.values())
    assert worked.checked == 300 < total and float(worked.largest_difference()) < 1e-6
    assert all(worked.central[key].flat[0] is not None for key in worked.gradients)  # the rows the table shows
    tex = render_latex(net)
    assert "a seeded sample of the" in tex and tex.count(r"\partial E / \partial W") >= 6
    compile_tex(tex, tmp_path, "wide")


@pytest.mark.parametrize("activation, rows", [
    ("exp(z)", [[3.0, 3.0]]),  # four exps: e^(e^(e^(e^…))) beyond any float
    ("sigmoid", [[1e100, -1e100], [2e100, 1e99]]),  # σ′ at 10¹⁰⁰ is e^(−10¹⁰⁰)
])
def test_a_worked_example_whose_numbers_no_table_can_show_is_left_out_in_one_true_sentence(
        activation: str, rows: list[list[float]]) -> None:
    layers = [{"units": 2, "activation": activation}] * 3 + [{"units": 1, "activation": activation}]
    spec = spec_from_dict({"name": "t", "inputs": 2, "loss": "sse", "layers": layers,
                           "data": {"X": rows, "Y": [[1.0]] * len(rows)}})
    markdown = render_markdown(spec)
    worked = markdown.split("## A worked example with numbers")[1]
    assert worked.strip().startswith("The worked example is left out") and "\\begin{pmatrix}" not in worked
    assert "## The computational graph" not in markdown
    tex = render_latex(spec)  # and the LaTeX, in Japanese too
    assert "The worked example is left out" in tex and "数値の計算例は載せない" in render_markdown(spec, "ja")


def test_an_ordinary_worked_example_is_not_left_out() -> None:
    markdown = render_markdown(net_of("xor"))
    assert "The worked example is left out" not in markdown and "## The computational graph" in markdown
