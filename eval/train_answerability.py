"""Fit the answerability model (rag/answer/answerability.json) on public data: `make train`.

Protocol: features are read on the **dev halves** only (the first half of each question
file; rag eval reports on the second half):

* SQuAD v2.0 dev (../shared/benchmarks/squad-dev/qa_v2.0.jsonl): answerable questions and
  adversarial unanswerable ones written against the same Wikipedia paragraphs, minus the
  half of the paragraphs the reader's second stage trained on (eval/train_reader.py);
* COVID-QA dev: long scientific papers, every question answerable (another corpus, another
  question style, another cosine scale);
* the seeds eval/qa.jsonl dev half: news pages, with near-miss unanswerable questions.

eval/qa_blind.jsonl is never read here. A logistic regression (scikit-learn, lbfgs,
deterministic) is fitted on the standardised features, each set weighted equally by its
number of questions; the threshold is the highest one at which false abstention stays at
or under --max-false on the answerable dev questions of *every* set, so no corpus style
pays for another. Figures per set are printed and stored in the JSON's "info".

    python eval/train_answerability.py [--max-false 0.05] [--index-root index/datasets]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer import reader
from rag.answer.answerability import FEATURES, MODEL_FILE, AnswerabilityModel
from rag.engine import Engine
from rag.evaluation.datasets import Example, load_benchmark_examples, load_seed_examples, split_examples
from rag.indexing.build import build_index
from rag.ingest.loading import load_jsonl, load_paths
from rag.store import load_index

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_reader import stage2_paragraph  # noqa: E402  (the reader's stage-2 half of the dev paragraphs)

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
SEED = 0
VETO_QUANTILE = 0.03  # answerable dev questions the reader veto may refuse, at most (see fit)


def features_of(engine: Engine, examples: list[Example], k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels (1 = answerable) of ``examples`` on ``engine``'s index."""
    rows, labels = [], []
    for example in examples:
        retrieval = engine.retriever.search(example.question)
        rows.append(engine.answerer.assess(retrieval, k).evidence_row)
        labels.append(int(example.answerable))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def datasets(index_root: Path, seeds_index: Path) -> dict[str, tuple[Engine, list[Example]]]:
    """The dev halves to train on, each with the engine of its corpus."""
    if not BENCHMARKS.is_dir():
        sys.exit(f"{BENCHMARKS} is absent: the training data lives there.")
    squad_index = index_root / "squad-dev"
    build_index(load_jsonl(BENCHMARKS / "squad-dev" / "corpus.jsonl"), squad_index)
    covid_index = index_root / "covidqa-200423"
    build_index(load_jsonl(BENCHMARKS / "covidqa-200423" / "corpus.jsonl"), covid_index)
    build_index(load_paths([ROOT / "seeds"]), seeds_index)
    squad = Engine.open(load_index(squad_index))
    covid = Engine.open(load_index(covid_index), squad.embedder)
    seeds = Engine.open(load_index(seeds_index), squad.embedder)
    return {
        "squad-v2": (
            squad,
            [
                e
                for e in split_examples(
                    load_benchmark_examples(BENCHMARKS / "squad-dev", "qa_v2.0.jsonl"), "dev"
                )
                if not any(stage2_paragraph(p) for p in e.sources)  # the reader trained on those
            ],
        ),
        "covidqa": (covid, split_examples(load_benchmark_examples(BENCHMARKS / "covidqa-200423"), "dev")),
        "seeds": (
            seeds,
            split_examples(load_seed_examples(ROOT / "eval" / "qa.jsonl", ROOT / "seeds"), "dev"),
        ),
    }


