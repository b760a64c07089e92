"""Named subjects (rag.answer.subjects): which the documents name, under which spellings."""

from __future__ import annotations

from rag.answer.subjects import named_subjects, naming_hits, subject_terms, unknown_subject


def test_subjects_are_runs_of_capitalised_words_after_the_first():
    assert named_subjects("How many people does Harborne Foods employ?") == [
        ("Harborne Foods", ["harborn", "food"])
    ]
    assert [w for w, _ in named_subjects("What was Vesterhavn Shipping's capital expenditure?")] == [
        "Vesterhavn Shipping"
    ]
    assert named_subjects("what is the capital expenditure?") == []


def test_a_subject_no_document_names_is_unknown(fake_engine):
    index = fake_engine.index

    def unknown(question):
        return unknown_subject(subject_terms(index, question))

    assert unknown("What was Vesterhavn Shipping's revenue in 2025?") == "Vesterhavn Shipping"
    assert unknown("Who is the Commission spokesperson?") is None
    assert unknown("What did OpenAI announce?") is None
    # Spellings the index knows: a shorter or longer form of the same word counts.
    assert "openai" in index.spellings("openai")
    assert index.spellings("vesterhavn") == []


def test_the_answer_comes_from_documents_naming_the_subject(fake_engine):
    question = "What did the Commission say about OpenAI?"
    hits = fake_engine.retriever.search(question).hits[:5]
    kept = naming_hits(fake_engine.index, subject_terms(fake_engine.index, question), hits)
    assert kept and all(h in hits for h in kept)
    for hit in kept:
        source = fake_engine.index.chunks[hit.positions[0]].source
        text = " ".join(
            fake_engine.index.chunks[p].text for p in fake_engine.index.positions_of(source)
        ).lower()
        assert "commission" in text or "openai" in text
    assert (
        naming_hits(fake_engine.index, subject_terms(fake_engine.index, "what is it?"), hits) == hits
    )  # no subject: all stay
