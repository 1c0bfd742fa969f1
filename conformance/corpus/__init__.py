"""Stage 1, the corpus: case files (YAML) -> validated :class:`~conformance.corpus.cases.Case` records.

``source`` reads YAML with lines, ``values`` and ``generators`` resolve the value grammar
exactly per dtype, ``sweeps`` turns an entry's sweep into literals and ids, ``cases`` loads
and validates; ``limits`` holds what a case file may ask of all of them (data/limits.yaml).
"""
