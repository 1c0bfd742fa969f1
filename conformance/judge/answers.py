"""The oracle as the judge consults it: answers by (case, dtype, variants), computed once.

Memoised in memory over the oracle's disk cache. An input with no valid answer
(:class:`oracle.InvalidInput`) and a failure of the oracle itself (an undecided rounding, a
bug of ours) are remembered like answers and raised to the judge, which records them as that
case's result: one case the oracle cannot answer never stops the run.
"""

from __future__ import annotations

import oracle
from conformance.corpus.cases import Case
from oracle.cache import DiskCache

Key = tuple[str, str, tuple[str, ...]]


class OracleFailure(RuntimeError):
    """The oracle could not answer a valid input: reported as that case's ``error``."""


class OracleAnswers:
    def __init__(self, cache: DiskCache | None) -> None:
        self.cache = cache
        self.memo: dict[Key, oracle.OracleResult | Exception] = {}

    def prefetch(self, case: Case, dtype: str) -> None:
        """Compute the ideal answer now (while the frameworks run), keeping any failure for later."""
        self._compute(case, dtype, ())

    def __call__(self, case: Case, dtype: str, variants: tuple[str, ...]) -> oracle.OracleResult:
        answer = self._compute(case, dtype, variants)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _compute(self, case: Case, dtype: str, variants: tuple[str, ...]) -> oracle.OracleResult | Exception:
        key = (case.id, dtype, variants)
        if key not in self.memo:
            params, inputs = case.materialize(dtype)
            try:
                self.memo[key] = oracle.evaluate(
                    case.op, params, inputs, dtype, oracle.combine(variants), cache=self.cache
                )
            except oracle.InvalidInput as problem:
                self.memo[key] = problem
            except Exception as problem:  # the oracle's own failure: the case's error, not the run's end
                self.memo[key] = OracleFailure(f"oracle failure: {type(problem).__name__}: {problem}")
        return self.memo[key]
