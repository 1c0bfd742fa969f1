"""Where the frameworks run: ``cpu`` (the default) or ``cuda``, chosen per run.

The parent puts the choice in each worker's environment (``LOSS_CONFORMANCE_DEVICE``), with
the variables that make it real: on the CPU the GPUs are hidden from every framework
(``CUDA_VISIBLE_DEVICES=""``, JAX on its CPU platform); on CUDA they are left visible and JAX
is pointed at them. An adapter reads the choice in its worker (:func:`requested`) and places
its tensors and calls there, or raises :class:`DeviceUnavailable` when it cannot (no GPU, a
CPU-only build, a framework that has no GPU at all): the framework is then skipped with that
reason, like one that is not installed, so ``--device cuda`` runs cleanly on a machine with no
GPU. Implementation names do not change with the device, so ``conformance diff`` compares a CPU
run with a CUDA run directly; the device is named in each framework's version string.
"""

from __future__ import annotations

import os

DEVICES = ("cpu", "cuda")
DEFAULT_DEVICE = "cpu"
VARIABLE = "LOSS_CONFORMANCE_DEVICE"

#: Settings that keep a worker on the CPU: no GPU is visible to any framework.
_CPU_ONLY = {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}


class DeviceUnavailable(ImportError):
    """The framework is installed but cannot run on the requested device: a skip, not an error."""


def check(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    return device


def worker_environment(device: str, base: dict[str, str]) -> dict[str, str]:
    """``base`` (the parent's environment and the workers' reproducible settings) for ``device``;
    on CUDA a ``CUDA_VISIBLE_DEVICES`` the caller set still chooses the GPU."""
    check(device)
    environment = dict(base)
    if device == "cpu":
        environment.update(_CPU_ONLY)
    else:
        environment["JAX_PLATFORMS"] = "cuda"
    environment[VARIABLE] = device
    return environment


def requested() -> str:
    """The device this worker was started for (``cpu`` when nothing says otherwise)."""
    return check(os.environ.get(VARIABLE) or DEFAULT_DEVICE)


def described(version: str, device: str, name: str = "") -> str:
    """A framework's version string with the device it ran on, when that is not the CPU."""
    if device == "cpu":
        return version
    return f"{version} [{device}{': ' + name if name else ''}]"
