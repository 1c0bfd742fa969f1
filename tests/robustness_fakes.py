"""Misbehaving fake adapters, for the worker plumbing tests only (never a reported result).

Each behaves like :class:`fake_adapters.FakeAdapter` (softplus with NumPy) except in the
one way its name says: at load time, or on the trigger input x = 13.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from conformance.adapters.base import Implementation, Outcome

from fake_adapters import TRIGGER, FakeAdapter

#: Where a fake writes the pids of the process group it leaves behind, for a test to check.
PIDS = "ROBUSTNESS_FAKES_PIDS"


class Softplus(FakeAdapter):
    def __init__(self, name: str) -> None:
        super().__init__(name, "none")

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        x = inputs["x"]
        if TRIGGER in x.tolist():
            return self.misbehave_on(x, dtype)
        return Outcome(np.logaddexp(0, x), dtype, 1 / (1 + np.exp(-x)), dtype)

    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        return Outcome(np.logaddexp(0, x), dtype, 1 / (1 + np.exp(-x)), dtype)


class Corrupting(Softplus):
    """Writes a line that is not JSON into the worker's private protocol pipe."""

    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        for descriptor in range(3, 64):
            try:
                if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
                    os.write(descriptor, b"Warning: this is not JSON\n")
            except OSError:
                continue
        return super().misbehave_on(x, dtype)


class Complex(Softplus):
    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        return Outcome(np.logaddexp(0, x) + 1e-3j, "complex128", 1 / (1 + np.exp(-x)), dtype)


class NoGradient(Softplus):
    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        return Outcome(np.logaddexp(0, x), dtype, None, None)


class Huge(Softplus):
    """Answers with 10^7 elements (80 MB of float64, 107 MB on the wire), values only."""

    def implementations(self) -> list[Implementation]:
        return [Implementation(f"{self.name}.softplus", "softplus", lambda p, t: None, gradient=False)]

    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        return Outcome(np.full(10_000_000, 0.5), dtype, None, None)


class Spawning(Softplus):
    """Starts a child process of its own, says where (pids, process group), then hangs."""

    def misbehave_on(self, x: np.ndarray, dtype: str) -> Outcome:
        child = subprocess.Popen(["sleep", "300"])
        Path(os.environ[PIDS]).write_text(f"{os.getpid()} {child.pid} {os.getpgrp()}")
        time.sleep(3600)
        raise AssertionError("unreachable")


class VersionNone(Softplus):
    def version(self) -> Any:
        return None


class LoadRaising(Softplus):
    def load(self) -> None:
        raise RuntimeError("the fake framework's import failed")


class LoadCrashing(Softplus):
    def load(self) -> None:
        os.abort()


class LoadHanging(Softplus):
    def load(self) -> None:
        time.sleep(3600)


def corrupting() -> Corrupting:
    return Corrupting("corrupting")


def complex_valued() -> Complex:
    return Complex("complex_valued")


def no_gradient() -> NoGradient:
    return NoGradient("no_gradient")


def huge() -> Huge:
    return Huge("huge")


def spawning() -> Spawning:
    return Spawning("spawning")


def version_none() -> VersionNone:
    return VersionNone("version_none")


def load_raising() -> LoadRaising:
    return LoadRaising("load_raising")


def load_crashing() -> LoadCrashing:
    return LoadCrashing("load_crashing")


def load_hanging() -> LoadHanging:
    return LoadHanging("load_hanging")


class Slow(Softplus):
    """A quarter of a second per call: a run long enough to be interrupted at a known point."""

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        time.sleep(0.25)
        return super().run(implementation, params, inputs, dtype)


def slow() -> Slow:
    return Slow("slow")
