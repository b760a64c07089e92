"""The scripts under eval/ import against the current package (ruff does not resolve imports
and mypy checks rag/ only, so a moved module would otherwise break them silently)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "eval").glob("*.py")))
def test_eval_scripts_import(script, eval_script):
    module = eval_script(script)  # defines main(); runs nothing heavy at import
    assert callable(module.main)


def test_answerability_rows_read_with_another_reader_are_not_reused(tmp_path, eval_script):
    """`make train` refits on cached feature rows only when they hold this reader's scores:
    a swapped reader.pt would otherwise be fitted on the previous reader's rows."""
    import json

    import numpy as np

    script = eval_script("train_answerability.py")
    features = json.dumps(list(script.FEATURES))
    fingerprint = script.reader_fingerprint()
    assert len(fingerprint) == 64  # the shipped reader's weights, hashed
    np.savez(tmp_path / "same.npz", features=features, reader=fingerprint)
    np.savez(tmp_path / "other.npz", features=features, reader="0" * 64)
    np.savez(tmp_path / "old.npz", features=features)  # written before the fingerprint was kept
    assert script.cache_fits(np.load(tmp_path / "same.npz"), fingerprint)
    assert not script.cache_fits(np.load(tmp_path / "other.npz"), fingerprint)
    assert not script.cache_fits(np.load(tmp_path / "old.npz"), fingerprint)
