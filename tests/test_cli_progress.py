"""Progress by phase: plain lines off a terminal (at least every interval), one redrawn line on it.

The clock is injected, so no test waits: time passes when the test says so.
"""

import io

from conformance import cli
from conformance.run.progress import TerminalProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_plain_line_per_phase_event_and_every_interval():
    clock, stream = Clock(), io.StringIO()
    progress = TerminalProgress(stream, tty=False, clock=clock, interval=5.0)
    progress.begin("oracle", 4)
    clock.now += 3
    progress.step("oracle")
    progress.tick()  # 3 s since the last line: nothing yet
    assert stream.getvalue() == "[    0s] oracle: 4 to compute\n"
    clock.now += 3
    progress.step("oracle")  # 6 s: a status line; 2 of 4 in 6 s, so 2 more take 6 s
    progress.begin("torch", 10)
    clock.now += 5
    progress.tick()  # the ticker thread's call, with no step in between (a slow framework call)
    clock.now += 1
    progress.end("torch")
    progress.starting("tensorflow")
    clock.now += 5
    progress.tick()  # a framework importing: it says so
    progress.end("tensorflow", "skipped: not installed")
    assert stream.getvalue().splitlines()[1:] == [
        "[    6s] 2/4 done; oracle 2/4 ETA 6s",
        "[    6s] torch: 10 calls",
        "[   11s] 2/14 done; oracle 2/4 ETA 11s; torch 0/10",
        "[   12s] torch: done in 6s",
        "[   12s] tensorflow: starting",
        "[   17s] 2/14 done, 1 phase(s) finished; oracle 2/4 ETA 17s; tensorflow starting",
        "[   17s] tensorflow: skipped: not installed",
    ]


def test_on_a_terminal_one_line_is_redrawn_with_totals_and_eta():
    clock, stream = Clock(), io.StringIO()
    progress = TerminalProgress(stream, tty=True, clock=clock)
    progress.begin("jax", 100)
    clock.now += 10
    for _ in range(24):
        progress.step("jax")
    drawn = stream.getvalue().count("\r")
    progress.step("jax")  # at the same instant: not redrawn (at most one redraw per REDRAW_INTERVAL)
    assert stream.getvalue().count("\r") == drawn
    clock.now += 0.2
    progress.tick()
    # 25 calls in 10.2 s: 75 more take 30.6 s
    last = stream.getvalue().rsplit("\r", 1)[-1].rstrip()
    assert last == "[   10s] 25/100 done; jax 25/100 ETA 31s"
    assert "\n" not in stream.getvalue().split("jax: 100 calls\n", 1)[1]  # redrawn, not scrolled


def test_a_run_off_a_terminal_names_its_phases(tmp_path, capsys):
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n  - id: p\n    description: d\n    provenance: p\n    op: softplus\n"
        "    inputs: {x: [0, 1]}\n    dtypes: [float32, float64]\n"
    )
    assert cli.main(["run", str(cases), "--framework", "numpy", "--out", str(tmp_path / "out"), "--no-cache"]) == 0
    lines = [line.split("] ", 1)[1] for line in capsys.readouterr().err.splitlines()]
    # one case in two dtypes: 2 oracle answers; numpy's softplus, value and gradient in one call each
    assert "oracle: 2 to compute" in lines
    assert lines.index("numpy: starting") < lines.index("numpy: 2 calls")
    assert any(line.startswith("numpy: done in") for line in lines)
