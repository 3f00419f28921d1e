"""The code stays ruff-clean: the lint runs as part of the one test command."""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.one_store  # lint: no store opened

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    pytest.importorskip("ruff", reason="ruff comes with the test extras: pip install -e '.[test]'")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
