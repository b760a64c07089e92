"""The Gradio web UI of rag (imported only by `rag serve` and `make run`)."""
