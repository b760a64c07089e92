"""Indexing: documents to a new index generation, built once, rebuilt as folders change.

build (load, chunk, embed, hand the contents to a store; only new or changed files are
embedded) runs in-process, in a lower-priority worker process (worker) or with its embedding
spread over a Ray cluster (distributed); the backend is chosen explicitly, not by probing
the embedder. watch rebuilds when the watched folders change.
"""
