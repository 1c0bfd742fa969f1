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
from oracle.canonical import effective

Key = tuple[str, str, tuple[str, ...]]
#: (case id, dtype, the settings that change the answer): variants that differ only in settings
#: that cannot change it (:func:`oracle.canonical.effective`) share one answer.
Computation = tuple[str, str, tuple[tuple[str, object], ...]]


class OracleFailure(RuntimeError):
    """The oracle could not answer a valid input: reported as that case's ``error``."""


class OracleAnswers:
    def __init__(self, cache: DiskCache | None) -> None:
        self.cache = cache
        self.memo: dict[Key, oracle.OracleResult | Exception] = {}
        self.computed: dict[Computation, oracle.OracleResult | Exception] = {}

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
            self.memo[key] = self._evaluate(case, dtype, variants)
        return self.memo[key]

    def _evaluate(self, case: Case, dtype: str, variants: tuple[str, ...]) -> oracle.OracleResult | Exception:
        params, inputs = case.materialize(dtype)
        try:
            semantics = oracle.combine(variants)
            settings = effective(case.op, case.definition.with_defaults(params), semantics).settings
            computation = (case.id, dtype, settings)
            if computation not in self.computed:
                self.computed[computation] = oracle.evaluate(
                    case.op, params, inputs, dtype, semantics, cache=self.cache
                )
            return self.computed[computation]
        except oracle.InvalidInput as problem:
            return problem
        except Exception as problem:  # the oracle's own failure: the case's error, not the run's end
            return OracleFailure(f"oracle failure: {type(problem).__name__}: {problem}")
