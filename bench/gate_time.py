"""Wall time of `conformance gate` on one op for one framework, imports included.

    .venv/bin/python bench/gate_time.py

Runs the CLI as a user would (a fresh process), once with an empty oracle cache and once
warm, for the torch example of examples/torch_losses.py. The target is under 30 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [
    sys.executable,
    "-m",
    "conformance.cli",
    "gate",
    "examples.torch_losses:stable_bce_with_logits",
    "--op",
    "binary_crossentropy",
    "--param",
    "from_logits=true",
    "--framework",
    "torch",
]


def timed(cache: Path, out: Path) -> float:
    environment = {**os.environ, "LOSS_CONFORMANCE_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run([*COMMAND, "--out", str(out)], cwd=ROOT, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache"
        cold = timed(cache, Path(folder) / "cold")
        warm = timed(cache, Path(folder) / "warm")
    print("conformance gate, binary_crossentropy on torch, float32 + float64, imports included:")
    print(f"  cold oracle cache {cold:6.2f} s   warm {warm:6.2f} s   (target < 30 s; cold/warm {cold / warm:.1f}x)")


if __name__ == "__main__":
    main()
