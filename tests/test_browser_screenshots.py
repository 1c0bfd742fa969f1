"""The command that makes the README's screenshots: a PNG of the summary, the sweep's SVG and PNG."""

import json

import pytest

from conformance.report import browser, screenshots

from report_fixture import report, result


def sweep_report(tmp_path):
    rows = [
        result(f"s/x={x}", "torch.softplus", "pass", sweep={"x": str(x)}, sweep_group="s/x={x}", actual=[10.0**-x])
        for x in (1, 4, 8)
    ]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report(rows)))
    return path


def test_the_command_writes_the_summary_and_the_named_figure(tmp_path):
    try:
        browser.chromium()
    except browser.NoBrowser as missing:
        pytest.skip(str(missing))
    out = tmp_path / "docs"
    assert screenshots.main([str(sweep_report(tmp_path)), "--out", str(out), "--figure", "s/x={x}", "--name", "s"]) == 0
    for png in ("summary.png", "s.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "s.svg").read_text().startswith("<svg")


def test_an_unknown_figure_names_the_sweeps_there_are(tmp_path):
    with pytest.raises(SystemExit, match=r"no sweep 'nope'; its sweeps: s/x=\{x\}"):
        screenshots.figure(sweep_report(tmp_path), "nope", "n", tmp_path, tmp_path)
