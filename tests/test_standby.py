"""Standby workers: a gate call's worker waits for the next call, which takes it over.

The losses here are NumPy's (the cheapest adapter to start) and record, in a file named by
STANDBY_LOG, which process imported them and which process ran them: a taken-over worker is
the same process, importing the user's module afresh.
"""

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conformance import cli
from conformance.gate import execute as gate
from conformance.gate.execute import Selection
from conformance.run import standby

LOG = "STANDBY_LOG"
LOSS = """
import os

import numpy as np

with open(os.environ["STANDBY_LOG"], "a") as log:
    log.write(f"import {os.getpid()}\\n")


def loss(y_true, logits):
    with open(os.environ["STANDBY_LOG"], "a") as log:
        log.write(f"call {os.getpid()}\\n")
    linear = np.where(logits >= 0, logits * (1 - y_true), -logits * y_true)
    return np.mean(linear + np.log1p(np.exp(-np.abs(logits))), dtype=np.float64).astype(logits.dtype)
"""
#: The same loss that forgets log1p's small terms: exp(-|x|) vanishes next to 1 for |x| > 37.
CARELESS = LOSS.replace("np.log1p(np.exp(-np.abs(logits)))", "np.log(1 + np.exp(-np.abs(logits)))")
#: A loss whose module refuses a second import into the same process (as a TensorFlow gradient
#: registered under a fixed name does).
ONCE = LOSS.replace(
    "import numpy as np\n",
    "import numpy as np\n\nif getattr(np, '_standby_test_loaded', False):\n"
    "    raise RuntimeError('already registered')\nnp._standby_test_loaded = True\n",
)
#: A loss that kills its process on one input.
ABORTING = LOSS.replace(
    "    linear = np.where(",
    "    if (logits == 30).all() and (y_true == 1).all():\n        os.abort()\n    linear = np.where(",
)
#: A loss that never returns once its file says so.
LOOPING = LOSS.replace(
    "    linear = np.where(",
    "    while os.path.exists('loop'):\n        pass\n    linear = np.where(",
)
FEW = Selection(select=("bce/logits/x=30,*", "bce/logits/x=-30,*"))


@pytest.fixture
def workplace(tmp_path, monkeypatch):
    """A directory holding the user's loss, with its own standby folder (a short path: a socket's
    must stay under 108 bytes); no standby outlives the test."""
    monkeypatch.chdir(tmp_path)
    with tempfile.TemporaryDirectory(dir="/tmp") as runtime:
        monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
        monkeypatch.setenv(LOG, str(tmp_path / "log"))
        yield tmp_path
        standby.stop_all()


def gate_once(source: str, workplace: Path, minutes: float = 1.0) -> gate.GateResult:
    (workplace / "user_loss.py").write_text(source)
    return gate.run(
        "user_loss:loss",
        "binary_crossentropy",
        "numpy",
        {"from_logits": True},
        dtypes=("float64",),
        chosen=FEW,
        standby_minutes=minutes,
    )


def events(workplace: Path) -> list[tuple[str, int]]:
    lines = (workplace / "log").read_text().split()
    return list(zip(lines[::2], map(int, lines[1::2])))


def test_the_next_call_takes_the_worker_over_and_imports_the_loss_afresh(workplace):
    first = gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    second = gate_once(LOSS, workplace)
    assert first.ok and second.ok
    assert first.notes[-1].startswith("worker: started afresh; on standby for 1 min")
    assert second.notes[-1].startswith("worker: taken over from standby; on standby for 1 min")
    imports = [pid for what, pid in events(workplace) if what == "import"]
    calls = {pid for what, pid in events(workplace) if what == "call"}
    # Two imports of the user's module, one per call, both in the worker now waiting again.
    assert imports == [waiting[1], waiting[1]] and calls == {waiting[1]}
    assert standby.running() == [waiting]


def test_an_edited_loss_is_what_the_next_call_runs(workplace):
    careless = gate_once(CARELESS, workplace)
    assert not careless.ok and any(r["case"] == "bce/logits/x=30,z=1" for r in careless.failures)
    # A different size: Python's bytecode cache keys on the source's mtime and size.
    fixed = gate_once(LOSS + "\n# fixed\n", workplace)
    assert fixed.ok
    assert len({pid for _, pid in events(workplace)}) == 1  # one process served both


def test_a_loss_that_cannot_be_imported_twice_gets_a_fresh_worker(workplace):
    first = gate_once(ONCE, workplace)
    (waiting,) = standby.running()
    second = gate_once(ONCE, workplace)
    assert first.ok and second.ok
    imports = [pid for what, pid in events(workplace) if what == "import"]
    assert len(imports) == 2 and imports[0] == waiting[1] != imports[1]
    assert "the standby gave way: cannot load: RuntimeError: already registered" in second.notes[-1]
    # The standby that could not serve exited; the fresh worker waits in its place.
    assert [pid for _, pid in standby.running()] == [imports[1]]


