"""The Milvus store (rag.store.milvus) both ways: a Milvus Lite file opened in this process,
and a `milvus-lite server` on 127.0.0.1 reached by URI (pymilvus's network client path);
and distributed embedding through a local Ray (rag.indexing.distributed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.engine import Engine, clear_engines
from rag.errors import ConfigError, EmbedderMismatchError, StoreError
from rag.indexing.build import build_index
from rag.ingest.loading import SourceDocument, load_jsonl, load_paths
from rag.store import load_index
from rag.store.milvus import META, MilvusStore
from rag.store.milvus_index import MilvusIndex
from tests.conftest import SEEDS, SHARED_BENCHMARKS
from tests.ports import PortTaken, on_free_port, refusing_port

QUESTIONS = [
    "Who is the Commission spokesperson?",
    "What did the EU say about OpenAI's approach?",
    "Who regulates very large online search engines?",
]
NOTE = b"# Harbour report\n\nThe harbour of Kotka handled 9 million tonnes of cargo in 2023.\n"


def _serve(data_dir: Path, port: int) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data_dir)]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = server.stderr.read().decode() if server.stderr else ""
            raise PortTaken(error) if "address" in error.lower() else AssertionError(error)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.kill()
    raise AssertionError("milvus-lite server did not start in 60 s")


@pytest.fixture(params=["lite-file", "server"])
def store_spec(request, tmp_path, monkeypatch) -> str:
    """RAG_STORE for a Milvus Lite file, or for a milvus-lite server on loopback."""
    if request.param == "lite-file":
        spec = f"milvus:{tmp_path / 'rag.db'}"
    else:
        ports: list[int] = []
        server = on_free_port(lambda port: ports.append(port) or _serve(tmp_path / "server.db", port))
        request.addfinalizer(lambda: (server.terminate(), server.wait(10)))
        spec = f"milvus://127.0.0.1:{ports[-1]}"
    monkeypatch.setenv("RAG_STORE", spec)
    clear_engines()
    request.addfinalizer(clear_engines)
    return spec


@pytest.fixture()
def lite(tmp_path, monkeypatch) -> str:
    spec = f"milvus:{tmp_path / 'rag.db'}"
    monkeypatch.setenv("RAG_STORE", spec)
    return spec


def _citations(engine: Engine, question: str) -> list[tuple[str, int, int]]:
    return [(c.source, c.start, c.end) for c in engine.ask(question).citations]


def test_seeds_answer_with_the_same_citations_as_the_folder_index(
    store_spec, tmp_path, embedder, engine, monkeypatch
):
    report = build_index(load_paths([SEEDS]), tmp_path / "index", embedder=embedder)
    assert report.where == store_spec and report.chunks == engine.index.size
    milvus = Engine.open(load_index(tmp_path / "index"), embedder)
    assert isinstance(milvus.index, MilvusIndex)
    from rag.evaluation.datasets import load_seed_examples

    examples = load_seed_examples(SEEDS.parent / "eval" / "qa.jsonl", SEEDS)
    for question in QUESTIONS + [e.question for e in examples]:
        assert _citations(milvus, question) == _citations(engine, question), question
        assert milvus.ask(question).text == engine.ask(question).text


def test_updates_embed_only_what_changed_and_drop_old_generations(lite, tmp_path, fake_embedder):
    corpus = tmp_path / "docs"
    shutil.copytree(SEEDS, corpus)
    first = build_index(load_paths([corpus]), tmp_path / "index", embedder=fake_embedder)
    assert first.added and not first.changed
    assert build_index(load_paths([corpus]), tmp_path / "index", embedder=fake_embedder).up_to_date
    stale = load_index(tmp_path / "index")
    (corpus / "harbour.md").write_bytes(NOTE)
    added = build_index(load_paths([corpus]), tmp_path / "index", embedder=fake_embedder)
    assert added.added == ["harbour.md"] and added.unchanged == 5
    stale.checked = 0.0  # the once-a-second check, due now
    assert stale.outdated()  # a replica notices the other's build
    (corpus / "harbour.md").unlink()
    removed = build_index(load_paths([corpus]), tmp_path / "index", embedder=fake_embedder)
    assert removed.removed == ["harbour.md"] and removed.chunks == first.chunks
    index = load_index(tmp_path / "index")
    assert "harbour.md" not in index.manifest.files and index.size == first.chunks
    store = index.store
    assert store is not None
    # The live generation and the one before it (a replica may be mid-question on it).
    generations = {n[4:].rsplit("_", 1)[0] for n in store.call("list", "list_collections") if n != META}
    assert len(generations) == 2 and index.generation in generations


def test_a_failed_write_leaves_the_previous_index_live(lite, tmp_path, fake_embedder, monkeypatch):
    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)
    before = load_index(tmp_path / "index")

    def fail(*args, **kwargs):
        raise StoreError("the server went away mid-build")

    monkeypatch.setattr(MilvusStore, "_write_sentences", fail)
    extra = SourceDocument("extra.md", "# Extra\n\nA new document about tugboats.\n")
    with pytest.raises(StoreError, match="went away"):
        build_index([*load_paths([SEEDS]), extra], tmp_path / "index", embedder=fake_embedder)
    after = load_index(tmp_path / "index")
    assert after.generation == before.generation and "extra.md" not in after.manifest.files
    names = after._store.call("list", "list_collections")
    assert sorted(n for n in names if n != META) == sorted(
        after._store.collection(after.generation, p) for p in ("chunks", "sentences")
    )  # nothing of the failed build is left


def test_bad_addresses_and_models_give_one_line(tmp_path, monkeypatch, capsys, fake_embedder):
    from rag.cli import main

    with refusing_port() as port:
        monkeypatch.setenv("RAG_STORE", f"milvus://127.0.0.1:{port}")
        with pytest.raises(StoreError, match=rf"Cannot reach Milvus at http://127.0.0.1:{port}"):
            load_index(tmp_path / "index")
        assert main(["ask", "Who?", "--index", str(tmp_path / "index")]) == 1
        printed = capsys.readouterr()
        line = (printed.err or printed.out).strip()
        assert "\n" not in line and "start the server or fix --store" in line
    monkeypatch.setenv("RAG_STORE", f"milvus:{tmp_path / 'rag.sqlite'}")
    with pytest.raises(ConfigError, match=r"ends in \.db"):
        load_index(tmp_path / "index")
    monkeypatch.setenv("RAG_STORE", f"milvus:{tmp_path / 'rag.db'}")
    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)

    class OtherModel(type(fake_embedder)):
        id = "another-model"

    with pytest.raises(EmbedderMismatchError, match="rebuild it with `rag index`"):
        Engine.open(load_index(tmp_path / "index"), OtherModel())


@pytest.fixture()
def milvus_library(lite, tmp_path, monkeypatch):
    """A copy of the seeds as a library indexed into a Milvus Lite file (fake embedder)."""
    from rag.library import Library

    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    corpus = tmp_path / "docs"
    shutil.copytree(SEEDS, corpus)
    library = Library("seeds", corpus, tmp_path / "index")
    library.sync()
    return library


def test_library_uploads_and_deletes_on_milvus(milvus_library, tmp_path):
    library = milvus_library
    added = library.add([("harbour.md", NOTE)])
    assert added.added == ["harbour.md"] and added.file_chunks == {"harbour.md": 1}
    listed = {d.name: d.chunks for d in library.documents()}
    assert listed["harbour.md"] == 1 and len(listed) == 6 and all(listed.values())
    answer = Engine.open(load_index(tmp_path / "index")).ask(
        "How much cargo did the harbour of Kotka handle?"
    )
    assert answer.citations[0].source == "harbour.md"
    library.delete("harbour.md")  # out of the index; the file stays (issue 32)
    listed = {d.name: d for d in library.documents()}
    assert listed["harbour.md"].left_out and listed["harbour.md"].chunks == 0
    assert "harbour.md" not in load_index(tmp_path / "index").manifest.files
    library.sync()  # and it stays out of the next build from the folder
    assert "harbour.md" not in load_index(tmp_path / "index").manifest.files


def test_ray_builds_the_same_index_as_a_local_build(tmp_path, fake_embedder):
    import numpy as np

    # In a process of its own: Ray forks its node processes, and this test process may hold
    # gRPC threads (the Milvus Lite engines of the tests above), which can stall that start.
    script = (
        "import sys, ray\n"
        "from rag.indexing.build import build_index\n"
        "from rag.indexing.distributed import stop_ray\n"
        "from rag.embedding.embedders import HashEmbedder\n"
        "from rag.ingest.loading import load_paths\n"
        "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        "try:\n"
        "    build_index(load_paths([sys.argv[1]]), sys.argv[2], embedder=HashEmbedder(), ray='local')\n"
        "finally:\n"
        "    stop_ray()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAG_STORE"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(SEEDS), str(tmp_path / "ray")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    build_index(load_paths([SEEDS]), tmp_path / "local", embedder=fake_embedder)
    distributed, local = load_index(tmp_path / "ray"), load_index(tmp_path / "local")
    assert [c.to_json() for c in distributed.chunks] == [c.to_json() for c in local.chunks]
    assert np.allclose(distributed.chunk_vectors, local.chunk_vectors, atol=1e-6)
    assert np.allclose(distributed.sentence_vectors, local.sentence_vectors, atol=1e-6)


@pytest.mark.benchmark
@pytest.mark.skipif(not (SHARED_BENCHMARKS / "squad-dev").is_dir(), reason="needs ../shared/benchmarks")
def test_squad_slice_ranks_and_answers_alike_in_both_stores(tmp_path, embedder, monkeypatch):
    """300 questions of SQuAD's test half over their own paragraphs, in both stores."""
    from rag.evaluation.datasets import load_benchmark_examples, split_examples
    from rag.evaluation.metrics import run, score

    folder = SHARED_BENCHMARKS / "squad-dev"
    examples = split_examples(load_benchmark_examples(folder), "test")[:300]
    wanted = {source for e in examples for source in e.sources}
    documents = [d for d in load_jsonl(folder / "corpus.jsonl") if d.source in wanted]
    figures, answers = {}, {}
    for store in ("files", f"milvus:{tmp_path / 'rag.db'}"):
        monkeypatch.setenv("RAG_STORE", store)
        build_index(documents, tmp_path / "index", embedder=embedder)
        outcomes = run(Engine.open(load_index(tmp_path / "index"), embedder), examples, k=5, depth=20)
        figures[store] = score(outcomes).figures
        answers[store] = [o.answer.text for o in outcomes]
    files, milvus = figures.values()
    for name in ("hit@1", "hit@5", "answer_accuracy", "citation_accuracy", "false_abstention"):
        assert abs(files[name] - milvus[name]) <= 0.01, (name, files[name], milvus[name])
    same = sum(a == b for a, b in zip(*answers.values(), strict=True)) / len(examples)
    print(json.dumps({"figures": figures, "same_answer": same}, indent=1))
    assert same >= 0.95


