"""The package as a user gets it: the wheel holds the code, the corpus, the schemas and the data,
and ``conformance`` works from a fresh venv in a folder that is not a checkout.

The fresh venv gets the wheel with ``--no-deps``; its dependencies (numpy, mpmath, PyYAML,
jsonschema, ml_dtypes) come from the venv running the tests, through a ``.pth`` line, so nothing
is downloaded. That venv's own editable install of this project is not seen: a ``.pth`` line adds
a folder to ``sys.path`` but does not run the ``.pth`` files inside it, and the fresh venv's
site-packages comes first.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conformance.corpus import cases
from conformance.corpus.schema import editor_hint

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_LINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")
#: What a source tree copy for the build leaves out: caches, builds, reports, the git folder.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".*cache")


def test_every_case_file_of_the_project_names_its_schema_for_editors_on_its_first_line():
    files = cases.case_files([ROOT / "cases", ROOT / "extra"])
    assert len(files) > 1
    for path in files:
        with path.open(encoding="utf-8") as text:
            first = text.readline()
        assert first == editor_hint(path) + "\n", f"{path}: the first line is not its schema for editors"
        schema = (path.parent / SCHEMA_LINE.match(first).group(1)).resolve()
        assert schema == (ROOT / "conformance" / "schema" / "case-file.schema.json"), path
        assert json.loads(schema.read_text(encoding="utf-8"))["$schema"].startswith("https://json-schema.org/")


def _run(command, cwd, environment, timeout=300):
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the checkout (so no build/ folder is left in it), offline."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    shutil.rmtree(source / "reports", ignore_errors=True)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work)]
    _run([*command, str(source)], work, environment)
    (built,) = work.glob("loss_conformance-*.whl")
    return built


@pytest.mark.package
def test_the_wheel_holds_every_module_case_file_schema_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for folder in ("conformance", "oracle")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts
    }
    expected |= {f"conformance/cases/{path.name}" for path in (ROOT / "cases").glob("*.yaml")}
    assert expected - names == set()


@pytest.mark.package
def test_the_installed_wheel_validates_and_runs_the_corpus_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, os.environ)
    python = venv / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, {}).stdout.strip()
    )
    # The dependencies, from the venv running this test (see the module docstring).
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies.pth").write_text("\n".join(sorted(here)) + "\n")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["LOSS_CONFORMANCE_CACHE"] = str(tmp_path / "cache")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    _run([*install, str(wheel)], tmp_path, environment)
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    where = _run([python, "-c", "import conformance; print(conformance.__file__)"], outside, environment).stdout
    assert Path(where.strip()).is_relative_to(site)
    conformance = str(venv / "bin" / "conformance")
    validated = _run([conformance, "validate"], outside, environment).stdout
    corpus = cases.load([ROOT / "cases"])
    assert validated == f"{len(corpus.files)} file(s), {len(corpus.cases)} case(s): ok\n"
    ran = _run([conformance, "run", "--framework", "numpy", "--op", "softplus", "--out", "out"], outside, environment)
    report = json.loads((outside / "out" / "report.json").read_text())
    softplus = {c.id for c in corpus.cases if c.op == "softplus"}
    assert {r["case"] for r in report["results"]} == softplus, ran.stdout
    assert report["environment"]["frameworks"].keys() == {"numpy"}