def fit(rows: dict[str, tuple[np.ndarray, np.ndarray]], max_false: float, c: float) -> AnswerabilityModel:
    """Logistic regression on the pooled sets, each weighted to count equally; the reader veto
    at the 3rd percentile of the answerable questions' reader margins (lowest over the sets);
    the threshold then the highest keeping false abstention (veto included) <= max_false in
    every set."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([r for r, _ in rows.values()])
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)  # text the reader could not read: the mean
    y = np.concatenate([lab for _, lab in rows.values()])
    weight = np.concatenate([np.full(len(lab), len(y) / (len(rows) * len(lab))) for _, lab in rows.values()])
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    model = LogisticRegression(C=c, max_iter=5000, random_state=SEED)
    model.fit((x - mean) / scale, y, sample_weight=weight)
    margin = FEATURES.index("reader_margin")
    veto = min(
        float(np.nanquantile(x_set[y_set == 1][:, margin], VETO_QUANTILE)) for x_set, y_set in rows.values()
    )
    fitted = AnswerabilityModel(
        tuple(mean), tuple(scale), tuple(model.coef_[0]), float(model.intercept_[0]), 0.0, {}, veto
    )
    threshold = 1.0
    for x_set, y_set in rows.values():
        answerable = x_set[y_set == 1]
        kept = [row for row in answerable if not fitted.vetoed(row)]
        p = np.sort([fitted.probability(row) for row in kept])
        allowed = int(np.floor(max_false * len(answerable))) - (len(answerable) - len(kept))
        threshold = min(threshold, float(p[allowed]) if 0 <= allowed < len(p) else 0.0)
    return AnswerabilityModel(
        fitted.mean, fitted.scale, fitted.weights, fitted.intercept, threshold, {}, veto
    )


def report(
    model: AnswerabilityModel, rows: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, dict[str, float]]:
    """Per set: false abstention, abstention on unanswerable, AUROC (when both kinds exist)."""
    from sklearn.metrics import roc_auc_score

    figures = {}
    for name, (x, y) in rows.items():
        p = np.array([model.probability(row) for row in x])
        answered = (p >= model.threshold) & np.array([not model.vetoed(row) for row in x])
        entry = {"questions": int(len(y)), "false_abstention": round(float(np.mean(~answered[y == 1])), 4)}
        if (y == 0).any():
            entry["abstention"] = round(float(np.mean(~answered[y == 0])), 4)
            entry["auroc"] = round(float(roc_auc_score(y, p)), 4)
        figures[name] = entry
    return figures


def reader_fingerprint() -> str:
    """SHA-256 of the shipped reader's weights ("none" without one): the cached feature rows
    hold its scores, so rows read with another reader must not be refitted on."""
    return reader.weights_sha256() if reader.available() else "none"


def cache_fits(cached: Any, fingerprint: str) -> bool:
    """The cached rows were read with these FEATURES and this reader (older caches: no)."""
    return (
        json.loads(str(cached["features"])) == list(FEATURES)
        and "reader" in cached.files
        and str(cached["reader"]) == fingerprint
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-false", type=float, default=0.05, help="false abstention allowed per dev set")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    parser.add_argument("--index-root", type=Path, default=ROOT / "index" / "datasets")
    parser.add_argument("--cache", type=Path, default=ROOT / "index" / "train" / "answerability.npz")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args()

    rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    fingerprint = reader_fingerprint()
    cached = np.load(args.cache) if args.cache.is_file() else None
    if cached is not None and cache_fits(cached, fingerprint):
        names = json.loads(str(cached["names"]))
        rows = {n: (cached[f"x_{n}"], cached[f"y_{n}"]) for n in names}
    else:
        with tempfile.TemporaryDirectory() as scratch:
            for name, (engine, examples) in datasets(args.index_root, Path(scratch) / "seeds").items():
                rows[name] = features_of(engine, examples)
                print(f"{name}: {len(examples)} questions read", flush=True)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            args.cache,
            features=json.dumps(list(FEATURES)),
            reader=fingerprint,
            names=json.dumps(list(rows)),
            **{f"x_{n}": x for n, (x, _) in rows.items()},
            **{f"y_{n}": y for n, (_, y) in rows.items()},
        )
    model = fit(rows, args.max_false, args.c)
    figures = report(model, rows)
    info = {
        "trained_on": {
            n: {"questions": int(len(y)), "answerable": int(y.sum())} for n, (_, y) in rows.items()
        },
        "dev_figures": figures,
        "max_false_abstention": args.max_false,
        "c": args.c,
        "script": "eval/train_answerability.py",
    }
    model = AnswerabilityModel(
        model.mean, model.scale, model.weights, model.intercept, model.threshold, info, model.reader_veto
    )
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"threshold {model.threshold:.4f}; reader veto {model.reader_veto:.3f}; weights:")
    for name, weight in sorted(zip(FEATURES, model.weights, strict=True), key=lambda p: -abs(p[1])):
        print(f"  {name:18s} {weight:+.3f}")
    for name, entry in figures.items():
        print(f"  dev {name}: {entry}")


if __name__ == "__main__":
    main()
