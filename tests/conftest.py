import sys
from pathlib import Path

# The fake adapters are imported by worker processes by module path.
TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

pytest_plugins = ["pytester"]
