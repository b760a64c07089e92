"""Extractive answering: pick the best-supported sentences of the retrieved passages.

Each candidate sentence gets a few features that need no extra model (see ``FEATURES``):

* ``cosine``   – MiniLM similarity of question and sentence (sentence vectors are computed
                 at index time, so this costs one matrix product);
* ``focus``    – IDF-weighted share of the question's content words found in the sentence,
                 counting only words that are *not* in the section title (all of them when
                 all are): the title says what every sentence there is about, so the one that
                 answers is the one with the rest of the question's words;
* ``context``  – the share over the sentence, the one before it and its section title,
                 so "the Japanese conglomerate" still counts as talking about SoftBank;
* ``passage``  – the first-stage (fused) retrieval score of its passage, relative to the best;
* ``kind``     – whether the sentence brings something new of the kind the question asks
                 for (a number for "how many", a name for "who"; see answer_types);
* ``length``   – how long it is (longer sentences carry more facts).

A sentence's score is a weighted sum of its features; the weights were chosen on the dev
halves of eval/qa.jsonl and SQuAD v1.1 (eval/tune.py), where plain sentence overlap and a
"novelty" feature earned no weight and were dropped. Sentences that only repeat their
section's title are not answers: headlines restate the question's topic without answering.

Whether to answer at all is decided separately, by the fitted answerability model
(:mod:`rag.answer.answerability`); ``Answer.confidence`` is its probability (0..1). A second
sentence is shown only when it adds to the first (see :meth:`ExtractiveAnswerer._choose`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.answer.answerability import (
    answerability_features,
    fully_supported,
    load_model,
    model_file,
    names,
    question_constraints,
)
from rag.answer.reader import UNREAD, Reading, in_latin_script, numbers_as_written, shared_reader
from rag.answer.subjects import naming_hits, subject_terms, unknown_subject
from rag.config import check_weights
from rag.ingest.lexical import coverage, tokenize
from rag.ingest.text import readable
from rag.injection import looks_like_instruction
from rag.records import NOT_FOUND, Answer, AnswerSentence, Citation
from rag.search.answer_types import METADATA_TYPES, AnswerType, is_bare_dateline, offers
from rag.search.hits import Hit, Retrieval
from rag.store.index import Index

if TYPE_CHECKING:
    import numpy as np

CONFIDENCE_DEPTH = 5
# Passages the reader reads (the top ones after the reranker): see docs/answering.md.
READ_DEPTH = 1
# How far down the ranking a table row naming every name and number of the question is looked for.
ROW_SEARCH = 20
# The reader's margin (best span minus "no answer") above which its sentence leads.
READER_LEADS_ABOVE = 0.0
FEATURES = ("cosine", "focus", "context", "passage", "kind", "length")


def _default_weights() -> dict[str, float]:
    return {"cosine": 0.2, "focus": 0.15, "context": 0.2, "passage": 0.2, "kind": 0.2, "length": 0.05}


@dataclass(frozen=True)
class AnswerSettings:
    """Weights of the sentence features (keys from FEATURES) and the abstention calibration.

    The numbers come from eval/tune.py (see the module docstring); changing them changes
    which sentence answers and when the answerer abstains.
    """

    weights: dict[str, float] = field(default_factory=_default_weights)
    max_sentences: int = 2
    second_sentence_ratio: float = 0.85  # a second sentence must score this close to the best

    def __post_init__(self) -> None:
        check_weights(self.weights, FEATURES, "AnswerSettings.weights")
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {self.max_sentences}.")
        if not 0.0 < self.second_sentence_ratio <= 1.0:
            raise ValueError(f"second_sentence_ratio must be in (0, 1], got {self.second_sentence_ratio}.")


@dataclass(frozen=True)
class Assessment:
    """What the answerer read for one question: the passages, their candidate sentences with
    their feature rows (columns: FEATURES), the candidates of the top ``k`` passages ranked
    best first, the row of the chosen one, and the answerability features (its FEATURES);
    ``reading`` is what the reader found and ``spans`` the sentences it picked, best first,
    each with its answer span (file offsets; None when the sentence was read cleaned)."""

    evidence: list[Hit]
    candidates: list[Candidate]
    matrix: np.ndarray
    ranked: list[tuple[float, Candidate]]
    chosen: int | None
    evidence_row: list[float]
    reading: Reading | None = None
    spans: dict[Candidate, tuple[int, int] | None] = field(default_factory=dict)
    unknown_subject: str | None = None  # a subject the question names and no document does


@dataclass(frozen=True)
class Candidate:
    """One candidate sentence: its passage's rank, its chunk's position, its index in the chunk."""

    hit_rank: int  # rank of its passage among the hits
    position: int  # chunk position in the index
    index_in_chunk: int


class ExtractiveAnswerer:
    """Answers with verbatim sentences from the top passages, each cited (an :class:`Answerer`).

    Usage example::

        answerer = ExtractiveAnswerer(load_index("index"))
        answer = answerer.answer(retriever.search("Who is the spokesperson?"), k=5)
    """

    name = "extractive"

    def __init__(self, index: Index, settings: AnswerSettings | None = None):
        self.index = index
        self.settings = settings or AnswerSettings()

    def features(self, retrieval: Retrieval, hits: list[Hit]) -> tuple[list[Candidate], np.ndarray]:
        """The candidate sentences of ``hits`` and their feature rows (columns: FEATURES)."""
        import numpy as np

        weights = self.index.idf(set(retrieval.terms))
        # The first-stage score, not the reranker's: its scale moves whenever a rerank feature
        # is added, and the answerer's weights should not move with it. (The fused ratio also
        # answered better: 0.935 against 0.919 on eval/qa.jsonl's answerable questions, 0.865
        # against 0.861 on 800 questions of SQuAD's dev half.)
        best_passage = max((h.fused for h in hits), default=1.0) or 1.0
        kind = retrieval.expected
        candidates: list[Candidate] = []
        rows: list[list[float]] = []
        seen: set[int] = set()  # sentence rows: overlapping chunks repeat sentences
        for rank, hit in enumerate(hits):
            passage = hit.fused / best_passage
            for position in hit.positions:  # a passage may hold overlapping chunks folded together
                chunk = self.index.chunks[position]
                sentence_rows = self.index.sentence_rows[position]
                cosines = self.index.sentence_vectors[sentence_rows] @ retrieval.vector
                title_terms = self.index.terms.title(position)
                focus_weights = {t: w for t, w in weights.items() if t not in title_terms} or weights
                previous: frozenset[str] = frozenset()
                sentence_terms = self.index.terms.sentences(position)
                for i, (sentence, row) in enumerate(zip(chunk.sentences, sentence_rows, strict=True)):
                    terms = sentence_terms[i]
                    if looks_like_instruction(sentence.text):
                        continue  # a prompt injection is never an answer, nor context for one
                    context_terms = terms | previous | title_terms
                    previous = terms
                    if row in seen:
                        continue
                    seen.add(row)
                    candidates.append(Candidate(rank, position, i))
                    rows.append(
                        [
                            float(cosines[i]),
                            coverage(focus_weights, terms),
                            coverage(weights, context_terms),
                            passage,
                            offers(
                                kind,
                                sentence.text,
                                retrieval.read_as,
                                chunk.sentences[i - 1].text if i else "",
                            ),
                            min(len(sentence.text), 400) / 400,
                        ]
                    )
        return candidates, np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES))

    def rank(self, retrieval: Retrieval, hits: list[Hit]) -> list[tuple[float, Candidate]]:
        """Candidate sentences, best first, with their scores."""
        return self._rank(*self.features(retrieval, hits))

    def _rank(self, candidates: list[Candidate], matrix: np.ndarray) -> list[tuple[float, Candidate]]:
        import numpy as np

        weights = np.array([self.settings.weights.get(f, 0.0) for f in FEATURES], dtype=np.float32)
        scores = matrix @ weights if len(candidates) else np.zeros(0)
        order = np.argsort(-scores, kind="stable")
        return [(float(scores[i]), candidates[i]) for i in order]

    def assess(self, retrieval: Retrieval, k: int) -> Assessment:
        """Score the candidate sentences and the evidence for answering at all.

        Answerability always reads the top CONFIDENCE_DEPTH passages, so asking for fewer
        passages does not make the same question look less answerable; the answer itself
        comes from the top ``k``.
        """
        evidence = retrieval.hits[: max(k, CONFIDENCE_DEPTH)]
        candidates, matrix = self.features(retrieval, evidence)
        # The answer comes from the top k passages, and of those from the ones whose documents
        # name the question's subject when some do (rag.answer.subjects).
        subjects = subject_terms(self.index, retrieval.read_as)
        named = {id(h) for h in naming_hits(self.index, subjects, evidence[:k])}
        allowed = [rank for rank, hit in enumerate(evidence[:k]) if id(hit) in named]
        ranked = [r for r in self._rank(candidates, matrix) if r[1].hit_rank in allowed]
        reading, spans = self._read(retrieval, candidates, allowed[:READ_DEPTH])
        if (
            spans
            and reading is not None
            and reading.margin > READER_LEADS_ABOVE
            and not self._is_table_row(next(iter(spans)))
        ):
            # The sentences holding the reader's spans go first, best span first; the
            # features' order stays for the rest (second sentences, closest passages).
            # Only when the reader prefers a span to "no answer": when it does not, its
            # best span is a guess (a section title, another day's menu) and the
            # features choose better (docs/answering.md). Nor when its pick is a table
            # row: rows differ only in their key cell, which the question names and the
            # features match; the reader, reading rows as one text, picked a neighbouring
            # row's figure ("the deposit for a sea kayak" → the canoe's).
            order = {candidate: n for n, candidate in enumerate(spans)}
            ranked.sort(key=lambda r: order.get(r[1], len(order)))
        ranked = self._row_naming_the_question_first(retrieval, ranked)
        if retrieval.expected in METADATA_TYPES:
            # The byline or dateline answers "who wrote it" / "when was it published" however
            # few words it shares with the question: it goes first when one was retrieved.
            # Of several, a line that is little but the date goes before a sentence that
            # mentions one ("Geilo, 18 November 2025" before "Orders confirmed before 15
            # December 2025 …" for "What date is the letter?").
            kind = matrix[:, FEATURES.index("kind")]
            metadata = {c for c, offered in zip(candidates, kind, strict=True) if offered == 1.0}
            ranked.sort(key=lambda r: (r[1] not in metadata, not self._bare_piece_line(retrieval, r[1])))
        row_of = {c: i for i, c in enumerate(candidates)}
        chosen = row_of[ranked[0][1]] if ranked else None
        columns = {name: i for i, name in enumerate(FEATURES)}
        evidence_row = answerability_features(
            self.index, retrieval, evidence, candidates, matrix, chosen, columns, reading
        )
        unknown = unknown_subject(subjects)
        return Assessment(evidence, candidates, matrix, ranked, chosen, evidence_row, reading, spans, unknown)

    def _read(
        self, retrieval: Retrieval, candidates: list[Candidate], ranks: list[int]
    ) -> tuple[Reading | None, dict[Candidate, tuple[int, int] | None]]:
        """The reader's reading of the passages of ``ranks``, and the sentences it picked,
        best span first, each with its span (file offsets).

        Each passage is read as its candidate sentences joined by spaces. A sentence whose
        file text differs from its cleaned text only in spacing is read as it stands in the
        file, so a span maps back by its sentence's offset; any other (a table row, read with
        its header: "Plan: Team; Price per month: 12 EUR") is read cleaned, and is picked
        without a span. Text the reader cannot read (not in Latin script: it was trained on
        English) gives an unread Reading.
        """
        reader = shared_reader()
        if reader is None or not ranks:
            return None, {}
        texts: list[str] = []
        # Per text: (offset in text, candidate, file start of its sentence, read as in the file).
        pieces: list[list[tuple[int, Candidate, int, bool]]] = []
        by_rank: dict[int, int] = {}
        for candidate in candidates:
            if candidate.hit_rank not in ranks:
                continue
            if candidate.hit_rank not in by_rank:
                by_rank[candidate.hit_rank] = len(texts)
                texts.append("")
                pieces.append([])
            t = by_rank[candidate.hit_rank]
            chunk = self.index.chunks[candidate.position]
            sentence = chunk.sentences[candidate.index_in_chunk]
            original = chunk.text[sentence.start - chunk.start : sentence.end - chunk.start]
            as_in_file = original.split() == sentence.text.split()
            if texts[t]:
                texts[t] += " "
            pieces[t].append((len(texts[t]), candidate, sentence.start, as_in_file))
            texts[t] += original if as_in_file else sentence.text
        if not in_latin_script(retrieval.read_as) or not in_latin_script(" ".join(texts)):
            return UNREAD, {}
        reading = reader.read(numbers_as_written(retrieval.read_as, texts), texts)
        spans: dict[Candidate, tuple[int, int] | None] = {}
        for span in reading.spans:
            offset, candidate, file_start, as_in_file = next(
                p for p in reversed(pieces[span.text_index]) if p[0] <= span.start
            )
            if candidate in spans:
                continue
            sentence = self.index.chunks[candidate.position].sentences[candidate.index_in_chunk]
            start = file_start + span.start - offset
            end = min(file_start + span.end - offset, sentence.end)  # a span ends in its sentence
            spans[candidate] = (start, end) if as_in_file and start < end else None
        return reading, spans

    def answer(self, retrieval: Retrieval, k: int, *, abstain: bool = True) -> Answer:
        """The best-supported sentences of the top ``k`` passages, cited.

        With ``abstain=False`` the best sentences are returned even below the threshold
        (the evaluation uses it to measure extraction apart from the abstention decision).
        """
        assessment = self.assess(retrieval, k)
        ranked, matrix = assessment.ranked, assessment.matrix
        model = load_model(model_file(self.index.manifest.chunker.get("sentence_vectors", "separate")))
        confidence = model.probability(assessment.evidence_row)
        threshold = model.threshold
        max_sentences = self.settings.max_sentences
        piece_line = False  # the answer is the named piece's own byline, signature or date line
        if ranked and retrieval.expected in METADATA_TYPES:
            kind = matrix[:, FEATURES.index("kind")]
            row_of = {c: i for i, c in enumerate(assessment.candidates)}
            if kind[row_of[ranked[0][1]]] == 1.0:
                max_sentences = 1  # the byline alone: any text sentence would outscore it
                piece_line = self._bare_piece_line(retrieval, ranked[0][1]) and self._names_the_piece(
                    retrieval, ranked[0][1]
                )
        if abstain and assessment.unknown_subject is not None:
            closest = [self._citation(c, s) for s, c in _one_per_passage(ranked)[:3]]
            note = f"No document mentions “{assessment.unknown_subject}”."
            return Answer(retrieval.question, NOT_FOUND, closest, abstained=True, confidence=0.0, note=note)
        # A question about a piece itself ("Who signed the letter from Hallingdal?", "What date
        # is the Hallingdal letter?") shares no words with its answer ("Sigrid Haugland",
        # "Geilo, 18 November 2025"), so the evidence the model weighs (coverage, cosines, the
        # reader trained on Wikipedia questions, whose "no answer" is left out here as for
        # table rows) says little: the piece's own line answers it when the piece names
        # everything the question names.
        doubted = confidence < threshold and not fully_supported(assessment.evidence_row) and not piece_line
        # A table row that is not about the item the question names is another item's row.
        other_row = (
            bool(ranked) and self._is_table_row(ranked[0][1]) and not self._row_fits(retrieval, ranked[0][1])
        )
        vetoed = model.vetoed(assessment.evidence_row) and not piece_line
        if not ranked or (abstain and (doubted or other_row or vetoed)):
            closest = [self._citation(c, s) for s, c in _one_per_passage(ranked)[:3]]
            return Answer(retrieval.question, NOT_FOUND, closest, abstained=True, confidence=confidence)
        chosen = self._choose(retrieval, assessment, max_sentences)
        citations = [self._citation(c, score, assessment.spans.get(c)) for score, c in chosen]
        sentences = [
            AnswerSentence(self._shown(candidate, citation), n)
            for n, ((_, candidate), citation) in enumerate(zip(chosen, citations, strict=True), 1)
        ]
        text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        return Answer(
            retrieval.question, text, citations, abstained=False, confidence=confidence, sentences=sentences
        )

    def _choose(
        self, retrieval: Retrieval, assessment: Assessment, max_sentences: int
    ) -> list[tuple[float, Candidate]]:
        """The best sentence, and a second one that scores close to it and adds to it.

        A second sentence is left out when it is the same sentence again (a copy in another
        chunk or file), or when the first already holds every number and year the question
        names and the second does not: then it is another table row or another year's figure
        ("What was the revenue in 2022?" must not add 2023's).
        """
        ranked = assessment.ranked
        chosen = [ranked[0]]
        if max_sentences < 2:
            return chosen
        # Numbers and years only: a sentence naming the question's entity by a pronoun ("It
        # was founded in …") is often the answer, but one with another figure never is.
        constraints = [c.replace(",", "") for c in question_constraints(retrieval.read_as) if c[0].isdigit()]
        first = self._citation(ranked[0][1], 0).sentence
        # The sentence itself, not its title: a title naming the question's entity says
        # nothing about which of its sentences answers.
        first_holds = bool(constraints) and all(c in first.lower().replace(",", "") for c in constraints)
        # Close to the best feature score, not to the first sentence's: the reader's pick may
        # score low on the features.
        top = max(score for score, _ in ranked)
        for score, candidate in ranked[1:]:
            if len(chosen) >= max_sentences:
                break
            if score < self.settings.second_sentence_ratio * top:
                continue
            text = self._citation(candidate, score).sentence
            if text.split() == first.split():
                continue  # the same sentence in another chunk
            if self._is_table_row(ranked[0][1]) and self._is_table_row(candidate):
                continue  # another row is another item, never more of the answer
            if first_holds and not all(c in text.lower().replace(",", "") for c in constraints):
                continue
            chosen.append((score, candidate))
        return chosen

    def stream(self, retrieval: Retrieval, k: int) -> Iterator[str | Answer]:
        """The answer exists at once: one piece per sentence (with its marker), then the Answer."""
        answer = self.answer(retrieval, k)
        if answer.sentences:
            for sentence in answer.sentences:
                yield f"{sentence.text} [{sentence.citation}] "
        else:
            yield answer.text + " "
        yield answer

    def _row_naming_the_question_first(
        self, retrieval: Retrieval, ranked: list[tuple[float, Candidate]]
    ) -> list[tuple[float, Candidate]]:
        """When the best sentence is a table row that is not about what the question names,
        the best row that is (:meth:`_row_fits`) goes first; when none is, the answer
        abstains (see ``answer``): a row answers only for the item it names."""
        if not ranked or not self._is_table_row(ranked[0][1]):
            return ranked
        constraints = question_constraints(retrieval.read_as)
        if self._row_fits(retrieval, ranked[0][1], constraints):
            return ranked
        better = next(
            (
                r
                for r in ranked[1:ROW_SEARCH]
                if self._is_table_row(r[1]) and self._row_fits(retrieval, r[1], constraints)
            ),
            None,
        )
        return ranked if better is None else [better] + [r for r in ranked if r is not better]

    def _row_fits(
        self, retrieval: Retrieval, candidate: Candidate, constraints: list[str] | None = None
    ) -> bool:
        """A table row is about the question's item: its own cells (not the header) share a
        word with the question ("Cargo bike" for "the cargo bike"; none for "a kayak"), and
        it holds, with its section title, every name and number the question gives ("Fjell
        4" is not the "Fjell 2 tent" row, and 4 is not in "4,490"). ``constraints``: the
        question's names and numbers, when already worked out."""
        chunk = self.index.chunks[candidate.position]
        sentence = chunk.sentences[candidate.index_in_chunk]
        cells = chunk.text[sentence.start - chunk.start : sentence.end - chunk.start]
        if not set(tokenize(cells)) & set(retrieval.terms):
            return False
        text = f"{chunk.title} {sentence.text}".lower()
        if constraints is None:
            constraints = question_constraints(retrieval.read_as)
        return all(names(text, c) for c in constraints)

    def _bare_piece_line(self, retrieval: Retrieval, candidate: Candidate) -> bool:
        """For a candidate already found to offer the piece's metadata (a byline, signature
        or dateline): whether it is that line itself. Always for AUTHOR (a byline or signature
        is a line of its own by its pattern); for PUBLISHED, a dateline that is little but
        the date, not a sentence that mentions one."""
        sentence = self.index.chunks[candidate.position].sentences[candidate.index_in_chunk].text
        if retrieval.expected is AnswerType.PUBLISHED:
            return is_bare_dateline(sentence)
        return retrieval.expected is AnswerType.AUTHOR  # a byline or signature is bare by its pattern

    def _names_the_piece(self, retrieval: Retrieval, candidate: Candidate) -> bool:
        """The passage holding ``candidate`` (a byline, signature or date line), with its
        title, holds every name and number of the question, and the question gives some: it
        is the piece the question asks about ("the letter from Tekstilfabrikken Hallingdal")."""
        constraints = question_constraints(retrieval.read_as)
        chunk = self.index.chunks[candidate.position]
        text = f"{chunk.title} {chunk.text}".lower()
        return bool(constraints) and all(names(text, c) for c in constraints)

    def _is_table_row(self, candidate: Candidate) -> bool:
        return self.index.chunks[candidate.position].is_table_row(candidate.index_in_chunk)

    def _shown(self, candidate: Candidate, citation: Citation) -> str:
        """The sentence as the answer shows it: as written, except a table row, which is shown
        read with its header ("Bike: Cargo bike; Per day: 45.00 EUR") as it was matched; the
        citation keeps the row's exact span."""
        if citation.sentence.startswith("|"):
            return self.index.chunks[candidate.position].sentences[candidate.index_in_chunk].text
        return readable(citation.sentence)

    def _citation(self, candidate: Candidate, score: float, span: tuple[int, int] | None = None) -> Citation:
        return Citation.of(self.index.chunks[candidate.position], candidate.index_in_chunk, score, span)


def _one_per_passage(ranked: list[tuple[float, Candidate]]) -> list[tuple[float, Candidate]]:
    seen: set[int] = set()
    out = []
    for score, candidate in ranked:
        if candidate.position not in seen:
            seen.add(candidate.position)
            out.append((score, candidate))
    return out
