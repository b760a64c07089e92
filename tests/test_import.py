import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("statement", "heavy"),
    [
        # `import rag` must not load torch, FAISS, Gradio, sentence-transformers or numpy.
        ("import rag", ("torch", "faiss", "gradio", "sentence_transformers", "numpy")),
        # Listing the generator backends must not load any of them.
        ("import rag.answer.generators; rag.answer.generators.names()", ("llama_cpp", "numpy", "torch", "httpx")),
    ],
)
def test_imports_stay_light(statement, heavy):
    code = f"import sys; {statement}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_declared():
    import rag

    for name in rag.__all__:
        assert getattr(rag, name) is not None
    assert callable(rag.ask) and callable(rag.retrieve)
