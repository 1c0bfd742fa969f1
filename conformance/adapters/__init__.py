"""Framework adapters, one small module each; see :mod:`conformance.adapters.base`."""
