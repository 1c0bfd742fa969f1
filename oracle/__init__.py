"""The exact oracle: mpmath ground truth for loss functions, correctly rounded.

``evaluate(op, params, inputs, dtype)`` rounds every input to ``dtype``, evaluates the
exact binary values it gets (never the decimal literals), and returns the value and the
gradient correctly rounded into ``dtype``, with the exact values as decimals beside them.
"""

from .evaluation import ORACLE_VERSION, OracleResult, OracleUndecided, evaluate, round_inputs
from .formats import FORMATS, FloatFormat
from .ops import InvalidInput
from .semantics import IDEAL, Semantics, combine, variant, variants
from .signatures import SIGNATURES

__all__ = [
    "FORMATS",
    "IDEAL",
    "ORACLE_VERSION",
    "SIGNATURES",
    "FloatFormat",
    "InvalidInput",
    "OracleResult",
    "OracleUndecided",
    "Semantics",
    "combine",
    "evaluate",
    "round_inputs",
    "variant",
    "variants",
]
