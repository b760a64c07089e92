import itertools

import pytest

from rag.ingest.chunking import ChunkerSettings, chunk_sections, embedding_text
from rag.ingest.structure import parse_sections
from rag.ingest.tokens import count_tokens


def chunk_file(path, settings, fits=None):
    original = path.read_text(encoding="utf-8")
    return original, chunk_sections(path.name, original, parse_sections(original), settings, fits)


def test_chunk_offsets_are_the_exact_original_text(seeds_dir):
    for path in sorted(seeds_dir.iterdir()):
        original, chunks = chunk_file(path, ChunkerSettings())
        assert chunks
        for chunk in chunks:
            assert original[chunk.start : chunk.end] == chunk.text
            assert chunk.source == path.name and chunk.title
            for sentence in chunk.sentences:
                assert chunk.start <= sentence.start < sentence.end <= chunk.end


@pytest.mark.parametrize("max_tokens", [64, 128, 240])
def test_no_chunk_exceeds_the_budget_or_the_embedder_limit(seeds_dir, embedder, max_tokens):
    settings = ChunkerSettings(max_tokens=max_tokens, overlap_tokens=16)
    for path in sorted(seeds_dir.iterdir()):
        _, chunks = chunk_file(path, settings, embedder.fits)
        for chunk in chunks:
            text = embedding_text(chunk.title, chunk.sentences)
            # MiniLM silently truncates past 256 word pieces: every chunk must be read whole.
            assert embedder.count_tokens(text) <= embedder.max_tokens
            if len(chunk.sentences) > 1:
                assert count_tokens(text) <= max_tokens + len(chunk.sentences)


def test_sentences_are_never_cut_unless_too_long(seeds_dir):
    original, chunks = chunk_file(
        seeds_dir / "001_e7367d59c646826d.txt", ChunkerSettings(max_tokens=64, overlap_tokens=0)
    )
    sentences = {(s.start, s.end) for section in parse_sections(original) for s in section.sentences}
    for chunk in chunks:
        for sentence in chunk.sentences:
            assert (sentence.start, sentence.end) in sentences


def test_an_over_long_sentence_is_split_within_the_embedder_limit(embedder):
    # One "sentence" of 3,000 words and odd tokens: far past 256 word pieces.
    original = "Intro line here.\n" + " ".join(f"token{i}xyz-ünïcödé" for i in range(3000)) + "\n"
    chunks = chunk_sections("long.txt", original, parse_sections(original), ChunkerSettings(), embedder.fits)
    assert len(chunks) > 10
    for chunk in chunks:
        assert original[chunk.start : chunk.end] == chunk.text
        assert embedder.fits(embedding_text(chunk.title, chunk.sentences))


def test_overlap_repeats_trailing_sentences(seeds_dir):
    _, chunks = chunk_file(
        seeds_dir / "002_de42bf26e336e8bb.txt", ChunkerSettings(max_tokens=80, overlap_tokens=40)
    )
    same_section = [(a, b) for a, b in itertools.pairwise(chunks) if a.title == b.title]
    assert same_section
    assert any(set(a.sentences) & set(b.sentences) for a, b in same_section)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkerSettings(max_tokens=64, overlap_tokens=64)


def test_a_one_line_megabyte_is_indexed_in_linear_work():
    """Issue 14 row 10: a 1 MB file on one line, "# word # word …", was one giant heading
    that every chunk repeated as its title (quadratic: 80 KB took 39 s). The work is now
    proportional to the text: what is embedded and tokenized stays within 3x the file."""
    import random

    from rag.embedding.embedders import HashEmbedder

    rng = random.Random(0)
    words = "harbour archive cargo ship opens nine".split()
    text = " ".join("# " + rng.choice(words) for _ in range(1024 * 1024 // 9))
    chunks = chunk_sections(
        "one.md", text, parse_sections(text, title=""), ChunkerSettings(), HashEmbedder().fits
    )
    embedded = sum(len(embedding_text(c.title, c.sentences)) for c in chunks)
    assert len(chunks) > 100 and max(len(c.title) for c in chunks) <= 300
    assert embedded <= 3 * len(text)
