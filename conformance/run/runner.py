"""Run cases on real frameworks: plan, dispatch to workers, collect raw outcomes.

Scoring is not done here (see :mod:`conformance.judge.scoring`): a raw result is what the
framework returned, or why it returned nothing (error, timeout, crash, unsupported).
A framework that cannot start (its import raises, crashes or outlives ``--timeout``) costs
every one of its cases that error, crash or timeout: it is never a silent skip, which is
kept for a framework that is not installed.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from conformance.adapters.base import ENTRY_POINT_GROUP
from conformance.corpus.cases import Case

from . import wire
from .devices import DEFAULT_DEVICE
from .journal import Journal, task_key
from .plan import assign
from .progress import Tracker
from .standby import Standby
from .wire import Status
from .workers import Worker, WorkerFailure, run_tasks

DEFAULT_TIMEOUT = 60.0
#: The least a worker gets to start (an interpreter, NumPy, the adapter's import): on a busy
#: machine a bare start takes seconds, and a small ``--timeout`` is meant for calls.
MIN_STARTUP_TIMEOUT = 10.0


@dataclass
class RawResult:
    case: Case
    dtype: str
    framework: str
    implementation: dict[str, Any]
    status: Status
    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    value: np.ndarray | None = None
    value_dtype: str | None = None
    grad: np.ndarray | None = None
    grad_dtype: str | None = None
    message: str = ""


@dataclass
class Framework:
    spec: str
    name: str = ""
    version: str = ""
    implementations: list[dict[str, Any]] = field(default_factory=list)
    skipped: str = ""
    #: Seconds the worker spent importing the framework, and inside framework calls.
    load_seconds: float = 0.0
    call_seconds: float = 0.0
    #: The adapter itself could not be loaded (a custom loss with a bad import path, say).
    unloadable: bool = False
    #: What each of its cases records when it could not be loaded: error, crash or timeout.
    failure: Status = Status.ERROR


def adapter_specs(selected: Sequence[str] = ()) -> list[str]:
    """Entry-point names of the installed adapters (all, or those ``selected``)."""
    names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    if not selected:
        return names
    chosen = []
    for name in selected:
        if ":" in name or name in names:
            chosen.append(name)
        else:
            matches = [n for n in names if n == name or n.startswith(f"{name}-")]
            if not matches:
                raise LookupError(f"no adapter {name!r}; installed: {', '.join(names)}")
            chosen.extend(matches)
    return chosen


Materialized = dict[tuple[str, str], tuple[dict[str, Any], dict[str, np.ndarray]]]


def materialize_all(cases: Iterable[Case], dtypes: Sequence[str] = ()) -> Materialized:
    table: Materialized = {}
    for case in cases:
        for dtype in case.dtypes:
            if not dtypes or dtype in dtypes:
                table[(case.id, dtype)] = case.materialize(dtype)
    return table


class WorkerPool:
    """Workers kept alive between runs, so a framework is imported once per session
    (the pytest plugin runs one case file at a time), one per (adapter, device)."""

    def __init__(self) -> None:
        self.workers: dict[tuple[str, str], Worker] = {}

    def launch(
        self,
        spec: str,
        environment: dict[str, str] | None = None,
        device: str = DEFAULT_DEVICE,
        standby: Standby | None = None,
    ) -> Worker:
        """Start ``spec``'s worker now without waiting for it: its import overlaps the caller's
        own work (the gate loads its cases meanwhile); :meth:`acquire` then waits for it.
        With ``standby``, one waiting from an earlier call is taken over (see :mod:`.standby`)."""
        if (spec, device) not in self.workers:
            worker = Worker(spec, environment, device, standby)
            worker.launch()
            self.workers[(spec, device)] = worker
        return self.workers[(spec, device)]

    def acquire(self, spec: str, device: str = DEFAULT_DEVICE, timeout: float | None = None) -> Worker:
        worker = self.launch(spec, device=device)
        if not worker.handshake:
            try:
                worker.await_handshake(*(() if timeout is None else (timeout,)))
            except WorkerFailure:
                del self.workers[(spec, device)]
                raise
        return worker

    def close(self, finished: bool = True) -> None:
        """Stop the workers, or leave those asked to on standby where the caller ``finished``."""
        for worker in self.workers.values():
            worker.close(finished)
        self.workers.clear()


def connect(
    spec: str,
    pool: WorkerPool | None = None,
    environment: dict[str, str] | None = None,
    device: str = DEFAULT_DEVICE,
    timeout: float = DEFAULT_TIMEOUT,
    roster: str = "implementations",
) -> tuple[Framework, Worker | None]:
    """Start (or reuse, from ``pool``) the framework's worker and read its handshake.

    The worker is None when it could not start; ``framework.skipped`` then says why, as it does
    for a framework that is not installed, not reachable on ``device``, or cannot be loaded.
    ``roster`` is the handshake's list of implementations to plan from: ``natives`` are the
    framework's own, which a worker of a user's loss also runs (see :mod:`conformance.gate`)."""
    framework = Framework(spec)
    try:
        if pool is not None:
            worker = pool.acquire(spec, device, max(timeout, MIN_STARTUP_TIMEOUT))
        else:
            worker = Worker(spec, environment, device)
            worker.start(max(timeout, MIN_STARTUP_TIMEOUT))
    except WorkerFailure as failure:
        framework.skipped = f"worker failed to start: {failure.message}"
        framework.unloadable = True
        framework.failure = Status(failure.kind)
        return framework, None
    handshake = worker.handshake
    if not handshake.get("ready"):
        framework.skipped = str(handshake.get("reason", "not available"))
        framework.unloadable = bool(handshake.get("unloadable"))
    else:
        framework.name, framework.version = handshake["name"], handshake["version"]
        framework.implementations = handshake.get(roster, [])
        framework.load_seconds = float(handshake.get("load_seconds", 0.0))
    return framework, worker


def plan(
    framework: Framework, cases: Sequence[Case], inputs: Materialized
) -> tuple[list[RawResult], list[dict[str, Any]]]:
    """The results a run of ``framework`` will have, before any call: one per case, dtype and
    implementation that applies (``unsupported`` ones already decided), and the tasks that fill
    the others. The pytest plugin collects its items from this, so ``--collect-only`` calls nothing."""
    if framework.skipped:
        # Not installed is a skip; installed but broken costs every case an error, not silence.
        return (_load_errors(framework, cases, inputs, framework.failure) if framework.unloadable else []), []
    results: list[RawResult] = []
    tasks: list[dict[str, Any]] = []
    for case in cases:
        for dtype in case.dtypes:
            if (case.id, dtype) not in inputs:
                continue
            params, arrays = inputs[(case.id, dtype)]
            op = case.definition
            ndim = arrays[op.prediction].ndim
            for assignment in assign(op, params, framework.implementations, framework.name, dtype, ndim):
                result = RawResult(
                    case, dtype, framework.name, dict(assignment.implementation), Status.UNSUPPORTED, params, arrays
                )
                results.append(result)
                if assignment.unsupported is not None:
                    result.message = assignment.unsupported
                    continue
                if not assignment.implementation.get("gradient", True):
                    result.grad_dtype = None
                tasks.append(
                    {
                        "task": len(results) - 1,
                        "implementation": assignment.implementation["name"],
                        "params": wire.encode_params(params),
                        "inputs": {name: wire.encode(array) for name, array in arrays.items()},
                        "dtype": dtype,
                    }
                )
    return results, tasks


def run_framework(
    spec: str,
    cases: Sequence[Case],
    inputs: Materialized,
    timeout: float,
    progress: Tracker | None = None,
    pool: WorkerPool | None = None,
    environment: dict[str, str] | None = None,
    device: str = DEFAULT_DEVICE,
    journal: Journal | None = None,
    roster: str = "implementations",
    on_result: Callable[[RawResult], None] | None = None,
) -> tuple[Framework, list[RawResult]]:
    """Every (case, dtype, implementation) of one framework; calls in ``journal`` are not redone.
    ``on_result`` sees each called result as soon as its answer is in."""
    if progress is not None:
        progress.starting(spec)
    framework, worker = connect(spec, pool, environment, device, timeout, roster)
    try:
        results, tasks = plan(framework, cases, inputs)
        if framework.skipped:
            if progress is not None:
                progress.end(spec, f"{'cannot load' if framework.unloadable else 'skipped'}: {framework.skipped}")
            return framework, results
        assert worker is not None
        if progress is not None:
            progress.begin(spec, len(tasks))
        step = None if progress is None else lambda: progress.step(spec)
        keys: dict[int, str] = {}
        pending = []
        for task in tasks:
            known = None
            if journal is not None:
                keys[task["task"]] = task_key(spec, framework.version, device, task)
                known = journal.lookup(keys[task["task"]])
            if known is None:
                pending.append(task)
                continue
            framework.call_seconds += float(known.get("seconds", 0.0))
            _absorb(results[task["task"]], known)
            if step is not None:
                step()

        def record(answer: dict[str, Any]) -> None:
            if journal is not None:
                journal.record(keys[answer["task"]], answer)
            framework.call_seconds += float(answer.get("seconds", 0.0))
            _absorb(results[answer["task"]], answer)
            if on_result is not None:
                on_result(results[answer["task"]])

        run_tasks(worker, pending, timeout, step, record)
        if progress is not None:
            progress.end(spec)
        return framework, results
    finally:
        if pool is None and worker is not None:
            worker.stop()


def _load_errors(
    framework: Framework, cases: Sequence[Case], inputs: Materialized, status: Status = Status.ERROR
) -> list[RawResult]:
    """One ``status`` per (case, dtype) for a framework whose adapter could not be loaded."""
    errors = []
    for case in cases:
        for dtype in case.dtypes:
            if (case.id, dtype) in inputs:
                params, arrays = inputs[(case.id, dtype)]
                implementation = {"name": f"{framework.spec}:(load)", "op": case.op, "semantics": [], "doc": ""}
                errors.append(
                    RawResult(
                        case,
                        dtype,
                        framework.spec,
                        implementation,
                        status,
                        params,
                        arrays,
                        message=framework.skipped,
                    )
                )
    return errors


def _absorb(result: RawResult, answer: dict[str, Any]) -> None:
    result.status = Status(answer["status"])
    result.message = answer.get("message", "")
    if result.status == Status.OK:
        result.value = wire.decode(answer["value"])
        result.value_dtype = answer["value_dtype"]
        if "grad" in answer:
            result.grad = wire.decode(answer["grad"])
            result.grad_dtype = answer["grad_dtype"]
        elif result.implementation.get("gradient", True):
            _broken(result, "returned no gradient, though its implementation declares one")
        for quantity in ("value", "grad"):
            array = getattr(result, quantity)
            if array is not None and np.iscomplexobj(array):
                if np.any(array.imag != 0):
                    shown = array.ravel()[:4].tolist()
                    _broken(result, f"returned a complex {quantity} (a loss is real): {shown}", Status.FAIL)
                    return
                setattr(result, quantity, array.real.copy())


def _broken(result: RawResult, message: str, status: Status = Status.ERROR) -> None:
    """An answer that breaks the adapter contract (or is wrong on its face), with what came back."""
    result.status, result.message = status, message
    result.value = result.grad = None


def run(
    cases: Sequence[Case],
    specs: Sequence[str],
    dtypes: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = 2,
    progress: Tracker | None = None,
    workers: WorkerPool | None = None,
    device: str = DEFAULT_DEVICE,
) -> tuple[list[Framework], list[RawResult]]:
    """Run every case on every adapter, ``parallel`` workers at a time, on ``device``."""
    inputs = materialize_all(cases, dtypes)
    frameworks: list[Framework] = []
    results: list[RawResult] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [
            pool.submit(run_framework, spec, cases, inputs, timeout, progress, workers, None, device) for spec in specs
        ]
        for future in futures:
            framework, framework_results = future.result()
            frameworks.append(framework)
            results.extend(framework_results)
    return frameworks, results
