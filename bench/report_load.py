"""How fast the whole corpus's report.html is ready in headless Chromium, beside a blank page.

    .venv/bin/python bench/report_load.py

Builds the synthetic full-corpus report the browser test uses (every case and dtype of the
bundled corpus, every registered framework, every verdict; tests/full_report_fixture.py),
writes its pages, and loads the entry page three times in Debian's Chromium (`make browser`).
The load time is the browser's own measure (performance.now() at the load event, which the page
writes on itself), printed beside the same measure for a blank page: the ratio is what the
report costs over Chromium's own start. Target: the entry page ready in under 1 s.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from full_report_fixture import full_report  # noqa: E402

from conformance.report import browser  # noqa: E402
from conformance.report import html as html_report  # noqa: E402
from conformance.report.document import write_html  # noqa: E402

BLANK = """<!doctype html><html><body><script>
addEventListener("load", () => document.body.dataset.loadedMs = Math.round(performance.now()));
</script></body></html>"""


def loaded_ms(page: Path) -> int:
    text = browser.dump_dom(page, page.parent / "profile")
    return int(re.search(r'data-loaded-ms="(\d+)"', text)[1])  # type: ignore[index]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        write_html(html_report.render(full_report()), out)
        (out / "blank.html").write_text(BLANK)
        entry = out / "report.html"
        report = min(loaded_ms(entry) for _ in range(3))
        blank = min(loaded_ms(out / "blank.html") for _ in range(3))
        size = entry.stat().st_size / 1e6
        print(f"entry page {size:.2f} MB: ready after {report} ms (best of 3), a blank page {blank} ms: ", end="")
        print(f"{report / max(blank, 1):.1f}x; target < 1000 ms")


if __name__ == "__main__":
    main()
