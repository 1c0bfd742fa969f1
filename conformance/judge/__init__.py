"""Stage 3, judging: raw results + the exact oracle -> scored, explained verdicts.

``scoring`` compares elements (ULP, outcomes, tolerances), ``verdicts`` decides pass,
documented, xfail or fail for each result.
"""
