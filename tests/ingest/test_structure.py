from rag.ingest.structure import parse_sections
from rag.ingest.text import normalise

TAG_PAGE = "003_dd93d9c36f4005fd.txt"


def test_tag_page_splits_into_its_articles(seeds_dir):
    original = (seeds_dir / TAG_PAGE).read_text(encoding="utf-8")
    titles = {s.title.split(" › ")[0] for s in parse_sections(original)}
    bullets = [line.strip()[1:].strip() for line in original.splitlines() if line.startswith("  •")]
    assert len(bullets) == 21
    assert set(bullets) <= titles
    assert "Tag: OpenAI" not in titles  # the page header is not an article


def test_every_sentence_maps_back_to_the_original(seeds_dir):
    for path in sorted(seeds_dir.iterdir()):
        original = path.read_text(encoding="utf-8")
        for section in parse_sections(original):
            for sentence in section.sentences:
                assert normalise(original[sentence.start : sentence.end]) == sentence.text


def test_repeated_paragraphs_and_boilerplate_are_dropped(seeds_dir):
    original = (seeds_dir / "004_1b3da3c838341435.txt").read_text(encoding="utf-8")
    repeated = "Our technology has become essential for millions of Europeans."
    assert original.count(repeated) == 2
    sentences = [s.text for section in parse_sections(original) for s in section.sentences]
    assert sentences.count(repeated) == 1
    newsletter = (seeds_dir / "000_01f05ed4881d1083.txt").read_text(encoding="utf-8")
    kept = " ".join(s.text for section in parse_sections(newsletter) for s in section.sentences)
    assert "Désabonnement" not in kept and "Pas de spam" not in kept


def test_headings_title_their_sections():
    text = (
        "My Report\nThe first paragraph is long enough to follow.\n"
        "Results\nThe second paragraph says more things.\n"
    )
    sections = parse_sections(text)
    assert [s.title for s in sections] == ["My Report", "My Report › Results"]


def test_hard_wrapped_paragraphs_are_joined():
    text = "This sentence is wrapped\nacross two lines. And another.\n"
    sentences = [s.text for section in parse_sections(text) for s in section.sentences]
    assert sentences == ["This sentence is wrapped across two lines.", "And another."]


def test_glued_list_numbers_are_left_out_of_sentences_with_exact_offsets():
    """Issue 17 item 2: "2Anthropic still refuses…" (a numbered list whose "2. " lost its dot
    and space in extraction) is cited as "Anthropic still refuses…", offsets exact."""
    text = (
        "Key Takeaways\n"
        "1OpenAI has agreed to open its model to European institutions.\n"
        "2Anthropic still refuses to share its Mythos model with Brussels.\n"
        "3The Commission seeks oversight of advanced models.\n\n"
        "1Password stores the keys of the team.\n"
    )
    sentences = [s for section in parse_sections(text) for s in section.sentences]
    by_start = {s.text.split()[0]: s for s in sentences}
    assert {"OpenAI", "Anthropic", "The", "1Password"} <= set(by_start)  # a lone "1Password" stays
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text
    assert not any(s.text.startswith(("1OpenAI", "2Anthropic", "3The")) for s in sentences)