def test_the_served_ui_uploads_and_deletes_on_a_milvus_lite_file(milvus_library, tmp_path):
    """The real Gradio app over a Milvus Lite file, driven through its API as the page does."""
    from gradio_client import Client, handle_file

    from rag.ui.app import build_app, serve

    library = milvus_library
    app = build_app([library])  # builds stay in this process: the Lite file admits one
    assert library.builder is None
    url = on_free_port(lambda port: serve(app, host="127.0.0.1", port=port, block=False))
    try:
        client = Client(url, verbose=False)
        note = tmp_path / "harbour.md"
        note.write_bytes(NOTE)
        status, *_ = client.predict([handle_file(str(note))], "seeds", api_name="/upload")
        assert status.startswith("Added harbour.md (1 chunk)"), status
        answer = client.predict("How much cargo did the harbour of Kotka handle?", api_name="/answer")
        assert "9 million tonnes" in json.dumps(answer)
        status, *_ = client.predict("harbour.md", "seeds", api_name="/delete")
        assert status.startswith("Removed harbour.md from the index of seeds; the file stays"), status
        assert "harbour.md" not in load_index(tmp_path / "index").manifest.files
    finally:
        app.close()


def test_lost_rows_are_found_by_check_and_repaired_by_the_next_build(lite, tmp_path, fake_embedder):
    from rag.api import check_index

    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)
    index = load_index(tmp_path / "index")
    chunks = index._store.collection(index.generation, "chunks")
    index._store.call("damage", "delete", chunks, filter="id < 3")
    assert check_index(tmp_path / "index") == (2, [chunks])
    report = build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)
    assert report.repaired == [chunks] and check_index(tmp_path / "index") == (2, [])


