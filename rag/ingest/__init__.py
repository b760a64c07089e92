"""Ingest: files to cited-ready chunks.

formats (bytes → text, by content) → loading (a corpus of documents) → cleaning and
structure (sentences with offsets into the original text, titled sections) → chunking
(token-aware passages; tokens counts with tiktoken). Uploads are checked here too.
"""
