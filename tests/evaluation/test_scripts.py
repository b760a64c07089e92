"""The scripts under eval/ import against the current package (ruff does not resolve imports
and mypy checks rag/ only, so a moved module would otherwise break them silently)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "eval").glob("*.py")))
def test_eval_scripts_import(script, monkeypatch):
    spec = importlib.util.spec_from_file_location(f"eval_{script[:-3]}", ROOT / "eval" / script)
    module = importlib.util.module_from_spec(spec)
    # Registered as an import would be: dataclasses resolve a module's annotations through it.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # defines main(); runs nothing heavy at import
    assert callable(module.main)
