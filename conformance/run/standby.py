"""Standby workers: a gate's worker kept between calls, its framework imported and its kernels compiled.

A gate call pays for the framework's import (TensorFlow 5-6 s on a 2-core machine) and, in JAX,
for compiling every primitive of an un-jitted loss per shape and dtype. Someone editing a loss
and gating it again pays that every time. With ``--standby MINUTES`` (or
``LOSS_CONFORMANCE_STANDBY=MINUTES``) the worker does not end with the call: it waits on a Unix
socket, and the next gate call of the same framework, from the same directory, interpreter,
environment and suite version, takes it over. It exits after that many idle minutes.

What a taken-over worker keeps and what it does not:

- Kept: the framework and every installed package (imported once), their caches (JAX's compiled
  primitives, TensorFlow's kernels). These are caches: keyed by everything that changes an answer.
- Not kept: the user's own code. Every module whose file lies outside the interpreter's installed
  packages (and outside this suite) is dropped before the new call imports its loss afresh.
- A loss that cannot be loaded a second time in the same process (a TensorFlow gradient or a
  torch.library op registered under a fixed name at import) is answered ``retry fresh``: the
  standby exits and the gate starts a new worker, so a standby never changes a result.
- Global settings a previous loss changed and the next one does not set (``torch.set_default_dtype``
  at import, say) do persist: the price of a warm process, stated in the README.

Only the user who started a standby can use it: its folder is private (0700) and the worker
checks the caller's uid (``SO_PEERCRED``) before it reads a request. One call uses a standby at a
time (an exclusive lock); a second concurrent call gets a fresh worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import signal
import socket
import struct
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

#: Environment variable: minutes a gate's worker stays on standby (0 or unset: it ends with the call).
MINUTES_VARIABLE = "LOSS_CONFORMANCE_STANDBY"
#: Variables a shell changes between two commands without changing what a worker computes.
VOLATILE = frozenset({"_", "OLDPWD", "SHLVL", "PWD"})
#: The packages of this suite: a standby's code, never dropped as the user's.
OWN_PACKAGES = ("conformance", "oracle")


def minutes(option: float | None) -> float:
    """The standby time asked for: the option, else the environment variable, else 0 (off)."""
    if option is not None:
        return max(0.0, option)
    text = os.environ.get(MINUTES_VARIABLE, "").strip()
    try:
        return max(0.0, float(text)) if text else 0.0
    except ValueError:
        raise ValueError(f"{MINUTES_VARIABLE}={text!r} is not a number of minutes") from None


#: A Unix socket's path holds at most 107 bytes; a standby's is its folder plus 30.
LONGEST_FOLDER = 76


def folder() -> Path:
    """A private folder for the sockets: under $XDG_RUNTIME_DIR, else the temporary folder, else
    /tmp, whichever is short enough for a socket's path."""
    bases = [os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir(), "/tmp"]
    name = f"loss-conformance-{os.getuid()}"
    path = next(Path(base) / name for base in bases if base and len(str(Path(base) / name)) <= LONGEST_FOLDER)
    path.mkdir(mode=0o700, exist_ok=True)
    status = path.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private folder of this user; standby workers are off")
    return path


