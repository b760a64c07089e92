import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("statement", "heavy"),
    [
        # `import rag` must not load torch, FAISS, Gradio, sentence-transformers or numpy.
        ("import rag", ("torch", "faiss", "gradio", "sentence_transformers", "numpy")),
        # Listing the generator backends must not load any of them.
        (
            "import rag.answer.generators; rag.answer.generators.names()",
            ("llama_cpp", "numpy", "torch", "httpx"),
        ),
    ],
)
def test_imports_stay_light(statement, heavy):
    code = f"import sys; {statement}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_declared():
    import rag
    import rag.api
    import rag.errors
    import rag.records

    # Every public name is the object of the module that defines it, not a stand-in.
    for name in rag.__all__:
        home = (
            rag.api
            if name in {"ask", "retrieve", "build_index", "load_index"}
            else (rag.records if name in {"Answer", "Citation", "Passage"} else rag.errors)
        )
        assert getattr(rag, name) is getattr(home, name), name
    assert all(issubclass(getattr(rag, n), rag.errors.RagError) for n in rag.__all__ if n.endswith("Error"))
    # The documented public modules keep working after the move into stage folders.
    from rag.formats import read_document
    from rag.generators import Generator, modes, names

    assert read_document.__module__ == "rag.ingest.formats" and modes()[0] == "extractive"
    assert names() == ["llama-cpp", "openai"] and Generator.__module__ == "rag.answer.generators.base"


def test_rag_is_the_only_installed_package():
    """The web UI and the servers live under rag (rag.ui, rag.serve): no second top-level package."""
    import importlib.util

    assert importlib.util.find_spec("ui") is None
    assert (
        importlib.util.find_spec("rag.ui.app") is not None
        and importlib.util.find_spec("rag.serve") is not None
    )
