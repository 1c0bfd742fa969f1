"""The pytest plugin: conformance cases as pytest items, with the same verdicts and report.

    pytest --conformance                     # the bundled corpus
    pytest --conformance cases/bce.yaml      # given case files
    pytest --conformance --conformance-framework torch --conformance-dtype float32

Each (case, implementation, dtype, quantity) is one item, with an id such as
``bce/logits/x=-810,z=0[torch.nn.functional.binary_cross_entropy_with_logits-float32-grad]``.
pass and documented pass, xfail is xfail, unsupported is skipped with its reason, and fail,
error, timeout and crash fail with the inputs, the exact value and the error; every outcome
is located at the case's line in its YAML file. A framework that cannot run is one skipped
item per file, with the reason. At the end the JSON, JUnit and HTML reports are written as by
``conformance run`` (``--conformance-report``, default ``reports/pytest``).

Selecting: ``-k`` cannot spell ``=``, ``,``, spaces or parentheses, so every item also answers
to its op, framework, dtype, quantity and its case id with each of those characters written
``_`` (``-k "bce/logits/x_-810_z_0 and torch and float32"``). For exact matches, each item
carries the marker ``conformance(case=..., op=..., framework=..., implementation=..., dtype=...,
quantity=...)``: ``-m "conformance(framework='torch', dtype='float32')"``.

Collection plans the items without running anything: the frameworks' workers start (to learn
their implementations), but no framework call is made and no oracle value computed, so
``--collect-only`` is quick and writes no report. A case file runs when its first selected item
does, and only the cases and frameworks of its selected items.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import pipeline
from conformance.corpus import cases as case_files
from conformance.corpus.cases import Case
from conformance.judge.scoring import DEFAULT_PROFILE, PROFILES
from conformance.report import document as reports
from conformance.report.records import GOOD, QUANTITIES, ResultRecord, Verdict, merge
from conformance.run.devices import DEFAULT_DEVICE, DEVICES
from conformance.run.runner import Framework, WorkerPool, adapter_specs, connect, materialize_all, plan
from oracle.formats import DTYPES

BUNDLED_CASES = case_files.BUNDLED_CASES
_STATE = pytest.StashKey[dict[str, Any]]()
#: What ``-k`` cannot spell (its identifiers are ``[\w:+\-.\[\]\\/]+``), written ``_`` in the alias.
_NOT_IN_K = re.compile(r"[^\w:+\-.\[\]\\/]")
Key = tuple[str, str, str, str]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "loss-conformance cases as tests")
    group.addoption("--conformance", action="store_true", help="collect loss-conformance case files (YAML)")
    group.addoption("--conformance-framework", action="append", default=[], help="adapter to run (default: all)")
    group.addoption(
        "--conformance-dtype", action="append", default=[], choices=DTYPES, help="dtype to run (default: each case's)"
    )
    group.addoption("--conformance-report", default="reports/pytest", help="folder for report.json/html/junit.xml")
    group.addoption(
        "--conformance-tolerance",
        default=DEFAULT_PROFILE,
        choices=PROFILES,
        help="tolerance profile, as conformance run --tolerance (default strict)",
    )
    group.addoption(
        "--conformance-device",
        default=DEFAULT_DEVICE,
        choices=DEVICES,
        help="where the frameworks run, as conformance run --device (default cpu)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "conformance(case, op, framework, implementation, dtype, quantity): a loss-conformance result; "
        "select with -m \"conformance(framework='torch')\"",
    )
    if not config.getoption("conformance"):
        return
    try:
        specs = adapter_specs(config.getoption("conformance_framework"))
    except LookupError as problem:
        raise pytest.UsageError(f"--conformance-framework: {problem}") from None
    config.stash[_STATE] = {"pool": WorkerPool(), "reports": [], "specs": specs, "frameworks": None}
    if not any(_holds_cases(Path(str(arg))) for arg in config.args):
        config.args[:] = [str(BUNDLED_CASES)]


def _holds_cases(path: Path) -> bool:
    """A case file, or a folder with one: otherwise ``pytest --conformance`` means the bundled corpus."""
    if path.is_dir():
        return any(path.rglob("*.yaml"))
    return path.suffix in (".yaml", ".yml")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if parent.config.getoption("conformance") and file_path.suffix in (".yaml", ".yml"):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def _frameworks(config: pytest.Config) -> list[Framework]:
    """Every selected framework's handshake, once per session (two workers start at a time)."""
    state = config.stash[_STATE]
    if state["frameworks"] is None:
        device = config.getoption("conformance_device")
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as threads:
            found = threads.map(lambda spec: connect(spec, state["pool"], None, device)[0], state["specs"])
            state["frameworks"] = list(found)
    frameworks: list[Framework] = state["frameworks"]
    return frameworks


class CaseFileError(Exception):
    pass