def test_a_loss_that_kills_the_taken_over_worker_costs_its_cases_only(workplace):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    aborted = gate_once(ABORTING, workplace)
    by_case = {(r["case"], r["quantity"]): r for r in aborted.records}
    crashed = by_case[("bce/logits/x=30,z=1", "value")]
    assert crashed["verdict"] == "crash" and f"(on standby, pid {waiting[1]}) ended" in crashed["message"]
    assert by_case[("bce/logits/x=-30,z=0", "value")]["verdict"] == "pass"  # run by a fresh worker
    assert not standby.alive(waiting[1])


def test_a_standby_ends_after_its_idle_minutes(workplace):
    gate_once(LOSS, workplace, minutes=0.02)  # 1.2 s
    (waiting,) = standby.running()
    deadline = time.monotonic() + 30
    while standby.alive(waiting[1]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not standby.alive(waiting[1])
    assert not waiting[0].exists() and standby.running() == []


def test_without_standby_the_worker_ends_with_the_call(workplace):
    gate_once(LOSS, workplace, minutes=0)
    assert standby.running() == []


def test_the_standby_folder_is_private(workplace):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    assert waiting[0].parent.stat().st_mode & 0o777 == 0o700
    assert waiting[0].stat().st_mode & 0o777 == 0o600


def wait_until_ended(pid: int, seconds: float = 30) -> bool:
    """Until the process has ended and no socket answers for it. A killed worker's main thread
    is a zombie before its other threads have exited, and they hold its files, the listening
    socket among them, for a moment longer."""

    def ended() -> bool:
        return not standby.alive(pid) and pid not in [answering for _, answering in standby.running()]

    deadline = time.monotonic() + seconds
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.1)
    return ended()


def test_an_interrupted_call_stops_the_worker_it_took_over(workplace, monkeypatch):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()

    def interrupted(self, raw):
        raise KeyboardInterrupt

    monkeypatch.setattr(gate.Verdicts, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gate_once(LOSS, workplace)
    assert wait_until_ended(waiting[1]) and standby.running() == []


def test_a_standby_whose_call_is_killed_mid_task_ends_too(workplace):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    (workplace / "user_loss.py").write_text(LOOPING)
    (workplace / "loop").touch()
    command = [sys.executable, "-m", "conformance.cli", "gate", "user_loss:loss", "--op", "binary_crossentropy"]
    command += ["--param", "from_logits=true", "--framework", "numpy", "--dtype", "float64", "--standby", "1"]
    command += ["--select", "bce/logits/x=30,*", "--out", str(workplace / "out")]
    calls_before = events(workplace).count(("call", waiting[1]))
    call = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60  # the loss announces its call in the standby, then loops
        while events(workplace).count(("call", waiting[1])) == calls_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert events(workplace).count(("call", waiting[1])) > calls_before
    finally:
        call.send_signal(signal.SIGKILL)
        call.wait()
    assert wait_until_ended(waiting[1], seconds=15)


def test_a_second_concurrent_call_starts_its_own_worker(workplace):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    held = standby.hold(standby.Place(waiting[0], waiting[0].with_suffix(".lock"), waiting[0].with_suffix(".log")))
    assert held is not None  # as a call using the standby holds it
    with held:
        second = gate_once(LOSS, workplace)
    assert second.ok
    assert second.notes[-1].startswith("worker: started afresh; not on standby (another call's worker waits there")
    # Two processes ran the loss: the standby (first call) and the second call's own worker.
    assert len({pid for _, pid in events(workplace)}) == 2 and standby.running() == [waiting]


def test_a_folder_that_is_not_private_turns_standby_off_and_says_why(workplace):
    folder = standby.folder()
    folder.chmod(0o755)
    result = gate_once(LOSS, workplace)
    assert result.ok  # the call itself is unaffected
    assert "standby is off: " in result.notes[-1] and "is not a private folder of this user" in result.notes[-1]
    folder.chmod(0o700)
    assert standby.running() == []


def test_the_standby_command_lists_and_stops_them(workplace, capsys):
    gate_once(LOSS, workplace)
    (waiting,) = standby.running()
    assert cli.main(["standby"]) == 0
    assert f"pid {waiting[1]}  {waiting[0]}" in capsys.readouterr().out
    assert cli.main(["standby", "--stop"]) == 0
    assert capsys.readouterr().out.strip() == "stopped 1 standby worker"
    assert wait_until_ended(waiting[1]) and standby.running() == []


@pytest.mark.parametrize("minutes", [-1.0, float("inf"), float("nan"), 1441.0])
def test_standby_minutes_are_between_none_and_a_day(minutes):
    with pytest.raises(ValueError, match="standby minutes are between 0 and 1440"):
        standby.minutes(minutes)


def test_an_installed_file_that_changed_or_compiled_user_code_makes_a_standby_give_way(tmp_path):
    installed = tmp_path / "site" / "package.py"
    installed.parent.mkdir()
    installed.write_text("x = 1\n")
    status = installed.stat()
    before = {str(installed): (status.st_size, status.st_mtime_ns)}
    assert standby.stale(before, []) == ""
    installed.write_text("x = 2  # reinstalled\n")
    assert "changed since the last call" in standby.stale(before, [])
    extension = tmp_path / "fast.cpython-311-x86_64-linux-gnu.so"
    assert "compiled extension (fast.cpython-311-x86_64-linux-gnu.so)" in standby.stale({}, [extension])
