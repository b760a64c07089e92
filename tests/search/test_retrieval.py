import json

import numpy as np
import pytest

from rag.evaluation.datasets import load_benchmark_examples
from rag.evaluation.metrics import retrieval_figures
from rag.search.retrieval import MODES, Retriever, RetrieverSettings, merged_span, to_passages
from tests.conftest import SHARED_BENCHMARKS


def test_every_stage_ranks_the_right_article_first(engine):
    candidates = engine.retriever.candidates("How many parameters does Mistral Medium 3.5 have?")
    for mode in MODES:
        top = engine.index.chunks[engine.retriever.rank(candidates, mode)[0].position]
        assert "Mistral" in top.title, mode


def test_overlapping_chunks_are_folded_into_one_passage(engine, seeds_dir):
    retriever = Retriever(engine.index, engine.embedder, RetrieverSettings(collapse=False))
    candidates = retriever.candidates("SoftBank bridge loan JPMorgan Bloomberg")
    raw = retriever.rank(candidates)
    folded = engine.retriever.rank(candidates)
    assert any(hit.also for hit in folded)
    assert len(folded) < len(raw)
    for hit in folded:
        start, end, text = merged_span(engine.index, hit)
        source = engine.index.chunks[hit.position].source
        assert (seeds_dir / source).read_text(encoding="utf-8")[start:end] == text
    # No two passages of one section overlap any more.
    passages = to_passages(engine.index, folded)
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            if (a.source, a.title) == (b.source, b.title):
                assert a.end <= b.start or b.end <= a.start


def test_rrf_fusion_is_available_for_comparison(fake_engine):
    retriever = Retriever(
        fake_engine.index, fake_engine.embedder, RetrieverSettings(fusion="rrf", mode="hybrid")
    )
    hits = retriever.search("Who leads OpenAI's robotics team?").hits
    assert hits and all(h.score > 0 for h in hits)


@pytest.mark.model
def test_jsonl_corpus_cites_corpus_ids(tmp_path):
    from rag.api import ask, build_index, retrieve

    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {
            "id": "doc-volcano",
            "title": "Volcanoes",
            "text": "Mount Etna is the tallest active volcano in Europe. It stands on Sicily.",
        },
        {
            "id": "doc-river",
            "title": "Rivers",
            "text": "The Danube flows through ten countries before reaching the Black Sea.",
        },
        {
            "id": "doc-bridge",
            "title": "Bridges",
            "text": "The Millau Viaduct in France is the tallest bridge in the world.",
        },
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = build_index(jsonl=corpus, index=tmp_path / "idx")
    assert report.files == 3
    passages = retrieve("Which river reaches the Black Sea?", index=tmp_path / "idx", k=2)
    assert passages[0].source == "doc-river" and passages[0].title == "Rivers"
    answer = ask("How many countries does the Danube flow through?", index=tmp_path / "idx")
    assert not answer.abstained and "ten countries" in answer.text
    assert answer.citations[0].source == "doc-river"


