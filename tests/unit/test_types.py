"""The pure modules keep their type annotations: ``mypy --strict`` passes on
the modules listed under ``[tool.mypy] files`` in pyproject.toml (the wire
objects, the nftables renderer, the domain XML designer and config, the
scheduler's filters and weighers, the side-effect-free base)."""
import importlib.util
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.skipif(importlib.util.find_spec('mypy') is None,
                    reason='mypy is not installed (pip install .[test])')
def test_pure_modules_pass_mypy_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file',
         str(REPO / 'pyproject.toml'), '--cache-dir', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Success: no issues found' in result.stdout
