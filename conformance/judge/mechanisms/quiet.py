"""Registration for models whose arithmetic overflows on purpose (a float16 sum of 100,000 losses
is inf, as the framework's is): NumPy's floating-point warnings are off while they run, so the
judge's warnings stay about the judge."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ModelContext, model

ModelFunction = Callable[[ModelContext], Any]


def quiet(name: str) -> Callable[[ModelFunction], ModelFunction]:
    """Like :func:`model`, with NumPy's floating-point warnings off inside the model."""

    def wrap(function: ModelFunction) -> ModelFunction:
        @functools.wraps(function)
        def silent(context: ModelContext) -> Any:
            with np.errstate(all="ignore"):
                return function(context)

        model(name)(silent)
        return function

    return wrap
