"""Wall time of a full run, split into its parts, with a cold and a warm oracle cache.

    .venv/bin/python bench/run_breakdown.py [PATH ...] [--framework F ...]

Parts: framework imports and framework calls (measured inside the workers), the oracle
(overlapping the frameworks, in this process), scoring, rendering the three reports.
The yardstick is the frameworks' own import-plus-call time: what running the same calls
by hand, two workers at a time, would cost at the least. The target is a warm-cache run
within 1.3x of it, and under 60 s for the whole corpus.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from conformance import pipeline
from conformance.cli import BUNDLED_CASES
from conformance.report import document as reports
from oracle.cache import DiskCache

PARALLEL_WORKERS = 2


def frameworks_own_time(timings: dict[str, float]) -> tuple[float, float]:
    """(sum of import + calls over frameworks, the same scheduled on two workers in run order)."""
    per_framework = [
        timings[key] + timings[key.replace("import:", "calls:")] for key in timings if key.startswith("import:")
    ]
    workers = [0.0] * PARALLEL_WORKERS
    for cost in per_framework:
        workers[workers.index(min(workers))] += cost
    return sum(per_framework), max(workers)


def measure(paths: list[Path], frameworks: list[str], cache: DiskCache, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    report, _ = pipeline.execute(paths, frameworks, cache=cache)
    render_start = time.perf_counter()
    reports.write_all(report, out)
    timings = dict(report["timings"])
    timings["rendering"] = time.perf_counter() - render_start
    timings["wall"] = time.perf_counter() - started
    timings["results"] = len(report["results"])
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--framework", action="append", default=[])
    parser.add_argument("--warm-only", action="store_true", help="use the default oracle cache, as it is")
    args = parser.parse_args()
    paths = args.paths or [BUNDLED_CASES]
    with tempfile.TemporaryDirectory() as folder:
        if args.warm_only:
            runs = {name: measure(paths, args.framework, DiskCache(), Path(folder) / name) for name in ("warm", "warm")}
            runs["cold"] = runs["warm"]
        else:
            cache = DiskCache(Path(folder) / "cache")
            runs = {name: measure(paths, args.framework, cache, Path(folder) / name) for name in ("cold", "warm")}
    print(f"{'':<34}{'cold cache':>12}{'warm cache':>12}")
    rows = [
        ("framework imports (sum over workers)", lambda t: sum(v for k, v in t.items() if k.startswith("import:"))),
        ("framework calls (sum over workers)", lambda t: sum(v for k, v in t.items() if k.startswith("calls:"))),
        ("frameworks, wall (2 workers)", lambda t: t["frameworks"]),
        ("oracle (overlaps the frameworks)", lambda t: t["oracle"]),
        ("scoring (incl. variant oracle)", lambda t: t["scoring"]),
        ("rendering json + junit + html", lambda t: t["rendering"]),
        ("whole run, wall", lambda t: t["wall"]),
    ]
    for label, pick in rows:
        print(f"{label:<34}" + "".join(f"{pick(runs[name]):>11.2f}s" for name in ("cold", "warm")))
    ratio = runs["cold"]["wall"] / runs["warm"]["wall"]
    print(f"cold / warm, whole run wall: {ratio:.2f}x (target: at most 1.5x, the oracle off the critical path)")
    for name in ("cold", "warm"):
        total, scheduled = frameworks_own_time(runs[name])
        print(
            f"{name}: {int(runs[name]['results'])} results; frameworks' own import+call time {total:.2f}s "
            f"({scheduled:.2f}s on 2 workers); run / own-on-2-workers = {runs[name]['wall'] / scheduled:.2f}x"
        )


if __name__ == "__main__":
    main()
