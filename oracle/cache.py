"""A disk cache of oracle results, safe for concurrent writers.

One JSON file per key under ``<root>/<2 hex>/<key>.json``. Writers write a temporary
file in the same folder and ``os.replace`` it into place: readers see the old file,
the new one or none, never half of one, and two writers of the same key write the
same bytes. The key covers everything the answer depends on (see
:func:`oracle.evaluate.cache_key`), including the oracle's version.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_root() -> Path:
    configured = os.environ.get("LOSS_CONFORMANCE_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "loss-conformance" / "oracle"


class DiskCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with self._path(key).open(encoding="utf-8") as handle:
                loaded: dict[str, Any] = json.load(handle)
                return loaded
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(record, out, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