def _source_fingerprint() -> str:
    """Size and mtime of every module of the suite: a worker of older code is never taken over."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in OWN_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            status = path.stat()
            digest.update(f"{path}:{status.st_size}:{status.st_mtime_ns};".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Standby:
    """A worker asked to stay on standby after its call: ``name`` says which calls may take it
    over (the gate's: the framework of the user's loss), ``idle_seconds`` how long it waits."""

    name: str
    idle_seconds: float


@dataclass(frozen=True)
class Place:
    """Where the standby of one (framework, directory, interpreter, environment, code) waits."""

    socket: Path
    lock: Path
    log: Path

    @classmethod
    def of(cls, name: str, environment: dict[str, str]) -> Place:
        key = json.dumps(
            {
                "name": name,
                "cwd": os.getcwd(),
                "python": sys.executable,
                "environment": {k: v for k, v in sorted(environment.items()) if k not in VOLATILE},
                "code": _source_fingerprint(),
            },
            sort_keys=True,
        )
        name = hashlib.sha256(key.encode()).hexdigest()[:24]
        base = folder()
        return cls(base / f"{name}.sock", base / f"{name}.lock", base / f"{name}.log")


class Taken:
    """A connection to a standby worker, with the surface of the ``subprocess.Popen`` that
    :class:`~conformance.run.workers.Worker` talks to: ``stdin``/``stdout``, ``pid``, ``poll``,
    ``kill``, ``wait``. The worker is not our child: its liveness is read from ``/proc``."""

    def __init__(self, connection: socket.socket, pid: int, lock: IO[bytes], log: Path) -> None:
        self.connection, self.pid, self._lock, self.log = connection, pid, lock, log
        self.stdin: IO[bytes] | None = connection.makefile("wb")
        self.stdout: IO[bytes] | None = connection.makefile("rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not alive(self.pid):
            self.returncode = -signal.SIGKILL
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        """Not our child: there is no status to wait for; what :meth:`poll` can tell."""
        return self.poll() or 0

    def release(self) -> None:
        """End the call and leave the worker on standby for the next one."""
        for stream in (self.stdin, self.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.connection.close()
        self._lock.close()  # the flock goes with the descriptor


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie has ended: only its parent can reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def hold(place: Place) -> IO[bytes] | None:
    """The place's lock, held until the returned file is closed; None while another call holds it."""
    lock = open(place.lock, "ab")  # noqa: SIM115 - the caller closes it, which releases the flock
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return None
    return lock


def take(place: Place, request: dict[str, Any]) -> Taken | None:
    """The standby waiting at ``place``, sent ``request``; None when there is none to take (none
    waits, another call holds it, or it is gone), and the caller starts a fresh worker."""
    lock = hold(place)
    if lock is None:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(place.socket))
        pid = _peer(connection)[0]
        connection.sendall((json.dumps(request) + "\n").encode())
    except OSError:  # no socket, or a stale one whose worker died: it is replaced at the call's end
        connection.close()
        lock.close()
        return None
    return Taken(connection, pid, lock, place.log)


def _peer(connection: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a Unix socket."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", credentials)
    return pid, uid


def listen(place: Place) -> socket.socket | None:
    """The standby's listening socket at ``place``; None when a live standby already waits there.
    Called by the worker while the call that started it holds ``place.lock``."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(place.socket))
    except OSError:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(place.socket))
        except OSError:  # a socket file left by a worker that was killed
            place.socket.unlink(missing_ok=True)
            server.bind(str(place.socket))
        else:
            probe.close()
            server.close()
            return None
    os.chmod(place.socket, 0o600)
    server.listen(1)
    return server


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(str(Path(root).resolve()) + os.sep for root in roots)


def drop_user_modules() -> list[str]:
    """Forget the modules of the user's own code (not installed, not this suite's), so the next
    call imports its loss, and what that imports, afresh. Returns their names."""
    importlib.invalidate_caches()  # a module file created since the last call is found
    installed = _installed_roots()
    dropped = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in OWN_PACKAGES:
            continue
        location = getattr(module, "__file__", None)
        if not location:
            continue
        if not str(Path(location).resolve()).startswith(installed):
            del sys.modules[name]
            dropped.append(name)
    return dropped


def wait(
    server: socket.socket,
    idle_seconds: float,
    take_over: Callable[[IO[bytes], TextIO, dict[str, Any]], bool],
) -> None:
    """The standby's loop: accept the next call of this user, hand its request, the rest of its
    lines and a channel back to ``take_over`` (which serves the call and says whether this
    process may serve another), until ``idle_seconds`` pass with no call."""
    server.settimeout(idle_seconds)
    while True:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            return
        connection.settimeout(None)
        with connection, connection.makefile("rb") as lines, connection.makefile("w", encoding="utf-8") as channel:
            if _peer(connection)[1] != os.getuid():
                continue
            line = lines.readline()
            if not line:
                continue
            try:
                carry_on = take_over(lines, channel, json.loads(line))
            except (BrokenPipeError, ConnectionResetError):  # the call went away mid-answer
                carry_on = True
        if not carry_on:
            return


def running() -> list[tuple[Path, int]]:
    """(socket, pid) of this user's standby workers; a socket left by a killed one is removed."""
    found = []
    for path in sorted(folder().glob("*.sock")):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            found.append((path, _peer(probe)[0]))
        except OSError:
            path.unlink(missing_ok=True)
        finally:
            probe.close()
    return found


def stop_all() -> list[int]:
    """End every standby worker of this user now; their pids."""
    stopped = []
    for path, pid in running():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        stopped.append(pid)
    return stopped
