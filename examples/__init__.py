"""Custom losses, naive and fixed, for `conformance gate` (see the README)."""
