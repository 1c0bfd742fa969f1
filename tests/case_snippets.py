"""Case-file snippets more than one test module writes."""


def expects_an_error(case_id: str) -> str:
    """A case entry that (wrongly, on purpose) expects softplus(1) to raise: every framework
    returns log(1 + e) = 1.3132616875..., so it fails, in value and gradient."""
    return f"""
  - id: {case_id}
    description: a case that (wrongly, on purpose) expects softplus(1) to raise
    provenance: test fixture
    op: softplus
    inputs: {{x: [1]}}
    expect: error
    dtypes: [float32]
"""
