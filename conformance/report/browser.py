"""Headless Chromium, for the report's browser test and its screenshots in ``docs/``.

The same flags everywhere: no sandbox (root in CI containers), no GPU, no network chatter,
a throw-away profile folder, so a run leaves nothing behind and reaches nothing outside.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class NoBrowser(RuntimeError):
    """Chromium is not installed (``make browser`` installs it where apt-get is available)."""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise NoBrowser("chromium is not installed (make browser installs it where apt-get is available)")
    return found


def _run(page: Path, profile: Path, *extra: str, query: str = "", timeout: float = 120) -> str:
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, f"file://{page.resolve()}{query}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def dump_dom(page: Path, profile: Path, query: str = "") -> str:
    """The page's DOM after its scripts ran (filters applied), as Chromium serialises it."""
    return _run(page, profile, "--dump-dom", query=query)


def screenshot(page: Path, out: Path, profile: Path, width: int = 1400, height: int = 900, query: str = "") -> Path:
    """A PNG of the first ``width`` x ``height`` pixels of the page."""
    _run(page, profile, f"--screenshot={out.resolve()}", f"--window-size={width},{height}", query=query)
    return out
