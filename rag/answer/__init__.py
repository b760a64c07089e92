"""Answering: passages to a cited answer, or a plain "not found".

extractive (the default: verbatim sentences, calibrated abstention; answer_types says what
kind of answer a question asks for) and grounded (a generative backend from generators/,
fed by prompting, its sentences checked by verification) share one contract
(:class:`rag.answer.base.Answerer`).
"""
