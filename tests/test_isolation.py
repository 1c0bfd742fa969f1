"""A framework that crashes, hangs or raises costs one case, never the run."""

import pytest

from conformance.run.runner import run

import fake_adapters

pytestmark = pytest.mark.usefixtures("workers_find_the_fakes")


def softplus_cases():
    return fake_adapters.softplus_cases(1, 13, 2, 3)


@pytest.mark.parametrize(
    ("spec", "verdict", "words"),
    [
        ("fake_adapters:crashing", "crash", "SIGABRT"),
        ("fake_adapters:hanging", "timeout", "no answer within 2 s"),
        ("fake_adapters:raising", "error", "FloatingPointError: the fake framework refuses 13"),
    ],
)
def test_one_bad_case_costs_one_result(spec, verdict, words):
    frameworks, results = run(softplus_cases(), [spec], timeout=2)
    assert not frameworks[0].skipped
    by_case = {r.case.id: r for r in results}
    assert by_case["fake/x=13"].status == verdict
    assert words in by_case["fake/x=13"].message
    # The cases before and after the bad one (the worker restarted) all ran.
    assert [by_case[f"fake/x={x}"].status for x in (1, 2, 3)] == ["ok", "ok", "ok"]
    assert by_case["fake/x=3"].value.tolist() == pytest.approx([3.0485873515737420])  # log(1 + e**3)


def test_a_framework_that_is_not_installed_is_skipped_with_its_reason():
    frameworks, results = run(softplus_cases(), ["fake_adapters:missing"])
    assert results == []
    assert frameworks[0].skipped == "not installed: No module named 'fakeframework'"


def test_an_adapter_that_declares_an_unknown_variant_errs_on_every_case_instead_of_running():
    frameworks, results = run(softplus_cases(), ["fake_adapters:misdeclared"])
    assert frameworks[0].unloadable
    assert [r.status for r in results] == ["error"] * 4
    assert "unknown semantic variant 'torch_log_flor'" in results[0].message
