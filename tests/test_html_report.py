"""report.html and the op pages: the summary grid, the per-op matrix, filters that keep every
framework's column, explanations said once, escaping (some checks in a real headless Chromium)."""

import re

import pytest

from conformance.report import browser
from conformance.report import html as html_report
from conformance.report.document import write_html

from report_fixture import report, result

CLIP = {
    "kind": "variant",
    "name": "keras_clip",
    "text": "Keras clips probabilities to [1e-7, 1 - 1e-7] before the log.",
    "link": "https://example.org/keras",
    "predicted": [1.1e-7],
    "distance_ulp": None,
    "bound_ulp": None,
}


def sample():
    return report(
        [
            result("a/ok", "torch.softplus", "pass"),
            result("a/ok", "jax.softplus", "pass"),
            result("b/bad", "torch.softplus", "fail", max_ulp_error=812.0, message="max error 812 ulp"),
            result("b/bad", "jax.softplus", "documented", explanation=CLIP, message="explained by keras_clip"),
            result("b/bad", "jax.softplus", "documented", dtype="float64", explanation=CLIP, message="explained"),
            result("b/bad", "numpy:(none)", "unsupported", framework="numpy", message="numpy has no native softplus"),
            result("c/<script>alert(1)</script>", "jax.softplus", "pass", description="<img src=x onerror=alert(2)>"),
        ]
    )


@pytest.fixture
def pages(tmp_path):
    write_html(html_report.render(sample()), tmp_path)
    return tmp_path


def dom(page, query=""):
    try:
        return browser.dump_dom(page, page.parent / "profile", query)
    except browser.NoBrowser as missing:
        pytest.skip(str(missing))


def shown(dom_text, tag):
    """The opening tags of ``tag`` elements the filters left visible."""
    return [t for t in re.findall(tag, dom_text) if "display: none" not in t]


def test_the_summary_has_a_cell_per_framework_with_its_worst_result(pages):
    page = dom(pages / "report.html")
    rows = shown(page, r'<tr class="row"[^>]*>')
    assert len(rows) == 2  # softplus in float32 and in float64
    float32 = page.split('data-dtype="float32"')[1].split("</tr>")[0]
    # jax: documented is worse than pass; torch: the fail with its 812 ULPs; numpy: unsupported.
    assert re.findall(r'data-framework="(\w+)" data-verdict="(\w+)"', float32) == [
        ("jax", "documented"),
        ("numpy", "unsupported"),
        ("torch", "fail"),
    ]
    assert ">812 " in float32 and "keras_clip" in float32
    assert "<small>b/bad (value)</small>" in float32  # an unexplained failure says where it is worst


def test_a_filter_narrows_rows_and_keeps_every_frameworks_column(pages):
    page = dom(pages / "report-ops" / "softplus.html", "?verdict=fail&framework=torch")
    assert len(shown(page, r'<tr class="row"[^>]*>')) == 1  # only b/bad in float32 has torch failing
    header = page.split("</thead>")[0]
    assert re.findall(r'<th class="fw[^"]*"[^>]*data-framework="(\w+)"', header) == ["jax", "torch"]
    assert "display: none" not in header
    # The details follow the rows: only the case shown, only its failing result.
    assert len(shown(page, r'<section class="detail"[^>]*>')) == 1
    assert [re.search(r'data-verdict="(\w+)"', t)[1] for t in shown(page, r'<tr class="result"[^>]*>')] == ["fail"]


def test_an_op_page_has_its_implementations_only_and_says_who_has_none(pages):
    text = (pages / "report-ops" / "softplus.html").read_text()
    assert "numpy:(none)" not in text.split("</thead>")[0]
    assert "no column: numpy has no native softplus" in text


def test_each_explanation_is_said_once(pages):
    text = (pages / "report-ops" / "softplus.html").read_text()
    assert text.count(CLIP["text"]) == 1  # two results in two dtypes point to it
    assert text.count('href="#note-1"') == 2


def test_case_text_is_escaped(pages):
    for page in [pages / "report.html", *(pages / "report-ops").glob("*.html")]:
        text = page.read_text()
        assert "<script>alert(1)</script>" not in text
        assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (pages / "report-ops" / "softplus.html").read_text()


def test_the_pages_need_no_network(pages):
    for page in [pages / "report.html", *(pages / "report-ops").glob("*.html")]:
        assert not re.search(r'(src|href)="(https?:)?//', page.read_text())


def test_notes_on_the_run_are_folded_below_the_grid():
    document = sample()
    document["divergences"] = [
        {
            "name": f"old-{n}",
            "implementation": "x",
            "model": "m",
            "dtype": None,
            "quantity": None,
            "reason": "r",
            "link": "",
            "status": "stale",
            "explained": 0,
        }
        for n in range(36)
    ]
    entry = html_report.render(document)["report.html"]
    assert entry.index("<table class=summary>") < entry.index("<details><summary>36 notes")


def test_op_pages_of_an_earlier_run_do_not_linger(tmp_path):
    (tmp_path / "report-ops").mkdir()
    (tmp_path / "report-ops" / "huber.html").write_text("an earlier run's page")
    write_html(html_report.render(sample()), tmp_path)
    assert sorted(p.name for p in (tmp_path / "report-ops").iterdir()) == ["softplus.html"]


def test_an_op_page_holds_each_sweeps_figure_inline():
    rows = [result(f"s/x={x}", "torch.softplus", "pass", sweep={"x": str(x)}, sweep_group="s/x={x}") for x in (1, 2, 3)]
    page = html_report.render(report(rows))["report-ops/softplus.html"]
    section = page[page.index("<section class=sweep") :]
    assert section.index("<h3>s/x={x}</h3>") < section.index("<svg") < section.index("</svg>")
    assert page.count("<svg") == 1
