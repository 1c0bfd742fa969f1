"""Stage 4, reporting: report.json (the source of truth) and what is rendered from it.

Nothing here imports the running or judging stages: every presentation (JSON, JUnit, HTML,
findings, diff, matrix) is made from the report document alone.
"""
