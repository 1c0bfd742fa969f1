"""loss-conformance: what each framework computes for a loss, and how far from exact."""

__version__ = "0.1.0"
