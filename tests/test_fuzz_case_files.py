"""Fuzzing the loader with seeded mutations of the bundled corpus.

Each fuzz file is one entry of a ``cases/`` file (with its file's header and defaults),
mutated once by a seeded generator: bytes flipped, lines dropped or repeated, numbers
swapped for hostile ones (1e99999999, 5,000 digits, base 60), nesting, aliases, huge
generators and sweeps, id-template tricks. Whatever the mutation, loading must end in
cases or in errors that each name a line, within 10 s of CPU and 1 GB of memory; the
unmutated entries (the controls) must load without an error.

The fuzz runs in a child process (``python tests/test_fuzz_case_files.py N``), so that its
peak memory is its own and a runaway allocation cannot take the test session with it.
"""

from __future__ import annotations

import json
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 14
FILES = 1200
CPU_SECONDS = 10.0
MEMORY_BYTES = 1 << 30

HOSTILE_NUMBERS = [
    "1e99999999",
    "-1e-99999999",
    "9" * 5000,
    "0x1p99999999",
    "190:20:30.15",
    "190:20:30",
    "1e20",
    "100000000000000000000",
    "-1",
    "2",
    ".nan",
    "-.inf",
    "1" * 100_000 + "x",
    "0x",
    "1e",
    "1_0",
    "'1'",
    "next_up(next_up(next_up(1)))",
    "one_minus(",
    "0.5",
    "true",
    "~",
    "[]",
    "{}",
    "[[]]",
]
HOSTILE_LINES = [
    "    sweep: {v: {range: [0, 1000000000, 1]}}",
    "    sweep: {v: {range: [10, 0, 1]}}",
    "    sweep: {v: {powers_of_ten: [0, 1000000000]}}",
    "    sweep: {v: [1, 2]}",
    "    id: 't/{v.real}'",
    "    id: 't/{v[x]}'",
    "    id: t/{v}",
    "    params: {label_smoothing: .nan}",
    "    params: {label_smoothing: 2}",
    "    params: {ignore_index: 100000000000000000000}",
    "    params: {sample_weight: [1, 2, 3, 4, 5, 6, 7]}",
    "    params: {class_weight: {fill: 1, shape: [100000, 100000]}}",
    "    inputs: {y_true: {fill: 1, shape: [100000, 100000]}, y_pred: {linspace: [0, 1, 10000000]}}",
    "    inputs: {y_true: {linspace: [0, 1, 3]}, y_pred: [[1, 2], [1, 2], [1, 2]]}",
    "    inputs: {x: [[]]}",
    "    inputs: {x: {linspace: [1e-1100, 1, 200000]}}",
    "    expect: error",
    "    description: \u202etxt.exe",
    "    dtypes: [float8]",
    "    tolerance: {value: {ulp: -1}}",
    "  - &a [x, x, x, x, x, x, x, x, x]",
    "  - [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "  - !!python/object/apply:os.system ['true']",
]
NOISE_BYTES = [b"\x00", b"\xff", b"\xc3", b"\t", b'"', b"'", b"[", b"]", b"{", b"}", b":", b"-", b"&", b"*",
               b"!", b"%", b"@", b"`", b"|", b">", b"#", b"\xe2\x80\xae", b"\r", b" ", b"\n"]  # fmt: skip
_NUMBER = re.compile(rb"(?<![\w.])-?\d[\d.]*(?:e-?\d+)?(?![\w.])")


def corpus_entries() -> list[bytes]:
    """Each entry of every bundled case file, as a file of its own (header and defaults kept)."""
    entries = []
    for path in sorted((ROOT / "cases").glob("*.yaml")):
        text = path.read_bytes()
        head, _, body = text.partition(b"\ncases:\n")
        chunks = re.split(rb"\n(?=  - )", body)
        entries.extend(head + b"\ncases:\n" + chunk + b"\n" for chunk in chunks if chunk.strip())
    return entries


def _lines(text: bytes) -> list[bytes]:
    return text.split(b"\n")


def swap_number(rng: random.Random, text: bytes) -> bytes:
    spots = list(_NUMBER.finditer(text))
    if not spots:
        return text + b"\n" + rng.choice(HOSTILE_NUMBERS).encode()
    spot = rng.choice(spots)
    return text[: spot.start()] + rng.choice(HOSTILE_NUMBERS).encode() + text[spot.end() :]


def noise(rng: random.Random, text: bytes) -> bytes:
    at = rng.randrange(len(text) + 1)
    cut = rng.choice([0, 0, 1])
    return text[:at] + rng.choice(NOISE_BYTES) + text[at + cut :]


def truncate(rng: random.Random, text: bytes) -> bytes:
    return text[: rng.randrange(len(text) + 1)]


