"""The whole corpus's report in headless Chromium: a small entry page, its summary grid there,
and filters that narrow rows while every framework keeps its column. How fast the page is ready
is a benchmark's question, not a test's (bench/report_load.py prints it beside a blank page).

The report is synthetic (``full_report_fixture``): every case and dtype of the bundled corpus,
every registered framework, all eight verdicts, so its size is the real one's without running
a framework.
"""

import re

import pytest
from full_report_fixture import frameworks, full_report

from conformance.report import browser
from conformance.report import html as html_report
from conformance.report.document import write_html

MB = 1_000_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    pages = html_report.render(full_report())
    out = tmp_path_factory.mktemp("full-report")
    write_html(pages, out)
    return out


def dom(page, query=""):
    try:
        return browser.dump_dom(page, page.parent / "profile", query)
    except browser.NoBrowser as missing:
        pytest.skip(str(missing))


def shown_rows(text):
    return [t for t in re.findall(r'<tr class="row"[^>]*>', text) if "display: none" not in t]


def framework_columns(text):
    """The frameworks whose header cells are visible."""
    header = text.split("</thead>")[0]
    return [
        name
        for tag, name in re.findall(r'(<th class="fw[^>]*data-framework="([^"]+)"[^>]*>)', header)
        if "display: none" not in tag
    ]


def test_the_entry_page_is_small_and_its_details_load_per_op(folder):
    entry = folder / "report.html"
    assert entry.stat().st_size < 2 * MB
    ops = {r["op"] for r in full_report()["results"]}
    assert {p.stem for p in (folder / "report-ops").glob("*.html")} == ops


def test_the_summary_grid_has_a_row_per_op_and_dtype_and_a_column_per_framework(folder):
    text = dom(folder / "report.html")
    report = full_report()
    pairs = {(r["op"], r["dtype"]) for r in report["results"]}
    assert len(shown_rows(text)) == len(pairs)
    assert framework_columns(text) == frameworks()


def test_filters_narrow_the_rows_but_keep_every_frameworks_column(folder):
    everything = dom(folder / "report.html")
    narrowed = dom(folder / "report.html", "?verdict=crash&dtype=float32")
    assert 0 < len(shown_rows(narrowed)) < len(shown_rows(everything))
    assert framework_columns(narrowed) == frameworks()
    op, framework = next((r["op"], r["framework"]) for r in full_report()["results"] if r["verdict"] == "fail")
    page = folder / "report-ops" / f"{op}.html"
    filtered = dom(page, f"?framework={framework}&verdict=fail")
    assert 0 < len(shown_rows(filtered)) < len(shown_rows(dom(page)))
    assert framework_columns(filtered) == sorted(
        {r["framework"] for r in full_report()["results"] if r["op"] == op and ":(none)" not in r["implementation"]}
    )
