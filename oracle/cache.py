"""A disk cache of oracle results, one file per (case, dtype) batch, safe for concurrent writers.

Every result for one op, params, inputs and dtype (the ideal and each combination of
variants the judge asks about) lives in one JSON file under ``<root>/<2 hex>/<batch>.json``,
mapping an entry key (the semantics) to its record: a case costs one file per dtype, not one
per question asked of it. The batch key covers everything the answers depend on but the
semantics (see :func:`oracle.evaluation.batch_key`), including the oracle's version.

Writers merge their entry into what the file holds now, write a temporary file in the same
folder and ``os.replace`` it into place: readers see a whole old file, a whole new one or
none, never half of one. Two writers adding different entries to one batch at the same
moment may keep only one of them; the other is computed again next time, never wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def default_root() -> Path:
    configured = os.environ.get("LOSS_CONFORMANCE_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "loss-conformance" / "oracle"


@contextlib.contextmanager
def atomic_file(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A file written whole or not at all: a temporary beside it, replaced into place on success
    and removed on any failure, so readers (and a killed run) never see half of one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    try:
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8") as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class DiskCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def _path(self, batch: str) -> Path:
        return self.root / batch[:2] / f"{batch}.json"

    def _read(self, batch: str) -> dict[str, Any]:
        try:
            with self._path(batch).open(encoding="utf-8") as handle:
                loaded = json.load(handle)
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def get(self, batch: str, entry: str) -> dict[str, Any] | None:
        record = self._read(batch).get(entry)
        return record if isinstance(record, dict) else None

    def put(self, batch: str, entry: str, record: dict[str, Any]) -> None:
        path = self._path(batch)
        path.parent.mkdir(parents=True, exist_ok=True)
        records = {**self._read(batch), entry: record}
        with atomic_file(path) as out:
            json.dump(records, out, separators=(",", ":"))
