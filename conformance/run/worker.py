"""The worker process: one framework, imported once, running cases one at a time.

Started as ``python -m conformance.run.worker SPEC`` by :mod:`conformance.run.workers`, where SPEC
is an adapter's entry-point name or ``module:factory``. It speaks JSON lines on a private
copy of stdout; the real stdout is pointed at stderr first, so a framework that prints
cannot corrupt the protocol. A case that raises is answered with its message; a case
that kills the process or hangs is the parent's to record.

The worker leads its own process group (the parent starts it in a new session) and a
watchdog thread kills that whole group, the framework's own children included, as soon as
the parent is gone: a ``kill -9`` of the run leaves no worker behind, even one stuck inside
a framework call (unless that call holds the GIL; the parent's pipes closing then ends it
at its next read).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from conformance.adapters import resolve
from conformance.adapters.base import Adapter, declaration_problems

from . import devices, wire
from .devices import DeviceUnavailable


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _answer(adapter: Adapter, table: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    implementation = table[task["implementation"]]
    inputs = {name: wire.decode(payload) for name, payload in task["inputs"].items()}
    try:
        outcome = adapter.run(implementation, wire.decode_params(task["params"]), inputs, task["dtype"])
    except Exception as error:  # a framework's exception is a verdict, not a worker failure
        message = f"{type(error).__name__}: {error}".strip()
        return {"status": "error", "message": message[:2000], "trace": traceback.format_exc(limit=4)[-2000:]}
    answer: dict[str, Any] = {
        "status": "ok",
        "value": wire.encode(outcome.value),
        "value_dtype": outcome.value_dtype,
    }
    if outcome.grad is not None:
        answer["grad"] = wire.encode(outcome.grad)
        answer["grad_dtype"] = outcome.grad_dtype
    return answer


PARENT_POLL_SECONDS = 0.5


def _die_with_parent() -> None:
    """Kill this worker's process group once its parent has gone (it is re-parented)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        # Only a group of our own: a worker started by hand shares its shell's group.
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _handshake(adapter: Adapter, table: dict[str, Any], natives: dict[str, Any], started: float) -> dict[str, Any]:
    version = adapter.version()
    handshake = {
        "ready": True,
        "name": str(adapter.name),
        # A None or non-string version must not reach the report as anything but text.
        "version": "unknown" if version is None else str(version),
        "implementations": [implementation.describe() for implementation in table.values()],
        "load_seconds": time.perf_counter() - started,
    }
    if natives:
        handshake["natives"] = [implementation.describe() for implementation in natives.values()]
    return handshake


def _natives(adapter: Adapter) -> dict[str, Any]:
    """The framework's own implementations that an adapter of a user's loss also offers, so the
    gate runs them in this worker rather than importing the framework a second time."""
    offered = getattr(adapter, "natives", None)
    return {implementation.name: implementation for implementation in offered()} if callable(offered) else {}


def main(spec: str) -> int:
    _die_with_parent()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    started = time.perf_counter()
    try:
        adapter = resolve(spec)
        adapter.load()
    except DeviceUnavailable as error:
        _send(channel, {"ready": False, "reason": f"not available on {devices.requested()}: {error}"})
        return 0
    except ImportError as error:
        _send(channel, {"ready": False, "reason": f"not installed: {error}"})
        return 0
    except Exception as error:  # a bad adapter spec or a custom loss that cannot be loaded
        _send(channel, {"ready": False, "reason": f"cannot load: {type(error).__name__}: {error}", "unloadable": True})
        return 0
    try:
        table = {implementation.name: implementation for implementation in adapter.implementations()}
        natives = {name: native for name, native in _natives(adapter).items() if name not in table}
        problems = [problem for implementation in table.values() for problem in declaration_problems(implementation)]
        handshake = _handshake(adapter, table, natives, started)
        table.update(natives)
    except Exception as error:  # an adapter whose declarations raise is as broken as one that cannot load
        _send(channel, {"ready": False, "reason": f"cannot load: {type(error).__name__}: {error}", "unloadable": True})
        return 0
    if problems:
        _send(channel, {"ready": False, "reason": "invalid adapter: " + "; ".join(problems), "unloadable": True})
        return 0
    _send(channel, handshake)
    for line in sys.stdin:
        task = json.loads(line)
        started = time.perf_counter()
        answer = _answer(adapter, table, task)
        _send(channel, {"task": task["task"], "seconds": time.perf_counter() - started, **answer})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
