"""Per-format answer accuracy over a folder of documents and a question file.

Usage: python eval/formats_eval.py DOCS QUESTIONS.jsonl [--index DIR] [--json OUT]

QUESTIONS rows: {"id", "question", "answers": [...], "source", "format"}; "answers" empty
for a question the documents do not answer. An answer is right when it does not abstain,
holds one of the gold answers (case and spacing aside, thousands separators ignored) and
its first citation is the question's source; an unanswerable question is right when the
answer abstains. Used for issue 31's blind company document set (docs/formats.md); it runs
with any checkout's `rag` on PYTHONPATH, so the same script measures before and after.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def norm(text: str) -> str:
    text = re.sub(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)", "", text.casefold())
    return " ".join(text.replace("\f", " ").split())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("docs", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index or Path(scratch) / "index"
        started = time.perf_counter()
        built = subprocess.run(
            [sys.executable, "-m", "rag", "index", str(args.docs), "--index", str(index)],
            capture_output=True,
            text=True,
        )
        build_s = time.perf_counter() - started
        print(built.stderr[-3000:], file=sys.stderr)
        from rag.api import ask

        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        details = []
        for row in rows:
            answer = ask(row["question"], index=str(index))
            gold = [norm(a) for a in row.get("answers") or []]
            first = answer.citations[0].source if answer.citations else None
            if gold:
                right = (
                    not answer.abstained
                    and any(g in norm(answer.text) for g in gold)
                    and first is not None
                    and Path(first).name == row["source"]
                )
            else:
                right = answer.abstained
            fmt = row.get("format") or "none"
            per[fmt][0] += right
            per[fmt][1] += 1
            details.append(
                {"id": row["id"], "format": fmt, "right": right, "answer": answer.text[:300], "source": first}
            )
    answerable = [d for d in details if d["format"] != "none"]
    figures = {
        "answer_accuracy": sum(d["right"] for d in answerable) / max(len(answerable), 1),
        "abstention_unanswerable": per["none"][0] / per["none"][1] if per["none"][1] else None,
        "index_build_s": round(build_s, 1),
        "per_format": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per.items())},
    }
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**figures, "details": details}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
