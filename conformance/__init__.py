"""loss-conformance: what each framework computes for a loss, and how far from exact."""

from typing import Any

__version__ = "0.1.0"


def check_loss(fn: Any, **options: Any) -> Any:
    """Gate a loss function from Python; see :func:`conformance.gate.execute.check_loss`."""
    from .gate.execute import check_loss as run

    return run(fn, **options)


__all__ = ["check_loss"]
