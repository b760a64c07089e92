"""Indexing: chunks to a searchable index on disk, and back.

embedders (MiniLM vectors) and lexical (the BM25 words) feed build, which writes one atomic
generation through store (which owns every file name of an index folder); index reads it
back; vectors holds the FAISS side.
"""
