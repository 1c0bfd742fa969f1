"""Stage 1, the corpus: case files (YAML) -> validated :class:`~conformance.corpus.cases.Case` records.

``source`` reads YAML with lines, ``values`` and ``generators`` resolve the value grammar
exactly per dtype, ``cases`` loads, validates and expands sweeps.
"""
