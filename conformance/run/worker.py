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
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, TextIO

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


def _die_with_parent() -> threading.Event:
    """Kill this worker's process group once its parent has gone (it is re-parented), unless
    the returned event is set first: a worker going on standby outlives its parent by design."""
    parent = os.getppid()
    detached = threading.Event()

    def watch() -> None:
        while os.getppid() == parent:
            if detached.wait(PARENT_POLL_SECONDS):
                return
        if detached.is_set():
            return
        # Only a group of our own: a worker started by hand shares its shell's group.
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    return detached


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


def _load(spec: str) -> tuple[dict[str, Any], Adapter | None, dict[str, Any]]:
    """(the handshake, the adapter, its implementations by name); the adapter is None, and the
    handshake says why (``ready: false``), when it cannot serve."""
    started = time.perf_counter()
    try:
        adapter = resolve(spec)
        adapter.load()
    except DeviceUnavailable as error:
        return {"ready": False, "reason": f"not available on {devices.requested()}: {error}"}, None, {}
    except ImportError as error:
        return {"ready": False, "reason": f"not installed: {error}"}, None, {}
    except Exception as error:  # a bad adapter spec or a custom loss that cannot be loaded
        return _unloadable(f"cannot load: {type(error).__name__}: {error}")
    try:
        table = {implementation.name: implementation for implementation in adapter.implementations()}
        natives = {name: native for name, native in _natives(adapter).items() if name not in table}
        problems = [problem for implementation in table.values() for problem in declaration_problems(implementation)]
        handshake = _handshake(adapter, table, natives, started)
        table.update(natives)
    except Exception as error:  # an adapter whose declarations raise is as broken as one that cannot load
        return _unloadable(f"cannot load: {type(error).__name__}: {error}")
    if problems:
        return _unloadable("invalid adapter: " + "; ".join(problems))
    return handshake, adapter, table


def _unloadable(reason: str) -> tuple[dict[str, Any], None, dict[str, Any]]:
    return {"ready": False, "reason": reason, "unloadable": True}, None, {}


def _serve(adapter: Adapter, table: dict[str, Any], lines: Iterable[str | bytes], channel: TextIO) -> Any:
    """Answer each task line; returns a ``standby`` request if the parent sends one, else None
    when the lines end."""
    for line in lines:
        task = json.loads(line)
        if "standby" in task:
            return task["standby"]
        started = time.perf_counter()
        answer = _answer(adapter, table, task)
        _send(channel, {"task": task["task"], "seconds": time.perf_counter() - started, **answer})
    return None


def main(spec: str) -> int:
    detached = _die_with_parent()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    handshake, adapter, table = _load(spec)
    _send(channel, handshake)
    if adapter is None:
        return 0
    request = _serve(adapter, table, sys.stdin, channel)
    if request is not None:
        _stand_by(spec, request, channel, detached)
    return 0


def _stand_by(spec: str, request: dict[str, Any], channel: TextIO, detached: threading.Event) -> None:
    """Wait on the standby's socket for the next gate call (see :mod:`.standby`), then serve it
    with the user's modules imported afresh; exit after the idle time."""
    from . import standby

    place = standby.Place(Path(request["socket"]), Path(request["lock"]), Path(request["log"]))
    server = standby.listen(place)
    if server is None:  # another worker already waits there
        _send(channel, {"standing_by": False})
        return
    server.settimeout(float(request["idle_seconds"]))
    detached.set()
    log = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    for descriptor in (1, 2):  # the parent's stderr file goes with the parent
        os.dup2(log, descriptor)
    os.close(log)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    _send(channel, {"standing_by": True})
    channel.close()
    installed = standby.installed_files()

    def take_over(lines: IO[bytes], calls: TextIO, call: dict[str, Any]) -> bool:
        nonlocal installed
        os.ftruncate(2, 0)  # the log holds this call's stderr only
        stale = standby.stale(installed, standby.drop_user_modules())
        if stale:
            _send(calls, {"ready": False, "retry_fresh": stale})
            return False
        os.environ.update(call["environment"])
        handshake, adapter, table = _load(spec)
        if adapter is None:  # perhaps only because it was loaded here before: a fresh worker says
            _send(calls, {"ready": False, "retry_fresh": handshake.get("reason", "")})
            return False
        _send(calls, {**handshake, "standby": True})
        with standby.ended_with(lines):  # the call gone mid-task (killed, interrupted): so is this worker
            served = _serve(adapter, table, lines, calls) is None
        installed = standby.installed_files()
        return served

    try:
        standby.wait(server, take_over)
    finally:
        server.close()
        place.socket.unlink(missing_ok=True)
        place.log.unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