def test_a_refused_token_gives_one_line_naming_the_variable(tmp_path, monkeypatch):
    """A gRPC server on loopback answering every call as an auth-enabled Milvus answers a wrong
    token: UNAUTHENTICATED, "auth check failure, please check username and password are
    correct" (milvus-io/milvus#37714). Milvus Lite itself has no authentication."""
    from concurrent import futures

    import grpc

    class RefuseAll(grpc.GenericRpcHandler):
        def service(self, handler_call_details):
            def refuse(request, context):
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "auth check failure, please check username and password are correct",
                )

            return grpc.unary_unary_rpc_method_handler(refuse)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[RefuseAll()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        monkeypatch.setenv("RAG_STORE", f"milvus://127.0.0.1:{port}")
        monkeypatch.setenv("RAG_MILVUS_TOKEN", "root:wrong")
        with pytest.raises(StoreError) as raised:
            load_index(tmp_path / "index")
        message = str(raised.value)
        assert "refused the credentials" in message and "RAG_MILVUS_TOKEN" in message
        assert "\n" not in message
    finally:
        server.stop(None)


def test_a_replica_answers_from_a_build_another_process_made(lite, tmp_path, monkeypatch):
    """Two replicas share one store: the engine cache notices the other's build and reloads."""
    from rag.engine import get_engine

    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    clear_engines()
    build_index(load_paths([SEEDS]), tmp_path / "index")
    before = get_engine(tmp_path / "index")
    extra = SourceDocument("harbour.md", NOTE.decode())
    build_index([*load_paths([SEEDS]), extra], tmp_path / "index")  # the other replica's upload
    before.index.checked = 0.0  # its once-a-second check, due now
    after = get_engine(tmp_path / "index")
    assert after is not before and "harbour.md" in after.index.manifest.files
    assert after.ask("How much cargo did the harbour of Kotka handle?").citations[0].source == "harbour.md"
    clear_engines()


@pytest.mark.parametrize("damage", ["truncated data file", "scribbled schema"])
def test_a_damaged_lite_file_is_one_line_reported_by_check_and_repaired_by_a_build(
    lite, tmp_path, fake_embedder, capfd, damage
):
    from milvus_lite.server_manager import server_manager_instance

    from rag.api import check_index
    from rag.errors import StoreDamagedError

    db = Path(lite.split(":", 1)[1])
    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)
    clear_engines()
    server_manager_instance.release_server(str(db))  # as a fresh process finds the files
    if damage == "truncated data file":
        parquet = next(db.glob("collections/*_chunks/partitions/_default/data/*.parquet"))
        with open(parquet, "r+b") as handle:
            handle.truncate(1000)
    else:
        (db / "collections" / META / "schema.json").write_text("{scribbled", encoding="utf-8")
    capfd.readouterr()
    with pytest.raises(StoreDamagedError) as raised:
        load_index(tmp_path / "index")
    message = str(raised.value)
    assert "\n" not in message and "damaged" in message and f"rag index --store {lite}" in message
    assert "Traceback" not in capfd.readouterr().err  # pymilvus's own traceback is not printed
    server_manager_instance.release_server(str(db))  # Lite admits one process: the next is the CLI
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "index", "--check", "--index", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_STORE": lite},
        timeout=300,
    )
    assert done.returncode == 1 and "is damaged" in done.stdout and "Traceback" not in done.stderr
    server_manager_instance.release_server(str(db))
    build_index(load_paths([SEEDS]), tmp_path / "index", embedder=fake_embedder)
    assert check_index(tmp_path / "index") == (2, [])
    assert len(list(tmp_path.glob("rag.db.damaged-*"))) == 1  # kept, renamed, for inspection
