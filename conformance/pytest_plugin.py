"""The pytest plugin: conformance cases as pytest items, with the same verdicts and report.

    pytest --conformance                     # the bundled corpus
    pytest --conformance cases/bce.yaml      # given case files
    pytest --conformance --conformance-framework torch --conformance-dtype float32

Each (case, implementation, dtype, quantity) is one item, with an id such as
``bce/logits/x=-810,z=0[torch.nn.functional.binary_cross_entropy_with_logits-float32-grad]``.
pass and documented pass, xfail is xfail, unsupported is skipped with its reason, and fail,
error, timeout and crash fail with the inputs, the exact value and the error. Frameworks are
imported once per session; at the end the JSON, JUnit and HTML reports are written as by
``conformance run`` (``--conformance-report``, default ``reports/pytest``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import pipeline
from conformance.corpus import cases as case_files
from conformance.report import document as reports
from conformance.report.records import GOOD, Verdict, merge
from conformance.run.devices import DEFAULT_DEVICE, DEVICES
from conformance.run.runner import WorkerPool

BUNDLED_CASES = case_files.BUNDLED_CASES
_STATE = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "loss-conformance cases as tests")
    group.addoption("--conformance", action="store_true", help="collect loss-conformance case files (YAML)")
    group.addoption("--conformance-framework", action="append", default=[], help="adapter to run (default: all)")
    group.addoption("--conformance-dtype", action="append", default=[], help="dtype to run (default: each case's)")
    group.addoption("--conformance-report", default="reports/pytest", help="folder for report.json/html/junit.xml")
    group.addoption(
        "--conformance-tolerance",
        default="strict",
        choices=("strict", "practical"),
        help="tolerance profile, as conformance run --tolerance (default strict)",
    )
    group.addoption(
        "--conformance-device",
        default=DEFAULT_DEVICE,
        choices=DEVICES,
        help="where the frameworks run, as conformance run --device (default cpu)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("conformance"):
        return
    config.stash[_STATE] = {"pool": WorkerPool(), "reports": []}
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


class CaseFileError(Exception):
    pass


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        cases, errors = case_files.load_file(self.path)
        if errors:
            raise CaseFileError("\n".join(str(error) for error in errors))
        state = self.config.stash[_STATE]
        report = pipeline.execute_cases(
            cases,
            self.config.getoption("conformance_framework"),
            self.config.getoption("conformance_dtype"),
            workers=state["pool"],
            profile=self.config.getoption("conformance_tolerance"),
            device=self.config.getoption("conformance_device"),
        )
        state["reports"].append(report)
        for record in report["results"]:
            name = f"{record['case']}[{record['implementation']}-{record['dtype']}-{record['quantity']}]"
            yield ConformanceItem.from_parent(self, name=name, record=record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class ConformanceFailure(Exception):
    pass


class ConformanceItem(pytest.Item):
    def __init__(self, *, record: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record = record

    def runtest(self) -> None:
        verdict = self.record["verdict"]
        if verdict in GOOD:
            return
        if verdict == Verdict.UNSUPPORTED:
            pytest.skip(self.record["message"])
        if verdict == Verdict.XFAIL:
            pytest.xfail(self.record["message"])
        raise ConformanceFailure(verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, ConformanceFailure):
            return str(super().repr_failure(excinfo))
        r = self.record
        return "\n".join(
            [
                f"{r['verdict']}: {r['implementation']} on {r['case']} ({r['dtype']}, {r['quantity']})",
                f"  inputs:   {r['inputs']}",
                f"  exact:    {r['exact']}",
                f"  expected: {r['expected']}",
                f"  actual:   {r['actual']} ({r['returned_dtype']})",
                f"  {r['message']}",
            ]
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


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
    if state["reports"]:
        written = reports.write_all(merge(state["reports"]), Path(config.getoption("conformance_report")))
        config.get_terminal_writer().line(f"conformance reports: {', '.join(map(str, written.values()))}")
