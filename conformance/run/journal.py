"""The results journal: what a run has finished, so a killed run can resume without redoing it.

Every framework answer is appended to ``journal.jsonl`` in the run's output folder as soon
as it arrives, keyed by a digest of everything the call depended on (the adapter and the
version it reported, the device, the implementation, the dtype, the exact params and
inputs as sent): a case or a framework that changed since is not reused, whatever its id.
Lines are flushed at once and fsync'd per batch; a line cut short by ``kill -9`` is ignored
on reading. ``conformance run --resume DIR`` reads DIR's journal and answers every call
found there from it, so the report of a resumed run is the report of an uninterrupted one
(``created`` and timings aside).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

FILE_NAME = "journal.jsonl"
#: An fsync at most this often (and at close): one per answer would cost more than the calls.
SYNC_SECONDS = 0.5


def task_key(spec: str, version: str, device: str, task: dict[str, Any]) -> str:
    """The digest of one framework call: equal keys make equal answers."""
    call = {k: v for k, v in task.items() if k != "task"}
    text = json.dumps({"spec": spec, "version": version, "device": device, "call": call}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read(folder: Path) -> dict[str, dict[str, Any]]:
    """The finished answers of a journal by key; an unreadable or cut-short line is skipped."""
    answers: dict[str, dict[str, Any]] = {}
    path = folder / FILE_NAME
    if not path.exists():
        return answers
    with path.open("rb") as stream:
        for line in stream:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the last line of a killed run
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("answer"), dict):
                answers[entry["key"]] = entry["answer"]
    return answers


class Journal:
    """Answers already known (from ``--resume``) and an append-only file for the new ones.

    Shared by the threads that run frameworks side by side, hence the lock.
    """

    def __init__(self, folder: Path, resume: Path | None = None) -> None:
        """Journal into ``folder``, answering from ``resume``'s journal first (if given)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.known = read(resume) if resume is not None else {}
        self.reused = 0
        self._lock = threading.Lock()
        self._last_sync = time.monotonic()
        path = folder / FILE_NAME
        # Resuming in place appends to the journal; elsewhere, reused answers are copied over.
        self._in_place = (
            resume is not None and path.exists() and (resume / FILE_NAME).exists() and path.samefile(resume / FILE_NAME)
        )
        self._stream: IO[bytes] = path.open("ab" if self._in_place else "wb")
        if self._in_place:
            self._stream.write(b"\n")  # end a line a kill may have cut short

    def lookup(self, key: str) -> dict[str, Any] | None:
        answer = self.known.get(key)
        if answer is not None:
            with self._lock:
                self.reused += 1
            if not self._in_place:
                self.record(key, answer)
        return answer

    def record(self, key: str, answer: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "answer": {k: v for k, v in answer.items() if k != "task"}}) + "\n"
        with self._lock:
            self._stream.write(line.encode())
            self._stream.flush()
            if time.monotonic() - self._last_sync >= SYNC_SECONDS:
                os.fsync(self._stream.fileno())
                self._last_sync = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if not self._stream.closed:
                self._stream.flush()
                os.fsync(self._stream.fileno())
                self._stream.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
