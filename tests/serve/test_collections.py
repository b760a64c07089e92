"""Issue 32 item 1: collections made in the UI, kept in the data folder; folders of the command
line served with their own index (never the checkout's), the demo seeds read-only."""

from __future__ import annotations

import json

import pytest

from rag.errors import RagError
from rag.library import Library
from rag.serve.collections import Libraries, default_libraries
from rag.serve.registry import Registry, index_for

NOTE = b"# Harbour report\n\nThe harbour of Kotka handled 9 million tonnes of cargo in 2023.\n"


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_made_renamed_and_removed_collections_are_kept_across_restarts(data, tmp_path, corpus_copy):
    registry = Registry()
    shared = Libraries([Library("docs", corpus_copy, tmp_path / "index")], registry)
    mine = shared.create("Board papers")
    assert mine.kind == "owned" and mine.corpus.is_dir() and mine.corpus.is_relative_to(data)
    theirs_folder = tmp_path / "papers"
    theirs_folder.mkdir()
    (theirs_folder / "a.md").write_bytes(NOTE)
    theirs = shared.create("Papers", str(theirs_folder))
    assert theirs.kind == "folder" and theirs.corpus == theirs_folder.resolve()
    assert theirs.index.is_relative_to(data)  # the index lives in the data folder, not in the user's
    assert shared.names == ["docs", "Board papers", "Papers"]

    again = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry())  # a restart
    assert again.names == ["docs", "Board papers", "Papers"] and again.get("Papers").kind == "folder"
    again.rename("Board papers", "Minutes")
    assert again.get("Minutes").corpus == mine.corpus and again.get("Board papers").name == "Minutes"
    assert [c["name"] for c in json.loads((data / "collections.json").read_text())] == ["Minutes", "Papers"]

    assert "left as it is" in again.remove("Papers")
    assert (theirs_folder / "a.md").read_bytes() == NOTE  # the user's folder is never deleted from
    assert "its files" in again.remove("Minutes") and not mine.corpus.exists()
    assert Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry()).names == ["docs"]


@pytest.mark.parametrize(
    ("name", "folder", "problem"),
    [
        ("", "", "Give the collection a name"),
        ("docs", "", "already a collection called 'docs'"),
        ("DOCS", "", "already a collection"),
        ("a/b", "", "slash"),
        ("x" * 61, "", "at most 60"),
        ("New", "/no/such/folder", "is not a folder on this computer"),
    ],
)
def test_a_bad_name_or_folder_gets_one_line_naming_the_fix(
    data, tmp_path, corpus_copy, name, folder, problem
):
    shared = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry())
    with pytest.raises(RagError, match=problem):
        shared.create(name, folder)
    assert shared.names == ["docs"]


def test_command_line_folders_cannot_be_removed_and_remote_servers_index_no_local_folder(
    data, tmp_path, corpus_copy
):
    shared = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry(), local_folders=False)
    with pytest.raises(RagError, match="comes from the command line"):
        shared.remove("docs")
    with pytest.raises(RagError, match="comes from the command line"):
        shared.rename("docs", "other")
    with pytest.raises(RagError, match="cannot index its own folders"):
        shared.create("Home", str(tmp_path))
    assert shared.create("Uploads only").kind == "owned"


def test_the_demo_seeds_are_read_only_and_another_folder_gets_its_own_index(data, tmp_path, seeds_dir):
    (demo,) = default_libraries()
    assert demo.kind == "demo" and demo.corpus.resolve() == seeds_dir.resolve()
    folder = tmp_path / "papers"
    folder.mkdir()
    (papers,) = default_libraries([folder])
    assert papers.kind == "folder" and papers.index == index_for(folder) and papers.index.is_relative_to(data)
    assert index_for(folder) != index_for(tmp_path) and index_for(folder) == index_for(folder)


def test_review_findings_names_folders_and_what_remove_may_delete(data, tmp_path, corpus_copy):
    """A review of this change: an old name must not shadow a name in use; one folder is one
    collection; Remove deletes only what rag made; saved folders are not served to others."""
    registry = Registry()
    shared = Libraries([Library("docs", corpus_copy, tmp_path / "index")], registry)
    work, papers = shared.create("Work"), shared.create("Papers")
    shared.rename("Work", "Old")
    shared.rename("Papers", "Work")  # "Work" was Old's name before
    assert shared.get("Work") is papers and shared.get("Old") is work
    with pytest.raises(RagError, match="already the collection docs"):
        shared.create("Again", str(corpus_copy))  # the command line serves it: one index per folder

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.md").write_bytes(NOTE)
    shared.create("Mine", str(mine))
    remote = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry(), local_folders=False)
    assert "Mine" not in remote.names and "Work" in remote.names  # a folder of this machine stays local
    kept = json.loads(registry.path.read_text())
    for record in kept:  # a hand-edited list: "owned" over a folder of the user's
        if record["name"] == "Mine":
            record["owned"] = True
    registry.path.write_text(json.dumps(kept))
    edited = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry())
    with pytest.raises(RagError, match="not where rag keeps collections"):
        edited.remove("Mine")
    assert (mine / "keep.md").read_bytes() == NOTE  # nothing deleted


def test_a_collection_whose_folder_was_empty_is_indexed_once_it_has_files(
    data, tmp_path, corpus_copy, monkeypatch
):
    monkeypatch.setenv("RAG_EMBEDDER", "hash-384")
    shared = Libraries([Library("docs", corpus_copy, tmp_path / "index")], Registry())
    empty = shared.create("Later")
    with pytest.raises(RagError):
        shared.engine("Later")
    (empty.corpus / "memo.md").write_bytes(NOTE)  # copied in by hand, no --watch
    assert any(chunk.source == "memo.md" for chunk in shared.engine("Later").index.chunks)
