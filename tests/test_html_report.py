"""report.html in a real headless Chromium: the matrix renders and a filter works."""

import re
import shutil
import subprocess

import pytest

from conformance.report import html as html_report

from report_fixture import report, result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def sample():
    return report(
        [
            result("a/ok", "torch.softplus", "pass"),
            result("a/ok", "jax.softplus", "pass"),
            result("b/bad", "torch.softplus", "fail", max_ulp_error=812.0, message="max error 812 ulp"),
            result("b/bad", "jax.softplus", "documented", semantics="torch_softplus_threshold"),
            result("c/<script>alert(1)</script>", "jax.softplus", "pass", description="<img src=x onerror=alert(2)>"),
        ]
    )


def dump_dom(path, query=""):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it where apt-get is available)")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={path.parent / 'profile'}",
        "--dump-dom",
        f"file://{path}{query}",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def visible_rows(dom):
    rows = re.findall(r'<tr class="row"[^>]*>', dom)
    return [r for r in rows if "display: none" not in r]


def test_the_matrix_renders_in_a_browser(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report.render(sample()))
    dom = dump_dom(page)
    assert 'class="matrix"' in dom
    assert len(visible_rows(dom)) == 3  # three cases, one dtype each
    assert "812" in dom  # the worst ULP error is written in its cell


def test_the_verdict_filter_hides_rows_without_that_verdict(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report.render(sample()))
    shown = visible_rows(dump_dom(page, "?verdict=fail"))
    assert len(shown) == 1 and 'data-op="softplus"' in shown[0]
    assert len(visible_rows(dump_dom(page, "?framework=jax&verdict=documented"))) == 1


def test_case_text_is_escaped():
    page = html_report.render(sample())
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_needs_no_network():
    page = html_report.render(sample())
    assert not re.search(r'(src|href)="(https?:)?//', page)
