"""Fake adapters for the plumbing tests only: they never reach a reported result.

Each computes softplus with NumPy, except on one trigger input (x = 13) where it
crashes, hangs or raises, so a test can see that one bad case costs one result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from conformance.adapters.base import Implementation, Outcome
from conformance.corpus.cases import Case

TRIGGER = 13.0


def softplus_cases(*xs: float) -> list[Case]:
    """One float32 softplus case per x, ids ``fake/x=X``; the trigger among them makes a fake misbehave."""
    return [
        Case(
            id=f"fake/x={x}",
            description="d",
            provenance="test",
            op="softplus",
            params={},
            inputs={"x": [x]},
            dtypes=("float32",),
        )
        for x in xs
    ]


class FakeAdapter:
    def __init__(self, name: str, misbehave: str) -> None:
        self.name, self.misbehave = name, misbehave

    def load(self) -> None:
        pass

    def version(self) -> str:
        return "0"

    def implementations(self) -> list[Implementation]:
        return [Implementation(f"{self.name}.softplus", "softplus", lambda p, t: None)]

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        x = inputs["x"]
        if TRIGGER in x.tolist():
            if self.misbehave == "crash":
                os.abort()
            if self.misbehave == "hang":
                time.sleep(3600)
            raise FloatingPointError("the fake framework refuses 13")
        value = np.logaddexp(0, x)
        return Outcome(value, dtype, 1 / (1 + np.exp(-x)), dtype)


class MissingAdapter(FakeAdapter):
    def load(self) -> None:
        raise ImportError("No module named 'fakeframework'")


def crashing() -> FakeAdapter:
    return FakeAdapter("crashing", "crash")


def hanging() -> FakeAdapter:
    return FakeAdapter("hanging", "hang")


def raising() -> FakeAdapter:
    return FakeAdapter("raising", "raise")


def missing() -> MissingAdapter:
    return MissingAdapter("missing", "none")


class MisdeclaredAdapter(FakeAdapter):
    """Claims a semantic variant that does not exist (a typo of torch_log_floor)."""

    def implementations(self) -> list[Implementation]:
        return [Implementation(f"{self.name}.softplus", "softplus", lambda p, t: None, semantics=("torch_log_flor",))]


def misdeclared() -> MisdeclaredAdapter:
    return MisdeclaredAdapter("misdeclared", "none")


class DeviceBoundAdapter(FakeAdapter):
    """Runs on the CPU only, and says in its version what its worker was started with."""

    def load(self) -> None:
        from conformance.run import devices

        self.device = devices.requested()
        if self.device != "cpu":
            raise devices.DeviceUnavailable("the fake framework has no GPU")

    def version(self) -> str:
        return f"{self.device}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}"


def device_bound() -> DeviceBoundAdapter:
    return DeviceBoundAdapter("device_bound", "none")


class CountingAdapter(FakeAdapter):
    """Appends a line to the file named by $FAKE_CALLS_LOG on every call: a test sees whether any ran."""

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        with open(os.environ["FAKE_CALLS_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{inputs['x'].tolist()} {dtype}\n")
        return super().run(implementation, params, inputs, dtype)


def counting() -> CountingAdapter:
    return CountingAdapter("counting", "none")
