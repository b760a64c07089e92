"""Public alias of :mod:`rag.ingest.lexical`: the tokenizer BM25 and the answerer share."""

from rag.ingest.lexical import STOPWORDS, TOKENIZER_VERSION, coverage, idf_weights, tokenize

__all__ = ["STOPWORDS", "TOKENIZER_VERSION", "coverage", "idf_weights", "tokenize"]
