"""Ingest: files to cited-ready chunks, and the words BM25 matches.

formats (bytes → text, by content) → loading (a corpus of documents) → cleaning and
structure (sentences with offsets into the original text, titled sections) → chunking
(token-aware passages; tokens counts with tiktoken). lexical is the one tokenizer (stop
words, stems) that the index, the search and the answerer share. Uploads are checked here too.
"""
