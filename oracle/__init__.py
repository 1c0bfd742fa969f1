"""The exact oracle: mpmath ground truth for loss functions, correctly rounded.

``evaluate(op, params, inputs, dtype)`` rounds every input to ``dtype``, evaluates the
exact binary values it gets (never the decimal literals), and returns the value and the
gradient correctly rounded into ``dtype``, with the exact values as decimals beside them.
"""

from .evaluation import ORACLE_VERSION, OracleResult, OracleUndecided, evaluate, round_inputs
from .formats import FORMATS, FloatFormat
from .ops import InvalidInput, OpDefinition, definition, definitions
from .semantics import IDEAL, Semantics, combine, variant, variants

__all__ = [
    "FORMATS",
    "IDEAL",
    "ORACLE_VERSION",
    "FloatFormat",
    "InvalidInput",
    "OpDefinition",
    "OracleResult",
    "OracleUndecided",
    "Semantics",
    "combine",
    "definition",
    "definitions",
    "evaluate",
    "round_inputs",
    "variant",
    "variants",
]
