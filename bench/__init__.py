"""`make bench`: rag's speed and scale, measured side by side with LangChain and LlamaIndex.

Modules, one per benchmark: :mod:`bench.ingest` (index build against the raw encoder),
:mod:`bench.query` (warm latency, cold start, peak RSS), :mod:`bench.peers` (the same corpus,
model and k through LangChain and LlamaIndex), :mod:`bench.scale` (FAISS index types at 100 k
and 1 M synthetic vectors), and :mod:`bench.run`, which runs them all and writes
``bench/results.json``. Benchmarks are not tests: nothing here asserts a timing.
"""
