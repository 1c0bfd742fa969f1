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
import importlib.machinery
import json
import os
import select
import signal
import site
import socket
import stat
import struct
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, TextIO

#: Environment variable: minutes a gate's worker stays on standby (0 or unset: it ends with the call).
MINUTES_VARIABLE = "LOSS_CONFORMANCE_STANDBY"
#: Variables a shell or a terminal changes between two commands without changing what a worker computes.
VOLATILE = frozenset({"_", "OLDPWD", "SHLVL", "PWD", "COLUMNS", "LINES"})
#: The packages of this suite: a standby's code, never dropped as the user's.
OWN_PACKAGES = ("conformance", "oracle")
#: The longest a standby may wait (a day), and how long a connection to one may take.
MAX_MINUTES = 24 * 60.0
CONNECT_SECONDS = 2.0
BACKLOG = 8
#: How often a serving standby looks at its call's socket, and how long a hung-up call has to end.
POLL_MILLISECONDS = 500
HANG_UP_GRACE_SECONDS = 2.0


def minutes(option: float | None) -> float:
    """The standby time asked for: the option, else the environment variable, else 0 (off)."""
    if option is not None:
        value, source = option, "--standby"
    else:
        text = os.environ.get(MINUTES_VARIABLE, "").strip()
        try:
            value, source = (float(text) if text else 0.0), f"{MINUTES_VARIABLE}={text!r}"
        except ValueError:
            raise ValueError(f"{MINUTES_VARIABLE}={text!r} is not a number of minutes") from None
    if not 0 <= value <= MAX_MINUTES:
        raise ValueError(f"{source}: standby minutes are between 0 and {MAX_MINUTES:g} (a day), not {value}")
    return value


#: A Unix socket's path holds at most 107 bytes; a standby's is its folder plus 30.
LONGEST_FOLDER = 76


def folder() -> Path:
    """A private folder for the sockets: under $XDG_RUNTIME_DIR, else the temporary folder, else
    /tmp, whichever is short enough for a socket's path."""
    bases = [os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir(), "/tmp"]
    name = f"loss-conformance-{os.getuid()}"
    path = next(Path(base) / name for base in bases if base and len(str(Path(base) / name)) <= LONGEST_FOLDER)
    path.mkdir(mode=0o700, exist_ok=True)
    status = path.lstat()  # not a link's target: a link there is someone else's doing
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private folder of this user")
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
    ``kill``. The worker is not our child (no status to wait for): its liveness is read from ``/proc``."""

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
    connection.settimeout(CONNECT_SECONDS)
    try:
        connection.connect(str(place.socket))
        pid, uid = _peer(connection)
        if uid != os.getuid():
            raise PermissionError(f"{place.socket} is served by another user's process")
        connection.sendall((json.dumps(request) + "\n").encode())
        connection.settimeout(None)
    except OSError:  # no socket, a stale one whose worker died, or not ours: a fresh worker it is
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
        probe.settimeout(CONNECT_SECONDS)
        try:
            probe.connect(str(place.socket))
        except ConnectionRefusedError:  # a socket file left by a worker that was killed
            place.socket.unlink(missing_ok=True)
            server.bind(str(place.socket))
        except OSError:  # busy or unreachable: leave it be
            server.close()
            return None
        else:
            server.close()
            return None
        finally:
            probe.close()
    os.chmod(place.socket, 0o600)
    server.listen(BACKLOG)
    return server


def _installed_roots() -> tuple[str, ...]:
    """The folders of the standard library and of installed packages (the user's site too), not
    the prefixes above them: a project under /usr/src is the user's code."""
    paths = sysconfig.get_paths()
    roots = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}
    roots |= {*site.getsitepackages(), site.getusersitepackages()}
    return tuple(str(Path(root).resolve()) + os.sep for root in roots)


#: The worker's own entry module, never the user's.
NEVER_DROPPED = frozenset({"__main__", "__mp_main__"})


def _files(modules: dict[str, ModuleType]) -> Iterator[tuple[str, Path]]:
    for name, module in list(modules.items()):
        location = getattr(module, "__file__", None)
        if location and name not in NEVER_DROPPED and name.split(".")[0] not in OWN_PACKAGES:
            yield name, Path(location).resolve()


def installed_files() -> dict[str, tuple[int, int]]:
    """(size, mtime) of every installed module file this process has imported: a reinstall or
    an upgrade between two calls changes one, and the standby then gives way to a fresh worker."""
    installed = _installed_roots()
    found = {}
    for _, path in _files(sys.modules):
        if str(path).startswith(installed):
            with contextlib.suppress(OSError):
                status = path.stat()
                found[str(path)] = (status.st_size, status.st_mtime_ns)
    return found


def drop_user_modules() -> list[Path]:
    """Forget the modules of the user's own code (not installed, not this suite's), so the next
    call imports its loss, and what that imports, afresh. Returns their files."""
    importlib.invalidate_caches()  # a module file created since the last call is found
    installed = _installed_roots()
    dropped = []
    for name, path in _files(sys.modules):
        if not str(path).startswith(installed):
            del sys.modules[name]
            dropped.append(path)
    return dropped


def stale(installed: dict[str, tuple[int, int]], dropped: list[Path]) -> str:
    """Why this process cannot serve the next call as a fresh one would, or ""."""
    compiled = [path for path in dropped if path.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
    if compiled:
        return f"your code includes a compiled extension ({compiled[0].name}), which no process imports twice"
    for path, before in installed.items():
        try:
            status = os.stat(path)
        except OSError:
            return f"{path} is gone since the last call (a package was reinstalled)"
        if (status.st_size, status.st_mtime_ns) != before:
            return f"{path} changed since the last call (a package was reinstalled)"
    return ""


@contextlib.contextmanager
def ended_with(lines: IO[bytes]) -> Iterator[None]:
    """Kill this process (its group) if the call at the other end of ``lines`` hangs up while the
    block still runs: a call killed or interrupted in the middle of a task (a loss that loops,
    say) leaves no standby spinning, and the next call gets a fresh worker."""
    done = threading.Event()

    def watch() -> None:
        poller = select.poll()
        poller.register(lines.fileno(), select.POLLRDHUP | select.POLLHUP)
        while not done.is_set():
            if poller.poll(POLL_MILLISECONDS) and not done.wait(HANG_UP_GRACE_SECONDS):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)

    watcher = threading.Thread(target=watch, name="standby-call-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def wait(server: socket.socket, take_over: Callable[[IO[bytes], TextIO, dict[str, Any]], bool]) -> None:
    """The standby's loop: accept the next call of this user, hand its request, the rest of its
    lines and a channel back to ``take_over`` (which serves the call and says whether this
    process may serve another), until the server's timeout passes with no call."""
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
        probe.settimeout(CONNECT_SECONDS)
        try:
            probe.connect(str(path))
            pid, uid = _peer(probe)
            if uid == os.getuid():
                found.append((path, pid))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
        except OSError:  # busy: its backlog is full
            continue
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
