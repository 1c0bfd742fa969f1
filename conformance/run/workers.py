"""The parent side of the workers: start, talk, time out, restart.

One worker process per framework (per Keras backend). A task that raises comes back as
an ``error`` answer; one that outlives its timeout is answered ``timeout`` and the worker
is killed; one that kills the worker (segfault, abort, out of memory) is answered
``crash`` with the signal and the end of its stderr; so is a line that is not the
protocol's (something wrote into the private pipe). An answer larger than
``answer_bytes`` (``data/limits.yaml``) is an ``error``, read in linear time up to there.
Either way the worker is started afresh for the next task, so nothing a framework does
can lose the other results.

Each worker leads its own process group: stopping it kills the group, so a framework's
own child processes go with it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from conformance.corpus.limits import limits

from . import devices
from .devices import DEFAULT_DEVICE
from .standby import Place, Standby, Taken, hold, take

#: One thread per worker: torch's two OpenMP threads make a 12 us call take 660 us here.
SINGLE_THREADED = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONHASHSEED": "0",
}
STARTUP_TIMEOUT = 300.0
#: How long a worker asked to go on standby has to bind its socket and say so.
STANDBY_ANSWER_SECONDS = 10.0


#: Workers this process started that went on standby: still our children, polled (so reaped once
#: they end) and never collected while they run (a running Popen's collection is a ResourceWarning).
_ON_STANDBY: list[subprocess.Popen[bytes]] = []


class WorkerFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class Worker:
    """A running ``python -m conformance.run.worker SPEC``, on ``device`` (see :mod:`.devices`)."""

    def __init__(
        self,
        spec: str,
        environment: dict[str, str] | None = None,
        device: str = DEFAULT_DEVICE,
        standby: Standby | None = None,
    ) -> None:
        self.spec = spec
        self.environment = environment or {}
        self.device = devices.check(device)
        #: Take over a worker on standby if one waits, and leave this one on standby at the end.
        self.standby = standby
        self._process: subprocess.Popen[bytes] | Taken | None = None
        self._place: Place | None = None
        #: Whether :meth:`close` left the worker waiting on standby, or why standby is off.
        self.on_standby = False
        self.standby_problem = ""
        #: Why a standby taken over gave way to a fresh worker (it could not serve this call as one).
        self.gave_way = ""
        self._stderr: IO[bytes] | None = None
        self._buffer = b""
        self.handshake: dict[str, Any] = {}

    def start(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        """Start the worker and wait up to ``timeout`` for its handshake (import and load)."""
        self.launch()
        return self.await_handshake(timeout)

    def launch(self) -> None:
        """Start the process and return at once: the framework imports while the caller works on.
        With ``standby``, a worker waiting on standby is taken over instead, if there is one."""
        _ON_STANDBY[:] = [process for process in _ON_STANDBY if process.poll() is None]  # reaps ended ones
        self.handshake = {}
        self._buffer = b""
        base = self._base_environment()
        if self.standby is not None and self._place is None and not self.standby_problem:
            try:
                self._place = Place.of(f"{self.spec}:{self.standby.name}", base)
            except OSError as problem:  # no private folder for the sockets: no standby, said so
                self.standby_problem = str(problem)
        if self._place is not None:
            self._process = take(self._place, {"environment": self.environment})
            if self._process is not None:
                return
        self._start_fresh({**base, **self.environment})

    def _base_environment(self) -> dict[str, str]:
        """A worker's environment before this worker's own variables (which a standby is sent)."""
        return devices.worker_environment(self.device, {**os.environ, **SINGLE_THREADED})

    def _start_fresh(self, environment: dict[str, str]) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; closed in stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "conformance.run.worker", self.spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=environment,
            cwd=Path.cwd(),
            start_new_session=True,
        )

    def await_handshake(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        """The launched worker's handshake, waited for up to ``timeout``. A standby that cannot
        serve this call (gone, or unable to load the loss a second time) gives way to a fresh worker."""
        if isinstance(self._process, Taken):
            try:
                self.handshake = self._receive(timeout)
            except WorkerFailure:
                self.handshake = {}
            if self.handshake.get("ready"):
                return self.handshake
            self.gave_way = str(self.handshake.get("retry_fresh") or "it did not answer")
            self.stop()
            self._start_fresh({**self._base_environment(), **self.environment})
        self.handshake = self._receive(timeout)
        return self.handshake

    def call(self, task: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.send(encode_task(task))
        return self.receive(timeout)

    def send(self, line: bytes) -> None:
        """Write one task line, (re)starting the worker first if it is not running."""
        if self._process is None or self._process.poll() is not None:
            self.start()
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(line)
            self._process.stdin.flush()
        except (BrokenPipeError, ConnectionResetError):  # a pipe's end, or a standby's socket
            raise self._died() from None

    def send_ahead(self, line: bytes) -> bool:
        """Write a task line behind the one running, only where that cannot block: a line of at
        most PIPE_BUF bytes into a pipe with room (a blocked write while the worker blocks on a
        large answer would hang both). False, and nothing written, otherwise."""
        process = self._process
        if process is None or process.poll() is not None or process.stdin is None or len(line) > select.PIPE_BUF:
            return False
        _, writable, _ = select.select([], [process.stdin], [], 0)
        if not writable:
            return False
        try:
            os.write(process.stdin.fileno(), line)
        except (BrokenPipeError, ConnectionResetError):  # a pipe's end, or a standby's socket
            return False
        return True

    def receive(self, timeout: float) -> dict[str, Any]:
        """The answer to the oldest task sent, waited for up to ``timeout``."""
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        descriptor = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        chunks, size, end = [self._buffer], len(self._buffer), self._buffer.find(b"\n")
        while end < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise WorkerFailure("timeout", f"no answer within {timeout:g} s; the worker was killed")
            if size > limits().answer_bytes:
                self.stop()
                raise WorkerFailure("error", f"an answer over {limits().answer_bytes:,} bytes (answer_bytes)")
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(descriptor, 1 << 20)
            except ConnectionResetError:  # a standby's socket closed under unread data
                chunk = b""
            if not chunk:
                raise self._died()
            # Only the new chunk is searched: rescanning the buffer made an 80 MB answer quadratic.
            newline = chunk.find(b"\n")
            end = size + newline if newline >= 0 else -1
            chunks.append(chunk)
            size += len(chunk)
        buffer = b"".join(chunks)
        line, self._buffer = buffer[:end], buffer[end + 1 :]
        return self._parse(line)

    def _parse(self, line: bytes) -> dict[str, Any]:
        """One protocol line; anything else means the pipe was written by someone else."""
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.stop()
            shown = line[:200].decode(errors="replace")
            raise WorkerFailure("crash", f"the worker wrote a line that is not the protocol's: {shown!r}")
        return answer

    def _died(self) -> WorkerFailure:
        assert self._process is not None
        if isinstance(self._process, Taken):  # not our child: its exit status is not ours to read
            reason = f"(on standby, pid {self._process.pid}) ended"
        else:
            code = self._process.wait()
            reason = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        tail = self._stderr_tail()
        self.stop()
        return WorkerFailure("crash", f"the worker {reason}" + (f"; its stderr ended with: {tail}" if tail else ""))

    def _stderr_tail(self, limit: int = 600) -> str:
        if isinstance(self._process, Taken):
            try:
                with self._process.log.open("rb") as log:
                    return _tail(log, limit)
            except OSError:
                return ""
        return "" if self._stderr is None else _tail(self._stderr, limit)

    def close(self, finished: bool = True) -> None:
        """The caller is done: a worker asked to stay on standby does, if the call ``finished``
        (an interrupted call may have left it inside a task); any other is stopped."""
        process = self._process
        if isinstance(process, Taken) and finished:
            process.release()  # it goes back to waiting for the next call
            self._process = None
            self.on_standby = True
        elif not (finished and isinstance(process, subprocess.Popen) and self._place is not None and self._hand_over()):
            self.stop()

    def _hand_over(self) -> bool:
        """Ask the running worker to wait on standby; True once it does (it is then on its own)."""
        process, place = self._process, self._place
        assert self.standby is not None and isinstance(process, subprocess.Popen) and place is not None
        if not self.handshake.get("ready") or process.poll() is not None:
            return False
        lock = hold(place)
        if lock is None:  # another call holds the standby there
            return False
        with lock:
            request = {"socket": str(place.socket), "lock": str(place.lock), "log": str(place.log)}
            try:
                self.send(encode_task({"standby": {**request, "idle_seconds": self.standby.idle_seconds}}))
                answer = self._receive(STANDBY_ANSWER_SECONDS)
            except WorkerFailure:
                return False
        if not answer.get("standing_by"):
            return False
        _close_pipes(process)
        _ON_STANDBY.append(process)
        self.on_standby = True
        self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return True

    def stop(self) -> None:
        process = self._process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the worker (a standby too leads its group), its children
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            if isinstance(process, Taken):
                process.release()
            else:
                process.wait()
                _close_pipes(process)
            self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _tail(stream: IO[bytes], limit: int) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - limit))
    return stream.read().decode(errors="replace").strip().replace("\n", " | ")


@contextlib.contextmanager
def started(spec: str) -> Iterator[Worker]:
    worker = Worker(spec)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()


def encode_task(task: dict[str, Any]) -> bytes:
    return (json.dumps(task) + "\n").encode()


def run_tasks(
    worker: Worker,
    tasks: Iterable[dict[str, Any]],
    timeout: float,
    progress: Callable[[], None] | None = None,
    record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Answer every task; a timeout or crash costs that one task and a restart.

    The next small task is written while the worker runs the current one, so the worker never
    waits for the parent to take in an answer (``record`` judges it, in the gate). A worker
    that dies or is killed loses what was written ahead: it is sent again to the new one.
    ``record`` sees each answer as soon as it is in (the results journal).
    """
    answers = []
    waiting = collections.deque((task, encode_task(task)) for task in tasks)
    sent: collections.deque[tuple[dict[str, Any], bytes]] = collections.deque()
    while waiting or sent:
        answer = None
        if not sent:
            task, line = waiting.popleft()
            try:
                worker.send(line)
                sent.append((task, line))
            except WorkerFailure as failure:
                answer = {"task": task["task"], "status": failure.kind, "message": failure.message}
        if answer is None:
            if waiting and worker.send_ahead(waiting[0][1]):
                sent.append(waiting.popleft())
            task, _ = sent.popleft()
            try:
                answer = worker.receive(timeout)
            except WorkerFailure as failure:
                answer = {"task": task["task"], "status": failure.kind, "message": failure.message}
                waiting.extendleft(reversed(sent))  # written to the worker that is gone
                sent.clear()
        answers.append(answer)
        if record is not None:
            record(answer)
        if progress is not None:
            progress()
    return answers
