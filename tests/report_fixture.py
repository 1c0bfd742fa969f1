"""A small hand-built report document, for the presentation tests (no framework involved)."""

from typing import Any


def result(
    case: str, implementation: str, verdict: str, dtype: str = "float32", quantity: str = "value", **extra: Any
) -> dict[str, Any]:
    record = {
        "case": case,
        "op": "softplus",
        "params": {},
        "framework": implementation.split(".")[0],
        "implementation": implementation,
        "dtype": dtype,
        "quantity": quantity,
        "verdict": verdict,
        "inputs": {"x": [1.0]},
        "expected": [1.3132616281509399],
        "exact": ["1.3132616875182228340"],
        "actual": [1.3132616281509399],
        "max_ulp_error": 0.25,
        "max_abs_error": 1e-8,
        "max_rel_error": 1e-8,
        "semantics": "ideal",
        "returned_dtype": dtype,
        "message": "",
        "description": "softplus at 1",
        "provenance": "test",
        "tags": [],
        "sweep": {},
        "sweep_group": "",
        "doc": "",
    }
    record.update(extra)
    return record


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "created": "2026-11-22T00:00:00+00:00",
        "environment": {
            "python": "3.11",
            "platform": "test",
            "frameworks": {"torch": "2.13", "jax": "0.10"},
            "skipped": {},
            "packages": {},
        },
        "results": results,
        "summary": {
            "total": len(results),
            "cases": len({r["case"] for r in results}),
            "verdicts": {},
            "frameworks": {},
        },
        "divergences": [],
        "case_errors": [],
    }
