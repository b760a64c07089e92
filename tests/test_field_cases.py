"""Field cases (../shared/field-cases/): inputs users of other document-QA tools hit.

Each case's run.sh indexes its documents with this checkout's `rag` and asks its questions
through the public API; fieldcheck.py prints `RESULT: PASS` or `RESULT: FAIL (why)` per
question, with the expected values written in run.sh. Every case is run here;
skipped when ../shared is absent. The kinds behind them have their own tests beside the code
(test_loading, test_text, test_pdf_pages, test_injection, test_cli).
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT.parent / "shared" / "field-cases"

NEAR_MISS = "its last check, a near-miss question, is answered instead of abstaining (issue 29)"

pytestmark = [
    pytest.mark.model,
    pytest.mark.benchmark,
    pytest.mark.skipif(not CASES.is_dir(), reason="../shared/field-cases is absent"),
]


@pytest.mark.parametrize(
    ("case", "checks"),
    [
        ("F01", 2),  # a Windows-1252 note: read as cp1252, names as written
        ("F03", 2),  # empty files: named warnings; an only-empty folder keeps the old index
        ("F04", 4),  # a byte-identical copy: one citation per sentence, no answer changes
        ("F05", 4),  # a file deleted, another edited: no stale citation, valid offsets
        ("F06", 2),  # Chinese without spaces: one sentence cited, exact offsets
        ("F07", 2),  # a PDF word hyphenated across lines: joined for matching, answered
        ("F09", 2),  # a Markdown table: the matching row, never the header row
        ("F10", 3),  # a prompt injection in a document: never the answer
        ("F11", 2),  # names with spaces, accents, Japanese: indexed and cited by name
        ("F12", 1),  # a 13 KB line without a full stop: a short cited span
        ("F13", 3),  # "4523000" asked for "4,523,000"; no other year's figure added
        ("F15", 4),  # an HTML page: the article only, its byline and date answer who/when
        ("F17", 1),  # CRLF: offsets hold for open(file).read()
        ("F19", 3),  # `rag index b.md` after `rag index a.md`: a.md kept
        ("F20", 6),  # a two-column PDF page (also drawn row by row): sentences whole, in order
        # F21 and F24 read and answer as they should; each ends with a near-miss question
        # about a fact the document does not state ("How many employees …?" beside "employs
        # bakers, drivers and shop staff"; a parking fee beside the rent), answered instead of
        # abstaining: the reader's abstention (issue 29), not the layout. Strict: once they
        # pass, the mark must go.
        pytest.param("F21", 3, marks=pytest.mark.xfail(strict=True, reason=NEAR_MISS)),
        ("F22", 4),  # a ruled PDF price table: the row with its header answers
        pytest.param("F24", 4, marks=pytest.mark.xfail(strict=True, reason=NEAR_MISS)),
        ("F25", 3),  # an .xlsx workbook: the row with its headers, citing the sheet
        ("F27", 3),  # a .pptx deck with notes: a bullet answers, citing its slide
        ("F28", 3),  # an .eml message: the body answers, the sender from the headers
        ("F32", 5),  # two companies' reports: a third company, or an unstated fact, abstains
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
