"""Wall time of one `conformance gate` call per framework, imports included, beside the import.

    .venv/bin/python bench/gate_time.py [torch jax tensorflow]

Runs the CLI as a user would (a fresh process) on the examples' careful losses: once with an
empty oracle cache (cold), then warm (the oracle cache filled) in two ways. "new worker": each call
starts its worker, so it pays the framework's import (measured beside it, `python -c "import
FRAMEWORK"`) and, in JAX, compiles each primitive again. "standby": with `--standby`, the
previous call's worker waits and the next call takes it over (the framework imported, its kernels
compiled; the user's module imported afresh). The CPU time of the `conformance` process itself
(its worker apart) is measured on two more warm calls. Targets for a warm call on this machine:
under 3 s for torch and JAX, under 4 s for TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: framework -> (module to import, the gate's arguments)
GATES = {
    "torch": (
        "torch",
        ["examples.torch_losses:stable_bce_with_logits", "--op", "binary_crossentropy", "--param", "from_logits=true"],
    ),
    "jax": (
        "jax",
        [
            "examples.jax_losses:stable_softmax_cross_entropy",
            "--op",
            "categorical_crossentropy",
            "--param",
            "from_logits=true",
            "--param",
            "reduction=none",
        ],
    ),
    "tensorflow": (
        "tensorflow",
        [
            "examples.tensorflow_losses:stable_bce_with_logits",
            "--op",
            "binary_crossentropy",
            "--param",
            "from_logits=true",
        ],
    ),
}
TARGETS = {"torch": 3.0, "jax": 3.0, "tensorflow": 4.0}


#: The CLI run inside this snippet, which then prints the CPU time of its own process (all its
#: threads), the worker that runs the framework being a child process apart: the gate's own share.
OWN_CPU = """
import resource, runpy, sys
sys.argv = ["conformance", *sys.argv[1:]]
try:
    runpy.run_module("conformance.cli", run_name="__main__")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write(f"\\nown-cpu {usage.ru_utime + usage.ru_stime}\\n")
"""


def environment(cache: Path, runtime: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LOSS_CONFORMANCE_CACHE": str(cache),
        "PYTHONPATH": str(ROOT),
        "XDG_RUNTIME_DIR": str(runtime),  # the bench's standby workers, apart from the user's
    }


def own_cpu(arguments: list[str], cache: Path, runtime: Path) -> float:
    """The CPU seconds of the `conformance` process itself in one call (not its worker's)."""
    command = [sys.executable, "-c", OWN_CPU, *arguments]
    done = subprocess.run(
        command, cwd=ROOT, env=environment(cache, runtime), check=False, capture_output=True, text=True
    )
    return float(done.stderr.rsplit("own-cpu ", 1)[1])


def timed(command: list[str], cache: Path, runtime: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment(cache, runtime), check=False, capture_output=True)
    return time.perf_counter() - started


def main(frameworks: list[str]) -> None:
    print("conformance gate, one call, four dtypes, imports included (warm: oracle cache filled):")
    for framework in frameworks:
        module, arguments = GATES[framework]
        with tempfile.TemporaryDirectory(dir="/tmp") as folder:
            cache, out, runtime = Path(folder) / "cache", Path(folder) / "out", Path(folder)
            command = [sys.executable, "-m", "conformance.cli", "gate", *arguments, "--framework", framework]
            command += ["--out", str(out)]
            cold = timed(command, cache, runtime)
            warm = min(timed(command, cache, runtime) for _ in range(2))
            timed([*command, "--standby", "5"], cache, runtime)  # leaves a worker on standby
            standby = min(timed([*command, "--standby", "5"], cache, runtime) for _ in range(2))
            timed([sys.executable, "-m", "conformance.cli", "standby", "--stop"], cache, runtime)
            imported = min(timed([sys.executable, "-c", f"import {module}"], cache, runtime) for _ in range(2))
            own = min(own_cpu(command[3:], cache, runtime) for _ in range(2))
        verdict = "ok" if standby < TARGETS[framework] else "over"
        print(
            f"  {framework:<10} cold {cold:6.2f} s   warm: new worker {warm:6.2f} s, standby {standby:5.2f} s   "
            f"import alone {imported:5.2f} s   (target < {TARGETS[framework]:g} s: {verdict})"
        )
        print(f"  {'':<10} the gate's own process, warm: {own:5.2f} s CPU (the rest is its worker's, or waiting)")


if __name__ == "__main__":
    main(sys.argv[1:] or list(GATES))
