"""``conformance run --resume DIR``: a run killed with ``kill -9`` at any point resumes where it was.

A run journals every framework answer as it arrives; the resumed run answers those calls
from the journal and redoes only the rest. The test kills a run at seeded random points of
its progress (by the journal's length), three times in a row, resumes it to the end, and
compares with an uninterrupted run: report.json must be identical but for ``created``, and
no call may have been made twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases" / "bce_logits.yaml"


def conformance_run(*args: str | Path, cache: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "conformance.cli", "run", str(CASES), "--framework", "numpy", "--dtype", "float32"]
    with (cache.parent / "stderr.log").open("ab") as log:
        return subprocess.Popen(
            [*command, "--cache-dir", str(cache), *map(str, args)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
        )


def journal_lines(folder: Path) -> list[bytes]:
    path = folder / "journal.jsonl"
    return path.read_bytes().splitlines() if path.exists() else []


def without_created(folder: Path) -> dict[str, object]:
    report = json.loads((folder / "report.json").read_text())
    report.pop("created")
    return report


def kill_when_journal_reaches(run: subprocess.Popen[bytes], folder: Path, lines: int) -> None:
    deadline = time.monotonic() + 120
    while len(journal_lines(folder)) < lines and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()


def test_a_run_killed_at_random_points_resumes_to_the_uninterrupted_report(tmp_path):
    cache = tmp_path / "cache"
    whole = conformance_run("--out", tmp_path / "whole", cache=cache)
    assert whole.wait(timeout=300) in (0, 1), (tmp_path / "stderr.log").read_text()
    calls = len(journal_lines(tmp_path / "whole"))
    assert calls > 20

    killed = tmp_path / "killed"
    rng = random.Random(14)
    points = sorted(rng.sample(range(1, calls), 3))
    kill_when_journal_reaches(conformance_run("--out", killed, cache=cache), killed, points[0])
    for point in points[1:]:
        kill_when_journal_reaches(conformance_run("--resume", killed, cache=cache), killed, point)
    resumed = conformance_run("--resume", killed, cache=cache)
    assert resumed.wait(timeout=300) in (0, 1), (tmp_path / "stderr.log").read_text()

    assert without_created(killed) == without_created(tmp_path / "whole")
    keys = []
    for line in journal_lines(killed):
        try:
            keys.append(json.loads(line)["key"])
        except ValueError:
            continue  # a line a kill cut short: its call was redone
    assert len(keys) == len(set(keys)) == calls


def test_ctrl_c_stops_the_run_at_once_and_it_resumes(tmp_path):
    """A fake framework that takes 0.25 s a call keeps the run going long enough to interrupt it
    after its first answers are journaled, whatever the machine's speed."""
    folder = tmp_path / "interrupted"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    # As at a terminal, whatever started the tests: a process started in the background inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler (CI started that way saw
    # exit 0). The child restores it itself (a preexec_fn would fork beside the test's threads).
    restore = "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    restore += "sys.argv[0] = 'conformance'; runpy.run_module('conformance.cli', run_name='__main__')"
    slow = [sys.executable, "-c", restore, "run", str(ROOT / "cases" / "primitives.yaml")]
    slow += ["--op", "softplus", "--framework", "robustness_fakes:slow", "--cache-dir", str(tmp_path / "cache")]
    with (tmp_path / "stderr.log").open("ab") as log:
        run = subprocess.Popen(
            [*slow, "--out", str(folder)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + 120
        while len(journal_lines(folder)) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run.poll() is None, "the slow run ended before it could be interrupted"
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=20) == 130
        assert "--resume" in (tmp_path / "stderr.log").read_text()
        resumed = subprocess.Popen(
            [*slow, "--resume", str(folder)], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=log
        )
        assert resumed.wait(timeout=300) in (0, 1), (tmp_path / "stderr.log").read_text()
    keys = [json.loads(line)["key"] for line in journal_lines(folder) if line.strip()]
    assert len(keys) == len(set(keys))
    assert len(json.loads((folder / "report.json").read_text())["results"]) > 0


def test_a_journal_line_cut_short_is_skipped_and_its_call_redone(tmp_path):
    from conformance.run import journal

    folder = tmp_path / "run"
    with journal.Journal(folder) as fresh:
        fresh.record("a", {"status": "ok", "seconds": 0.1})
        fresh.record("b", {"status": "error", "message": "raised"})
    with (folder / journal.FILE_NAME).open("ab") as stream:
        stream.write(b'{"key": "c", "answer": {"sta')
    assert journal.read(folder) == {
        "a": {"status": "ok", "seconds": 0.1},
        "b": {"status": "error", "message": "raised"},
    }
    with journal.Journal(folder, resume=folder) as resumed:
        assert resumed.lookup("a") == {"status": "ok", "seconds": 0.1}
        assert resumed.lookup("c") is None
        resumed.record("c", {"status": "ok"})
    assert sorted(journal.read(folder)) == ["a", "b", "c"]


def test_resuming_into_another_folder_copies_the_reused_answers_there(tmp_path):
    from conformance.run import journal

    with journal.Journal(tmp_path / "killed") as first:
        first.record("a", {"status": "ok"})
    with journal.Journal(tmp_path / "elsewhere") as stale:
        stale.record("old", {"status": "ok"})
    with journal.Journal(tmp_path / "elsewhere", resume=tmp_path / "killed") as resumed:
        assert resumed.lookup("a") == {"status": "ok"}
        resumed.record("b", {"status": "error"})
    assert sorted(journal.read(tmp_path / "elsewhere")) == ["a", "b"]
    with journal.Journal(tmp_path / "killed", resume=tmp_path / "empty") as nothing_to_reuse:
        assert nothing_to_reuse.lookup("a") is None
