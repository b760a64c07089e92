"""Field cases (../shared/field-cases/): inputs users of other document-QA tools hit.

Each case's run.sh indexes its documents with this checkout's `rag` and asks its questions
through the public API; fieldcheck.py prints `RESULT: PASS` or `RESULT: FAIL (why)` per
question, with the expected values written in run.sh. The cases of the answer-quality work
are run here (duplicates, edits and deletions, tables, numbers across formats); skipped when
../shared is absent.
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT.parent / "shared" / "field-cases"

pytestmark = [
    pytest.mark.model,
    pytest.mark.benchmark,
    pytest.mark.skipif(not CASES.is_dir(), reason="../shared/field-cases is absent"),
]


@pytest.mark.parametrize(
    ("case", "checks"),
    [
        ("F04", 4),  # a byte-identical copy: one citation per sentence, no answer changes
        ("F05", 4),  # a file deleted, another edited: no stale citation, valid offsets
        ("F09", 2),  # a Markdown table: the matching row, never the header row
        ("F13", 3),  # "4523000" asked for "4,523,000"; no other year's figure added
    ],
)
def test_field_case_passes(case, checks, tmp_path):
    env = {**os.environ, "FIELD": str(tmp_path), "RAG_VENV": str(ROOT / ".venv"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["bash", str(CASES / case / "run.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    results = [line for line in run.stdout.splitlines() if line.startswith("RESULT:")]
    assert len(results) >= checks, run.stdout[-3000:] + run.stderr[-2000:]
    assert all(line == "RESULT: PASS" for line in results), run.stdout[-4000:]