def edit_lines(rng: random.Random, text: bytes) -> bytes:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    choice = rng.randrange(4)
    if choice == 0:
        del lines[i]
    elif choice == 1:
        lines.insert(i, lines[i])
    elif choice == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i][2:] if rng.random() < 0.5 else b"  " + lines[i]
    return b"\n".join(lines)


def insert_line(rng: random.Random, text: bytes) -> bytes:
    lines = _lines(text)
    lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(HOSTILE_LINES).encode())
    return b"\n".join(lines)


def nest(rng: random.Random, text: bytes) -> bytes:
    spots = list(_NUMBER.finditer(text))
    if not spots:
        return text
    spot, depth = rng.choice(spots), rng.choice([3, 40, 600, 5000])
    return text[: spot.start()] + b"[" * depth + spot.group() + b"]" * depth + text[spot.end() :]


def grow(rng: random.Random, text: bytes) -> bytes:
    """Multiply a number inside a generator or sweep spec (a count, a shape, a bound)."""
    spots = [m for m in re.finditer(rb"\d+", text) if b"linspace" in text or b"range" in text or b"shape" in text]
    if not spots:
        return swap_number(rng, text)
    spot = rng.choice(spots)
    return (
        text[: spot.start()] + str(int(spot.group()) * rng.choice([2, 10, 1000, 10**9])).encode() + text[spot.end() :]
    )


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    swap_number,
    swap_number,
    noise,
    noise,
    truncate,
    edit_lines,
    edit_lines,
    insert_line,
    insert_line,
    nest,
    grow,
]


def mutant(entries: list[bytes], index: int) -> bytes:
    rng = random.Random(f"{SEED}-{index}")
    text = rng.choice(entries)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = rng.choice(MUTATIONS)(rng, text)
    return text


class _OverTime(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _OverTime


def fuzz(count: int, folder: Path) -> dict[str, object]:
    """Load ``count`` mutants and every control in this process; a summary of what happened."""
    from conformance.corpus import cases

    signal.signal(signal.SIGALRM, _alarm)
    entries = corpus_entries()
    problems: list[str] = []
    outcomes = {"rejected": 0, "accepted": 0, "controls": 0}
    slowest, wall = (0.0, ""), 0.0
    for index in range(count + len(entries)):
        control = index >= count
        path = folder / (f"control{index - count:03d}.yaml" if control else f"mutant{index:04d}.yaml")
        path.write_bytes(entries[index - count] if control else mutant(entries, index))
        started, cpu = time.perf_counter(), time.process_time()
        signal.setitimer(signal.ITIMER_REAL, 4 * CPU_SECONDS)
        try:
            loaded, errors = cases.load_file(path)
        except _OverTime:
            problems.append(f"{path.name}: still loading after {4 * CPU_SECONDS:.0f} s")
            continue
        except BaseException as error:  # the point is to see any escape
            problems.append(f"{path.name}: raised {type(error).__name__}: {error}"[:300])
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.process_time() - cpu
        wall = max(wall, time.perf_counter() - started)
        slowest = max(slowest, (seconds, path.name))
        if seconds > CPU_SECONDS:
            problems.append(f"{path.name}: {seconds:.1f} s of CPU")
        for error in errors:
            if error.line < 1 or "the loader failed" in error.message:
                problems.append(f"{path.name}: {str(error)[:300]}")
        if control:
            outcomes["controls"] += 1
            if errors or not loaded:
                problems.append(f"{path.name}: a control was not accepted: {errors[:1]}")
        else:
            outcomes["rejected" if errors else "accepted"] += 1
        del loaded, errors
        if not control and index % 97 == 0:
            path.unlink()  # keep a sample on disk for the CLI check, not every file
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        **outcomes,
        "problems": problems,
        "slowest_cpu_s": round(slowest[0], 2),
        "slowest": slowest[1],
        "slowest_wall_s": round(wall, 2),
        "peak_rss_bytes": peak,
    }


def test_a_thousand_mutated_case_files_each_end_in_cases_or_located_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, __file__, str(FILES), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    print(summary)
    assert summary["problems"] == []
    assert summary["rejected"] + summary["accepted"] == FILES
    assert summary["rejected"] > FILES // 2
    assert summary["controls"] > 100
    assert summary["peak_rss_bytes"] < MEMORY_BYTES

    # The same files through the CLI: exit 2, every error with file:line, no traceback.
    rejected = sorted(tmp_path.glob("mutant*.yaml"))[:60]
    cli = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "validate", *map(str, rejected)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert cli.returncode == 2
    assert "Traceback" not in cli.stderr + cli.stdout
    for line in cli.stderr.splitlines():
        assert re.match(r"\S+\.yaml:\d+: ", line), line
    controls = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "validate", *map(str, sorted(tmp_path.glob("control*.yaml")))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert controls.returncode == 0, controls.stdout[-2000:]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(scratch)
        print(json.dumps(fuzz(int(sys.argv[1]), folder)))
