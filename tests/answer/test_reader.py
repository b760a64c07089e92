"""The reader (rag.answer.reader): loaded offline from the shipped weights and the packaged base,
its span exact in the file, and its answers on small corpora that used to fool the answerer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer import reader as reader_module
from rag.records import NOT_FOUND

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"

FRANKENSTEIN = (
    "# Frankenstein\n\nFrankenstein; or, The Modern Prometheus is an 1818 novel written by the English "
    "author Mary Shelley. It tells the story of Victor Frankenstein, a young scientist who creates a "
    "sapient creature in an unorthodox scientific experiment.\n\nShelley started writing the story "
    "when she was 18, and the first edition was published anonymously in London.\n"
)
FERRIES = (
    "# Lindqvist Ferries AB\n\nLindqvist Ferries AB is led by chief executive Maja Eklund, who took "
    "office in March 2023. In 2025 the company carried 4.1 million passengers on its eleven routes "
    "across the Baltic Sea.\n\nAt the end of 2025 Lindqvist Ferries employed 1,260 people, of whom 38 "
    "percent work at sea.\n"
)


@pytest.fixture(scope="module")
def reader():
    return reader_module.shared_reader()


def _engine(root: Path, embedder, files: dict[str, str]):
    """An engine over ``files`` (name: text), written to a folder under ``root`` and indexed."""
    from rag.engine import Engine
    from rag.indexing.build import build_index
    from rag.ingest.loading import load_paths
    from rag.store import load_index

    folder = root / "docs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    build_index(load_paths([folder]), root / "index", embedder=embedder)
    return Engine.open(load_index(root / "index"), embedder)


LETTER = (
    "Tekstilfabrikken Hallingdal AS\n\nIndustrivegen 9, 3580 Geilo\n\nVindel Friluft AS\n\n"
    "Geilo, 18 November 2025\n\nPrice adjustment for ripstop nylon from 1 January 2026\n\nDear customer,\n\n"
    "We must increase the price of our ripstop nylon by 7.5 percent from 1 January 2026. Orders "
    "confirmed before 15 December 2025 will still be invoiced at the old price.\n\n"
    "Yours sincerely,\n\nSigrid Haugland\n\nSales Director\n"
)


def test_the_reader_ships_and_loads_offline(reader):
    card = reader_module.card()
    assert reader_module.WEIGHTS.stat().st_size < 25_000_000  # the bound for a larger file
    assert card["config"]["regime"] == "full"
    assert "CC BY-SA" in card["data"]
    assert reader is not None
    assert (reader_module.exported() / "model.onnx").is_file()  # exported once into the cache


def test_the_reader_picks_the_answer_span(reader):
    texts = [FRANKENSTEIN, "Paris is the capital and largest city of France."]
    reading = reader.read("Who wrote the novel Frankenstein?", texts)
    best = reading.spans[0]
    assert texts[best.text_index][best.start : best.end] == "Mary Shelley"
    assert reading.margin > 0  # it prefers the span to "no answer"
    unrelated = reader.read("What is the boiling point of mercury?", texts)
    assert unrelated.margin < reading.margin


def test_no_text_no_span(reader):
    reading = reader.read("Who wrote it?", [])
    assert reading.spans == []
    assert reading.best < -1000


def test_a_one_passage_corpus_answers_with_an_exact_span(tmp_path, embedder, capsys):
    engine = _engine(tmp_path, embedder, {"frankenstein.md": FRANKENSTEIN})
    answer = engine.ask("Who wrote Frankenstein?")
    assert not answer.abstained
    citation = answer.citations[0]
    original = (tmp_path / "docs" / "frankenstein.md").read_text(encoding="utf-8")
    start, end = citation.span_in_file
    assert original[start:end] == citation.span == "Mary Shelley"
    sentence_start, sentence_end = citation.sentence_span
    assert sentence_start <= start < end <= sentence_end
    payload = citation.payload(1)
    assert (payload["span"], payload["span_start"], payload["span_end"]) == ("Mary Shelley", start, end)
    from rag.cli import main

    assert main(["ask", "Who wrote Frankenstein?", "--index", str(tmp_path / "index")]) == 0
    assert "    answer: Mary Shelley" in capsys.readouterr().out  # the CLI names the span
    off_topic = engine.ask("What is the boiling point of mercury?")
    assert off_topic.abstained and off_topic.text == NOT_FOUND
    assert all(c.span == "" for c in off_topic.citations)  # closest passages offer no answer


def test_an_exact_duplicate_file_changes_nothing(tmp_path, embedder):
    answer = _engine(
        tmp_path, embedder, {"frankenstein.md": FRANKENSTEIN, "copy of frankenstein.md": FRANKENSTEIN}
    ).ask("Who wrote Frankenstein?")
    assert not answer.abstained
    assert answer.citations[0].span == "Mary Shelley"


def test_a_subject_the_documents_do_not_hold_is_not_answered_from_another(tmp_path, embedder):
    engine = _engine(tmp_path, embedder, {"lindqvist_ferries.md": FERRIES, "frankenstein.md": FRANKENSTEIN})
    held = engine.ask("How many people does Lindqvist Ferries employ?")
    assert not held.abstained and "1,260" in held.citations[0].sentence
    assert engine.ask("How many people does Harborne Foods employ?").abstained


@pytest.mark.skipif(not (SHARED / "train" / "squad").is_dir(), reason="../shared/train is absent")
@pytest.mark.parametrize("frozen", [0, 2])
def test_training_runs_on_a_tiny_slice(tmp_path, frozen, monkeypatch):
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "eval" / "train_reader.py"),
            "--tiny",
            "--regime",
            "full",
            "--freeze-layers",
            str(frozen),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "READER_WORK": str(tmp_path / "work")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "reader.pt").is_file()
    card = (out / "reader.json").read_text(encoding="utf-8")
    assert '"examples_seen": 64' in card
    # Frozen layers stay the packaged base's: the artefact leaves them out (the export takes
    # them from the base, rag.answer.reader).
    import torch

    state = torch.load(out / "reader.pt", weights_only=False)["state"]
    layers = {int(name.split(".")[3]) for name in state if name.startswith("encoder.encoder.layer.")}
    assert layers == set(range(frozen, 6))
    if frozen:  # and such an artefact is rebuilt on the base and exported like the shipped one
        monkeypatch.setattr(reader_module, "WEIGHTS", out / "reader.pt")
        monkeypatch.setattr(reader_module, "CARD", out / "reader.json")
        monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
        assert (reader_module.exported() / "model.onnx").is_file()
    shutil.rmtree(out)


def test_a_stop_time_already_past_today_is_tomorrows(eval_script):
    """``--stop-at 01:10`` given at 23:10 stops two hours later, not at once (it once did)."""
    from datetime import datetime, timezone

    script = eval_script("train_reader.py")
    now = datetime(2026, 12, 6, 23, 10, 5, tzinfo=timezone.utc)
    assert script.stop_time("01:10", now) == datetime(2026, 12, 7, 1, 10, tzinfo=timezone.utc)
    assert script.stop_time("23:40", now) == datetime(2026, 12, 6, 23, 40, tzinfo=timezone.utc)
    assert script.stop_time("23:10", now) == datetime(2026, 12, 7, 23, 10, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        script.stop_time("soon", now)


def test_text_not_in_latin_script_is_not_read():
    assert reader_module.in_latin_script("Who trains new staff? Loïc Dubœuf does.")
    assert not reader_module.in_latin_script("图书馆周六几点关门？")
    assert reader_module.in_latin_script("2023: 4,523,000")  # no letters: nothing to misread


def test_numbers_reach_the_reader_as_the_passage_writes_them():
    texts = ["Revenue in 2023 was EUR 4,523,000, the highest in the company's history."]
    assert reader_module.numbers_as_written("In which year was revenue 4523000 euros?", texts) == (
        "In which year was revenue 4,523,000 euros?"
    )
    assert reader_module.numbers_as_written("Was it 99999 or 2023?", texts) == "Was it 99999 or 2023?"


def test_a_letter_is_signed_and_dated_by_its_own_lines(tmp_path, embedder):
    """Set A's scanned-letter kind: "Who signed …" and "What date is the letter?" share no word
    with their answers, which only the letter's signature and date line give."""
    engine = _engine(tmp_path, embedder, {"hallingdal_letter.txt": LETTER, "frankenstein.md": FRANKENSTEIN})
    signed = engine.ask("Who signed the letter from Tekstilfabrikken Hallingdal?")
    assert not signed.abstained and signed.citations[0].sentence == "Sigrid Haugland"
    dated = engine.ask("What date is the Hallingdal price letter?")
    assert not dated.abstained and dated.citations[0].sentence == "Geilo, 18 November 2025"
    assert len(dated.citations) == 1  # the date line alone, not the order deadline beside it
    # A letter the documents do not hold is not dated by another one's line.
    assert engine.ask("What date is the Harborne Foods price letter?").abstained