class CaseFile(pytest.File):
    cases: dict[str, Case]
    records: dict[Key, ResultRecord] | None = None

    def collect(self) -> Iterator[pytest.Item]:
        loaded, errors = case_files.load_file(self.path)
        if errors:
            raise CaseFileError("\n".join(str(error) for error in errors))
        self.cases = {case.id: case for case in loaded}
        inputs = materialize_all(loaded, self.config.getoption("conformance_dtype"))
        for framework in _frameworks(self.config):
            planned, _ = plan(framework, loaded, inputs)
            if framework.skipped and not planned:
                yield SkippedFramework.from_parent(self, name=f"[{framework.spec}]", framework=framework)
            for raw in planned:
                for quantity in QUANTITIES:
                    key = (raw.case.id, raw.implementation["name"], raw.dtype, quantity)
                    yield ConformanceItem.from_parent(
                        self, name=f"{key[0]}[{key[1]}-{key[2]}-{key[3]}]", key=key, spec=framework.spec
                    )

    def results(self) -> dict[Key, ResultRecord]:
        """Run this file's selected items' cases on their frameworks, once; the records by key."""
        if self.records is None:
            state = self.config.stash[_STATE]
            chosen = [item for item in self.session.items if item.parent is self]
            dtypes: dict[str, set[str]] = {}
            for item in chosen:
                if isinstance(item, ConformanceItem):
                    dtypes.setdefault(item.key[0], set()).add(item.key[2])
            specs = sorted({item.spec for item in chosen if isinstance(item, ConformanceItem | SkippedFramework)})
            selected = [
                dataclasses.replace(case, dtypes=tuple(d for d in case.dtypes if d in dtypes[case.id]))
                for case in self.cases.values()
                if case.id in dtypes
            ]
            report = pipeline.execute_cases(
                selected,
                specs,
                self.config.getoption("conformance_dtype"),
                workers=state["pool"],
                profile=self.config.getoption("conformance_tolerance"),
                device=self.config.getoption("conformance_device"),
            )
            state["reports"].append(report)
            self.records = {(r["case"], r["implementation"], r["dtype"], r["quantity"]): r for r in report["results"]}
        return self.records

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class ConformanceFailure(Exception):
    pass


class _Located(pytest.Item):
    """An item whose every outcome points at a line of its case file."""

    line = 0

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.line - 1, 0), self.name  # pytest counts lines from 0 here

    def skip_here(self, reason: str) -> None:
        # _use_item_location: the skip is reported at reportinfo() (the YAML line), not at this
        # line of the plugin; it is how pytest's own skip marks do it (_pytest/skipping.py).
        raise pytest.skip.Exception(reason, _use_item_location=True)


class SkippedFramework(_Located):
    """A framework that cannot run here: one skip per case file, saying why (never a silent gap)."""

    def __init__(self, *, framework: Framework, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec, self.reason = framework.spec, framework.skipped

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, CaseFile)
        parent.results()  # the run records the skip in the report's environment
        self.skip_here(f"{self.spec}: {self.reason}")


class ConformanceItem(_Located):
    def __init__(self, *, key: Key, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key, self.spec = key, spec
        assert isinstance(self.parent, CaseFile)
        case = self.parent.cases[key[0]]
        self.line = case.line
        case_id, implementation, dtype, quantity = key
        aliases = {_NOT_IN_K.sub("_", case_id), _NOT_IN_K.sub("_", implementation)}
        self.extra_keyword_matches.update({*aliases, case.op, spec, dtype, quantity})
        self.add_marker(
            pytest.mark.conformance(
                case=case_id, op=case.op, framework=spec, implementation=implementation, dtype=dtype, quantity=quantity
            )
        )

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, CaseFile)
        record = parent.results().get(self.key)
        if record is None:
            raise ConformanceFailure("no result: the run did not produce the planned result")
        self.record = record
        verdict = record["verdict"]
        if verdict in GOOD:
            return
        if verdict == Verdict.UNSUPPORTED:
            self.skip_here(record["message"])
        if verdict == Verdict.XFAIL:
            pytest.xfail(record["message"])
        raise ConformanceFailure(verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, ConformanceFailure):
            return str(super().repr_failure(excinfo))
        where = f"{self.location[0]}:{self.line}"
        record = getattr(self, "record", None)
        if record is None:
            return f"{where}: case {self.key[0]!r}: {excinfo.value}"
        r = record
        return "\n".join(
            [
                f"{where}: {r['verdict']}: {r['implementation']} on {r['case']} ({r['dtype']}, {r['quantity']})",
                f"  inputs:   {r['inputs']}",
                f"  exact:    {r['exact']}",
                f"  expected: {r['expected']}",
                f"  actual:   {r['actual']} ({r['returned_dtype']})",
                f"  {r['message']}",
            ]
        )


@pytest.fixture
def conformance_check() -> Any:
    """``conformance.check_loss``, as a fixture: ``conformance_check(my_loss, op=..., framework=...).assert_ok()``."""
    from conformance import check_loss

    return check_loss


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    state["pool"].close()
    parts: Sequence[Any] = state["reports"]
    if parts:
        written = reports.write_all(merge(parts), Path(config.getoption("conformance_report")))
        config.get_terminal_writer().line(f"conformance reports: {', '.join(map(str, written.values()))}")
