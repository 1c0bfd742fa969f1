"""Worker hardening: every fault of a framework is a recorded result, and no process outlives the run.

Plumbing tests with the fake adapters of ``robustness_fakes`` (never a reported result):
a corrupted protocol line, a complex or gradient-less answer, a 10^7-element answer, a
framework that raises, crashes or hangs while loading, one that starts processes of its own,
and a ``kill -9`` of the run while a worker is inside a call.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.corpus.cases import Case
from conformance.corpus.limits import limits
from conformance.run import workers
from conformance.run.runner import run

import fake_adapters

TESTS = Path(__file__).resolve().parent
PIDS = "ROBUSTNESS_FAKES_PIDS"


@pytest.fixture(autouse=True)
def fakes_record_their_pids(workers_find_the_fakes, monkeypatch, tmp_path):
    monkeypatch.setenv(PIDS, str(tmp_path / "pids"))


def softplus_cases() -> list[Case]:
    return fake_adapters.softplus_cases(1, 13, 2)


def statuses(spec: str, timeout: float = 5) -> dict[str, tuple[str, str]]:
    _, results = run(softplus_cases(), [f"robustness_fakes:{spec}"], timeout=timeout)
    return {r.case.id: (str(r.status), r.message) for r in results}


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@pytest.mark.parametrize(
    ("spec", "status", "words"),
    [
        ("corrupting", "crash", "not the protocol's: 'Warning: this is not JSON'"),
        ("complex_valued", "fail", "returned a complex value"),
        ("no_gradient", "error", "returned no gradient"),
    ],
)
def test_a_broken_answer_costs_that_case_only(spec, status, words):
    by_case = statuses(spec)
    assert by_case["fake/x=13"][0] == status
    assert words in by_case["fake/x=13"][1]
    assert [by_case[f"fake/x={x}"][0] for x in (1, 2)] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("spec", "status", "words"),
    [
        ("load_raising", "error", "RuntimeError: the fake framework's import failed"),
        ("load_crashing", "crash", "SIGABRT"),
        ("load_hanging", "timeout", "no answer within 10 s"),
    ],
)
def test_a_framework_that_cannot_load_costs_every_case_a_recorded_verdict(spec, status, words):
    started = time.monotonic()
    frameworks, results = run(softplus_cases(), [f"robustness_fakes:{spec}"], timeout=1)
    assert time.monotonic() - started < 60
    assert frameworks[0].unloadable
    assert sorted(r.case.id for r in results) == ["fake/x=1", "fake/x=13", "fake/x=2"]
    assert {str(r.status) for r in results} == {status}
    assert all(words in r.message for r in results), results[0].message


def test_a_complex_answer_is_judged_a_fail_for_value_and_gradient(tmp_path):
    from conformance.pipeline import execute_cases
    from oracle.cache import DiskCache

    report = execute_cases(softplus_cases(), ["robustness_fakes:complex_valued"], cache=DiskCache(tmp_path))
    verdicts = {(r["case"], r["quantity"]): r["verdict"] for r in report["results"]}
    assert verdicts[("fake/x=13", "value")] == verdicts[("fake/x=13", "grad")] == "fail"
    assert verdicts[("fake/x=1", "value")] == "pass"


def test_a_version_of_none_is_reported_as_text():
    frameworks, results = run(softplus_cases()[:1], ["robustness_fakes:version_none"], timeout=5)
    assert frameworks[0].version == "unknown"
    assert [str(r.status) for r in results] == ["ok"]


def test_a_ten_million_element_answer_arrives():
    by_case = {r.case.id: r for r in run(softplus_cases(), ["robustness_fakes:huge"], timeout=60)[1]}
    assert str(by_case["fake/x=13"].status) == "ok"
    assert by_case["fake/x=13"].value.shape == (10_000_000,)


def test_an_answer_over_the_size_limit_is_an_error_not_a_hang(monkeypatch):
    small = dataclasses.replace(limits(), answer_bytes=1 << 20)
    monkeypatch.setattr(workers, "limits", lambda: small)
    by_case = statuses("huge", timeout=60)
    assert by_case["fake/x=13"][0] == "error"
    assert "answer_bytes" in by_case["fake/x=13"][1]
    assert [by_case[f"fake/x={x}"][0] for x in (1, 2)] == ["ok", "ok"]


def test_a_timed_out_worker_takes_its_own_children_with_it(tmp_path):
    by_case = statuses("spawning", timeout=3)
    assert by_case["fake/x=13"][0] == "timeout"
    _worker, _child, group = map(int, (tmp_path / "pids").read_text().split())
    assert group_members(group) == []


def test_a_kill_9_of_the_run_leaves_no_worker_behind(tmp_path):
    """The run is killed while its worker is inside a (hanging) call that has a child of its own."""
    script = (
        "from test_robustness_workers import softplus_cases\n"
        "from conformance.run.runner import run\n"
        "run(softplus_cases(), ['robustness_fakes:spawning'], timeout=600)\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy(), cwd=TESTS.parent)
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker, child, group = map(int, pids.read_text().split())
    assert set(group_members(group)) == {worker, child}
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 10
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(group) == []
