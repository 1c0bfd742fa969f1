"""Text from case files and frameworks made safe to show: invisible characters made visible.

A right-to-left override (U+202E) in a description reorders what a reader sees of the id
beside it; a NUL or a lone surrogate makes junit.xml unparseable. report.json keeps the
text as it was; the HTML and JUnit renderings show every control (Cc), format (Cf),
surrogate (Cs) and line or paragraph separator (Zl, Zp) character, tab and newline aside,
and XML's non-characters U+FFFE and U+FFFF, as ``<U+XXXX>``.
"""

from __future__ import annotations

import html
import re
import unicodedata

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_PLAIN = re.compile(r"[\t\n\x20-\x7e]*")


def _shown(character: str) -> str:
    hidden = character not in "\t\n" and (
        unicodedata.category(character) in _HIDDEN_CATEGORIES or character in "\ufffe\uffff"
    )
    return f"<U+{ord(character):04X}>" if hidden else character


def visible(text: str) -> str:
    """``text`` with each invisible or direction-changing character written as ``<U+XXXX>``."""
    if _PLAIN.fullmatch(text):
        return text
    return "".join(map(_shown, text))


def escape(text: str, quote: bool = True) -> str:
    """HTML-escaped, with invisible and direction-changing characters shown as ``<U+XXXX>``."""
    return html.escape(visible(text), quote)
