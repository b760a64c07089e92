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


def test_answerability_rows_read_with_another_reader_are_not_reused(tmp_path, monkeypatch):
    """`make train` refits on cached feature rows only when they hold this reader's scores:
    a swapped reader.pt would otherwise be fitted on the previous reader's rows."""
    import json

    import numpy as np

    spec = importlib.util.spec_from_file_location(
        "eval_train_answerability", ROOT / "eval" / "train_answerability.py"
    )
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)
    spec.loader.exec_module(script)
    features = json.dumps(list(script.FEATURES))
    fingerprint = script.reader_fingerprint()
    assert len(fingerprint) == 64  # the shipped reader's weights, hashed
    np.savez(tmp_path / "same.npz", features=features, reader=fingerprint)
    np.savez(tmp_path / "other.npz", features=features, reader="0" * 64)
    np.savez(tmp_path / "old.npz", features=features)  # written before the fingerprint was kept
    assert script.cache_fits(np.load(tmp_path / "same.npz"), fingerprint)
    assert not script.cache_fits(np.load(tmp_path / "other.npz"), fingerprint)
    assert not script.cache_fits(np.load(tmp_path / "old.npz"), fingerprint)
