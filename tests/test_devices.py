"""--device: the worker environment, the skip without a GPU, and the GPU runs themselves (skipped
where no GPU is visible)."""

import os
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.corpus.cases import Case
from conformance.report import diff
from conformance.report import document as reports
from conformance.run import devices
from conformance.run.runner import adapter_specs, run

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def has_cuda():
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


needs_gpu = pytest.mark.skipif(not has_cuda(), reason="no CUDA device visible (torch sees none)")


@pytest.fixture
def workers_find_the_fakes(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def softplus_case(dtypes=("float32",)):
    return Case(
        id="device/softplus",
        description="d",
        provenance="test",
        op="softplus",
        params={},
        inputs={"x": [-20, 0, 30]},
        dtypes=dtypes,
    )


def test_a_cpu_worker_sees_no_gpu_and_a_cuda_worker_keeps_the_callers_choice():
    base = {"CUDA_VISIBLE_DEVICES": "1", "PATH": "/bin"}
    cpu = devices.worker_environment("cpu", base)
    assert cpu["CUDA_VISIBLE_DEVICES"] == "" and cpu["JAX_PLATFORMS"] == "cpu" and cpu[devices.VARIABLE] == "cpu"
    cuda = devices.worker_environment("cuda", base)
    assert cuda["CUDA_VISIBLE_DEVICES"] == "1" and cuda["JAX_PLATFORMS"] == "cuda" and cuda[devices.VARIABLE] == "cuda"
    with pytest.raises(ValueError, match="unknown device"):
        devices.worker_environment("tpu", base)


def test_the_device_reaches_the_worker_and_a_framework_without_it_is_skipped(workers_find_the_fakes):
    frameworks, results = run([softplus_case()], ["fake_adapters:device_bound"])
    assert frameworks[0].version == "cpu, CUDA_VISIBLE_DEVICES=''"
    assert [r.status for r in results] == ["ok"]
    frameworks, results = run([softplus_case()], ["fake_adapters:device_bound"], device="cuda")
    assert results == []
    assert frameworks[0].skipped == "not available on cuda: the fake framework has no GPU"


def test_an_unknown_device_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--device", "tpu"])
    assert stopped.value.code == 2


@pytest.mark.skipif(has_cuda(), reason="this machine has a GPU: the skip is what it cannot show")
def test_without_a_gpu_every_real_framework_is_skipped_on_cuda_with_its_reason():
    installed = [spec for spec in ("torch", "numpy") if spec in adapter_specs()]
    if not installed:
        pytest.skip("neither torch nor numpy is installed")
    frameworks, results = run([softplus_case()], installed, device="cuda")
    assert results == []
    for framework in frameworks:
        assert framework.skipped.startswith("not available on cuda: "), framework.skipped


@needs_gpu
def test_torch_on_cuda_runs_and_names_its_device():
    frameworks, results = run([softplus_case(("float32", "float64"))], ["torch"], device="cuda")
    assert not frameworks[0].skipped, frameworks[0].skipped
    assert "[cuda: " in frameworks[0].version
    assert [r.status for r in results] == ["ok", "ok"]
    # softplus(30) = 30 + 9.4e-14 is 30 in both dtypes; softplus(0) = log 2.
    for result in results:
        assert result.value.tolist()[1:] == pytest.approx([0.6931471805599453, 30.0], rel=1e-7)


@needs_gpu
def test_a_cuda_run_diffs_against_a_cpu_run_of_the_same_cases(tmp_path):
    seeds = ROOT / "cases" / "seeds.yaml"
    for device in ("cpu", "cuda"):
        code = main(["run", str(seeds), "--framework", "torch", "--device", device, "--report-only",
                     "--out", str(tmp_path / device)])  # fmt: skip
        assert code == 0
    old, new = (reports.read(tmp_path / d / "report.json") for d in ("cpu", "cuda"))
    assert "[cuda: " in new["environment"]["frameworks"]["torch"]
    changes = diff.compare(old, new)
    assert set(changes) == {"regressions", "fixes", "changed"}
