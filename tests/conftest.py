import os
import sys
from pathlib import Path

import pytest

# The fake adapters are imported by worker processes by module path.
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

pytest_plugins = ["pytester"]


@pytest.fixture
def workers_find_the_fakes(monkeypatch):
    """Worker processes import the fake adapters by module path: put this folder on theirs."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
