import subprocess
import sys


def test_import_rag_stays_light():
    """`import rag` must not load torch, FAISS, Gradio or sentence-transformers."""
    code = (
        "import sys, rag; heavy = [m for m in ('torch', 'faiss', 'gradio', 'sentence_transformers', 'numpy')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_declared():
    import rag

    for name in rag.__all__:
        assert getattr(rag, name) is not None
    assert callable(rag.ask) and callable(rag.retrieve)
