"""Search: rank an index's chunks for a question.

hits (the records passed between the stages) ← retrieval (dense + BM25 candidates, fusion,
collapse of overlapping chunks) ← reranking (second stage over the fused head).
"""
