"""Answering: passages to a cited answer, or a plain "not found".

extractive (the default: verbatim sentences, calibrated abstention; the kind of answer a
question asks for comes with its retrieval, from rag.search.answer_types) and grounded (a
generative backend from generators/, fed by prompting, its sentences checked by
verification) share one contract (:class:`rag.answer.base.Answerer`).
"""
