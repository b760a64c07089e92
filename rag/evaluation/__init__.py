"""Evaluation over Q&A pairs: datasets, metrics, the `rag eval` command, generative runs."""
