"""Hidden characters in case text are shown, not obeyed, in report.html and junit.xml.

A U+202E (right-to-left override) in a description would make the id beside it read
backwards; a NUL in a framework's message would make junit.xml unparseable.
"""

from __future__ import annotations

from xml.etree import ElementTree

from conformance.report import html
from conformance.report.document import junit
from conformance.report.visible import visible

from report_fixture import report, result

SPOOF = "safe\u202etxt.exe"


def spoofed_report() -> dict[str, object]:
    record = result("bidi/x=1", "fake.softplus", "error", description=SPOOF, message=f"raised\x00 {SPOOF}\u2028")
    return report([record])


def test_bidi_controls_and_separators_are_written_as_code_points():
    assert visible(SPOOF) == "safe<U+202E>txt.exe"
    assert visible("a\x00b\u2028c\ufeffd\ud800") == "a<U+0000>b<U+2028>c<U+FEFF>d<U+D800>"


def test_tabs_newlines_and_ordinary_text_are_kept():
    assert visible("tab\tnew\nline é λ 漢 −1") == "tab\tnew\nline é λ 漢 −1"


def test_the_html_report_shows_a_direction_override_instead_of_obeying_it():
    pages = "".join(html.render(spoofed_report()).values())  # the summary and the op's page
    assert "\u202e" not in pages and "\x00" not in pages and "\u2028" not in pages
    assert "safe&lt;U+202E&gt;txt.exe" in pages


def test_junit_xml_stays_parseable_and_shows_the_hidden_characters():
    document = junit(spoofed_report())
    assert "\u202e" not in document and "\x00" not in document
    error = ElementTree.fromstring(document).find("testsuite/testcase/error")
    assert error is not None
    assert error.get("message") == "raised<U+0000> safe<U+202E>txt.exe<U+2028>"
