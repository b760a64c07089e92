"""Ingest: rag's full index build against the raw encoder on the very texts rag embeds.

rag embeds every chunk *and* every sentence (the answerer scores sentences by cosine), so
the honest floor is ``SentenceTransformer.encode`` over both sets of texts, with the same
batch size and normalisation; the overhead is everything else a build does (parsing,
chunking, token counting, BM25, writing files). The ratio to encoding the chunk texts
alone is reported too: that is what a chunk-only pipeline would have to pay at least.

Run alone: ``python -m bench.ingest --jsonl ../shared/benchmarks/squad-dev/corpus.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import model_path


def embedded_texts(index_dir: Path) -> tuple[list[str], list[str]]:
    """The chunk texts and the distinct sentence texts a built index embedded, in its order."""
    from rag.ingest.chunking import embedding_text
    from rag.store import load_index

    index = load_index(index_dir)
    chunk_texts = [embedding_text(chunk.title, chunk.sentences) for chunk in index.chunks]
    seen: set[tuple[str, int, int]] = set()
    sentence_texts = []
    for chunk in index.chunks:
        for sentence in chunk.sentences:
            key = (chunk.source, sentence.start, sentence.end)
            if key not in seen:
                seen.add(key)
                sentence_texts.append(sentence.text)
    return chunk_texts, sentence_texts


class EncodeTimer:
    """The seconds spent inside rag's encoders' ``encode`` while the ``with`` block runs.

    The encoders' classes are timed rather than the embedder handed to the build, because a
    build may embed with another encoder than the one it is given (bfloat16 on CPUs with
    AMX: rag.embedding.bulk). The encoder's share of a build, timed in the same seconds as
    the build itself, is the overhead figure least disturbed by other processes on the
    machine: both sides of the ratio slow down together, where two separate runs may meet
    different loads.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._saved: list[tuple[type, object]] = []

    def __enter__(self) -> EncodeTimer:
        from rag.embedding.embedders import SentenceTransformerEmbedder
        from rag.embedding.onnx_embedder import OnnxEmbedder

        for cls in (OnnxEmbedder, SentenceTransformerEmbedder):
            original = cls.encode
            self._saved.append((cls, original))

            def timed(embedder, texts, batch_size=64, _original=original):  # noqa: ANN001, ANN202
                started = time.perf_counter()
                try:
                    return _original(embedder, texts, batch_size)
                finally:
                    self.seconds += time.perf_counter() - started

            cls.encode = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, original in self._saved:
            cls.encode = original  # type: ignore[method-assign]
        self._saved.clear()


def _loaded(embedder, documents: list):  # noqa: ANN001, ANN202 - Embedder
    """Load now whatever encoder a build of ``documents`` will use, so that builds are timed
    with their models loaded, as the peers' are (its load is billed to cold start)."""
    from rag.embedding.bulk import bulk_encoder

    characters = sum(len(d.text) for d in documents)  # about what the build embeds (chunks alone)
    encoder = bulk_encoder(embedder, characters)
    encoder.encode(["warm up the model and its thread pool"])
    return encoder


def measure(documents: list, *, label: str, repeats: int = 1, keep: Path | None = None) -> dict:
    """Time a cold rag build of ``documents`` and the raw encoder on the same texts.

    Both sides use an already loaded model (loading is billed to cold start, not ingest).
    With ``repeats`` > 1 the best of each is kept, which damps noise from other processes.
    ``keep``: a folder to copy the last built index to (the query benchmark reuses it).
    """
    import shutil

    from sentence_transformers import SentenceTransformer

    from rag.embedding.embedders import get_embedder
    from rag.indexing.build import build_index

    embedder = get_embedder()
    embedder.encode(["warm up the model and its thread pool"])
    ours, raw_all, raw_chunks, inside = [], [], [], []
    # The raw encoder gets its own model object: SentenceTransformer.encode alone, no rag.
    model = SentenceTransformer(model_path(), device="cpu")
    model.encode(["warm up"], show_progress_bar=False)
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as scratch:
        for attempt in range(repeats):
            index_dir = Path(scratch) / f"index-{attempt}"
            _loaded(embedder, documents)
            with EncodeTimer() as timed:
                started = time.perf_counter()
                report = build_index(documents, index_dir, embedder=embedder, force=True)
                ours.append(time.perf_counter() - started)
            inside.append(timed.seconds)
        chunk_texts, sentence_texts = embedded_texts(index_dir)
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(index_dir, keep)
    for _ in range(repeats):
        chunk_s = _encode_seconds(model, chunk_texts)
        raw_chunks.append(chunk_s)
        raw_all.append(chunk_s + _encode_seconds(model, sentence_texts))
    best, floor, chunk_floor = min(ours), min(raw_all), min(raw_chunks)
    return {
        "corpus": label,
        "documents": len(documents),
        "chunks": report.chunks,
        "sentences": len(sentence_texts),
        "build_s": round(best, 2),
        "raw_encode_s": round(floor, 2),
        "raw_chunks_only_s": round(chunk_floor, 2),
        "chunks_per_s": round(report.chunks / best, 1),
        "texts_per_s": round((report.chunks + len(sentence_texts)) / best, 1),
        "raw_texts_per_s": round((len(chunk_texts) + len(sentence_texts)) / floor, 1),
        "overhead": round(best / floor, 3),  # our build / raw encoder, same texts
        # Our build / the encoder seconds inside that same build (same load on both sides).
        "overhead_same_run": round(best / inside[ours.index(best)], 3),
        "vs_chunks_only": round(best / chunk_floor, 3),  # our build / encoding chunk texts alone
    }


def build_only(documents: list) -> dict:
    """One cold rag build of ``documents`` with the model already loaded: its seconds (what
    the interleaved rounds of `make bench` compare with the peers' builds)."""
    from rag.embedding.embedders import get_embedder
    from rag.indexing.build import build_index

    embedder = get_embedder()
    embedder.encode(["warm up the model and its thread pool"])
    _loaded(embedder, documents)
    with tempfile.TemporaryDirectory(prefix="rag-bench-build-") as scratch:
        started = time.perf_counter()
        report = build_index(documents, Path(scratch) / "index", embedder=embedder, force=True)
        seconds = time.perf_counter() - started
    return {"build_s": round(seconds, 2), "chunks": report.chunks, "embedder": embedder.id}


def _encode_seconds(model, texts: list[str]) -> float:  # noqa: ANN001 - SentenceTransformer
    # Same batch size and normalisation as rag's embedder; encode() sorts by length itself.
    started = time.perf_counter()
    model.encode(
        texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    from rag.ingest.loading import load_jsonl, load_paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl", type=Path, help="a corpus of {id, title, text} rows")
    parser.add_argument("--paths", type=Path, nargs="*", default=[], help="text files or folders")
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--label", default=None)
    parser.add_argument("--keep", type=Path, help="copy the built index to this folder")
    parser.add_argument("--build-only", action="store_true", help="time one build, no raw-encoder floor")
    args = parser.parse_args(argv)
    documents = load_jsonl(args.jsonl) if args.jsonl else load_paths(args.paths)
    documents = documents[: args.limit] if args.limit else documents
    label = args.label or (args.jsonl.parent.name if args.jsonl else ",".join(p.name for p in args.paths))
    if args.build_only:
        print(json.dumps(build_only(documents)))
        return 0
    print(json.dumps(measure(documents, label=label, repeats=args.repeats, keep=args.keep)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
