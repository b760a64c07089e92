"""Search: rank an index's chunks for a question.

followup (a follow-up question rewritten to stand alone, from the conversation's history) →
spelling (typos read as the nearest corpus word) → retrieval (dense + BM25 candidates, fusion,
collapse of overlapping chunks) → reranking (second stage over the fused head). hits holds
the records passed between the stages and on to the answerers, with the question's analysis
(terms, vector, expected answer type) computed once.
"""
