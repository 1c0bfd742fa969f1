"""Standby workers: a gate call's worker waits for the next call, which takes it over.

The losses here are NumPy's (the cheapest adapter to start) and record, in a file named by
STANDBY_LOG, which process imported them and which process ran them: a taken-over worker is
the same process, importing the user's module afresh.
"""

import tempfile
import time
from pathlib import Path

import pytest

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
