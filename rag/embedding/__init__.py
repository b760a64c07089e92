"""Embedding: text to L2-normalised vectors with one model (all-MiniLM-L6-v2 by default).

embedders (the :class:`~rag.embedding.embedders.Embedder` contract, the sentence-transformers
model, the hashing stand-in for tests, the per-process cache) → onnx_embedder (the same model
through ONNX Runtime, so questions never import torch) and bulk (a build's many texts in
bfloat16 on CPUs with AMX); devices chooses CPU or GPU.
"""
