"""Screenshots of a report for the README, made by headless Chromium from a report.json:

    python -m conformance.report.screenshots reports/latest/report.json --out docs \\
        --figure 'seed001/bce/probs/two-point/a={a}' --name seed001

writes ``docs/summary.png`` (the entry page's first screen) and, for ``--figure``, the sweep's
figure as ``docs/<name>.svg`` and ``docs/<name>.png``. Which sweep to show is the caller's
choice, named on the command line; run without ``--figure`` to list the report's sweeps.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import browser, plots
from .document import read, write_html
from .html import render
from .page import page


def summary(report_json: Path, out: Path, work: Path) -> Path:
    write_html(render(read(report_json)), work)
    return browser.screenshot(work / "report.html", out / "summary.png", work / "profile", 1600, 1000)


def figure(report_json: Path, key: str, name: str, out: Path, work: Path) -> list[Path]:
    report = read(report_json)
    entries = [s for s in plots.series(report["results"]) if s.key == key]
    if not entries:
        known = sorted({s.key for s in plots.series(report["results"])})
        raise SystemExit(f"{report_json}: no sweep {key!r}; its sweeps: {', '.join(known) or 'none'}")
    op = entries[0].points[0][1]["op"]
    colours = plots.plotted_palette(r for r in report["results"] if r["op"] == op)
    svg = plots.figure(entries, colours, title=key)
    (out / f"{name}.svg").write_text(svg + "\n", encoding="utf-8")
    html = work / f"{name}.html"
    html.write_text(page(key, [svg]), encoding="utf-8")
    width, height = 1100, 160 + 300 * len(entries)
    return [out / f"{name}.svg", browser.screenshot(html, out / f"{name}.png", work / "profile", width, height)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.report.screenshots", description=__doc__)
    parser.add_argument("report", type=Path, help="a report.json")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--figure", help="a sweep's id template, as the op page titles it")
    parser.add_argument("--name", default="figure", help="file name of the figure (default: figure)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as temporary:
        work = Path(temporary)
        written = [summary(args.report, args.out, work)]
        if args.figure:
            written += figure(args.report, args.figure, args.name, args.out, work)
        else:
            keys = sorted({s.key for s in plots.series(read(args.report)["results"])})
            print("sweeps (pass one as --figure):", *keys, sep="\n  ")
    print("wrote", *written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