def test_the_reranker_rewards_the_questions_phrases(tmp_path, embedder):
    """Same words, but only one chunk holds them as the question's phrases."""
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_jsonl
    from rag.search.reranking import RERANK_FEATURES
    from rag.store import load_index

    rows = [
        {
            "id": "apart",
            "title": "Notes",
            "text": "The period of study was long. Incubation of samples took a week.",
        },
        {
            "id": "phrase",
            "title": "Notes",
            "text": "The incubation period of the virus was a week in this study.",
        },
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    build_index(load_jsonl(corpus), tmp_path / "idx", embedder=embedder)
    engine = Engine.open(load_index(tmp_path / "idx"), embedder)
    candidates = engine.retriever.candidates("What is the incubation period of the virus?")
    hits = engine.retriever.rank(candidates, "hybrid")
    features = dict(
        zip(
            (engine.index.chunks[h.position].source for h in hits),
            engine.retriever.reranker.features(candidates, hits),
            strict=True,
        )
    )
    phrase, phrase3 = RERANK_FEATURES.index("phrase"), RERANK_FEATURES.index("phrase3")
    assert (
        features["phrase"][phrase] == 1.0 and features["apart"][phrase] == 0.0
    )  # "incubation period", "period virus"
    assert features["phrase"][phrase3] == 1.0 and features["apart"][phrase3] == 0.0
    assert engine.index.chunks[engine.retriever.rank(candidates)[0].position].source == "phrase"


@pytest.mark.benchmark
@pytest.mark.skipif(not (SHARED_BENCHMARKS / "squad-dev").is_dir(), reason="../shared/benchmarks is absent")
def test_squad_slice_retrieval_quality(tmp_path, embedder):
    """A 150-paragraph slice of SQuAD v1.1 dev: a quality floor, far below the full-run figures."""
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_jsonl
    from rag.store import load_index

    folder = SHARED_BENCHMARKS / "squad-dev"
    lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:150]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    build_index(load_jsonl(corpus), tmp_path / "idx", embedder=embedder)
    engine = Engine.open(load_index(tmp_path / "idx"), embedder)
    ids = {json.loads(line)["id"] for line in lines}
    examples = [e for e in load_benchmark_examples(folder) if e.sources <= ids][::5][:120]
    candidates = [engine.retriever.candidates(e.question) for e in examples]
    figures = {
        mode: retrieval_figures(
            examples, [to_passages(engine.index, engine.retriever.rank(c, mode)[:20]) for c in candidates]
        )
        for mode in MODES
    }
    print(figures)
    assert len(examples) >= 100
    # Early SQuAD articles ask many questions that fit several paragraphs ("What day was the
    # game played on?"), so the floor is set by BM25 on the same slice, not by full-run figures.
    assert figures["rerank"]["hit@1"] >= figures["bm25"]["hit@1"]
    assert figures["rerank"]["hit@5"] >= figures["bm25"]["hit@5"]
    assert figures["rerank"]["mrr@10"] > figures["dense"]["mrr@10"]


def test_phrase_share_matches_whole_terms_in_order_only():
    """The reranker's phrase feature: a question's run of words found as whole terms, in order."""
    from rag.search.reranking import _gram_keys, _share
    from rag.store.terms import SEPARATOR

    def share(question: list[str], chunk: list[str], n: int) -> float:
        return _share(_gram_keys(question, n), SEPARATOR + SEPARATOR.join(chunk) + SEPARATOR)

    assert share(["new", "york", "harbour"], ["the", "new", "york", "harbour"], 2) == 1.0
    assert share(["new", "york", "harbour"], ["the", "new", "york", "harbour"], 3) == 1.0
    assert share(["new", "york"], ["york", "new"], 2) == 0.0  # out of order
    assert share(["new", "york"], ["renew", "yorkshir"], 2) == 0.0  # parts of other terms
    assert share(["ab", "c"], ["a", "bc"], 2) == 0.0
    assert share(["new", "york", "citi"], ["new", "york", "town"], 2) == 0.5
    assert share(["new", "new"], ["new", "new"], 2) == 0.0  # a repeated word is no phrase
    assert share(["york"], ["york"], 2) == 0.0  # no phrase in the question


def test_settings_refuse_misspelt_weights_and_out_of_range_values():
    from rag.answer.extractive import AnswerSettings
    from rag.search.reranking import RerankSettings

    with pytest.raises(ValueError, match="unknown feature.*cosin"):
        AnswerSettings(weights={"cosin": 0.2})
    with pytest.raises(ValueError, match="unknown feature.*titel"):
        RerankSettings(weights={"titel": 0.1})
    with pytest.raises(ValueError, match="dense_weight"):
        RetrieverSettings(dense_weight=1.5)
    with pytest.raises(ValueError, match="mode"):
        RetrieverSettings(mode="semantic")  # type: ignore[arg-type]


def test_the_fake_embedder_is_deterministic_and_normalised(fake_embedder):
    vectors = fake_embedder.encode(["The harbour of Kotka", "the harbour of kotka", "Quantum physics"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1]) and abs(float(vectors[0] @ vectors[2])) < 0.5
    assert np.array_equal(
        vectors, fake_embedder.encode(["The harbour of Kotka", "the harbour of kotka", "Quantum physics"])
    )


def test_the_fake_engine_retrieves_the_passage_holding_the_words(fake_engine):
    passages = fake_engine.retrieve("Thomas Regnier Commission spokesperson", k=3)
    assert "Regnier" in passages[0].text and "spokesperson" in passages[0].text
    assert [p.rank for p in passages] == [1, 2, 3]
