"""Index generations under crashes, damage and concurrent readers (issue 14 rows 2, 7, 8).

Fast lane: the deterministic HashEmbedder's index of the seeds. The race runs a real second
process that switches generations with the same code a build uses, so the reader meets
removed folders and half-removed files exactly as it would beside `rag index`.
"""

import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.soak import SWITCHER  # the same generation switcher `make soak` runs
from rag.api import check_index
from rag.cli import main
from rag.errors import IndexCorruptError
from rag.indexing.build import build_index
from rag.ingest.loading import load_paths
from rag.store import load_index
from rag.store.generations import (
    CURRENT,
    LOCK,
    READERS,
    build_lock,
    collect_garbage,
    live_generation,
    readers_lock,
)

ROOT = Path(__file__).resolve().parents[2]


def _flip_one_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_manifest_records_a_checksum_per_file(fake_index_copy):
    manifest = load_index(fake_index_copy).manifest
    assert set(manifest.checksums) == set(manifest.sizes)
    assert all(value.startswith("crc32:") and len(value) == 14 for value in manifest.checksums.values())
    assert check_index(fake_index_copy) == (len(manifest.sizes), [])


def test_damage_that_keeps_the_size_is_detected_on_load(fake_index_copy):
    chunks = live_generation(fake_index_copy) / "chunks.jsonl"
    _flip_one_byte(chunks, chunks.stat().st_size // 2)
    with pytest.raises(IndexCorruptError, match=r"chunks\.jsonl is damaged.*rag index --index"):
        load_index(fake_index_copy)


def test_damaged_vectors_are_found_by_check_and_repaired_without_force(
    fake_index_copy, seeds_dir, fake_embedder, capsys
):
    vectors = live_generation(fake_index_copy) / "sentence_vectors.npy"
    pristine = np.load(vectors)
    _flip_one_byte(vectors, vectors.stat().st_size - 7)  # inside the last vector, same size
    assert check_index(fake_index_copy)[1] == ["sentence_vectors.npy"]
    assert main(["index", "--check", "--index", str(fake_index_copy)]) == 1
    assert "sentence_vectors.npy no longer match" in capsys.readouterr().out

    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder)
    assert report.repaired == ["sentence_vectors.npy"]
    assert report.summary().startswith(f"Repaired index {fake_index_copy} (damaged: sentence_vectors.npy")
    assert np.array_equal(load_index(fake_index_copy).sentence_vectors, pristine)  # nothing reused from it
    assert main(["index", "--check", "--index", str(fake_index_copy)]) == 0
    assert "is intact" in capsys.readouterr().out
    assert build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder).up_to_date


def test_a_damaged_index_keeps_documents_added_from_elsewhere(
    fake_index_copy, seeds_dir, fake_embedder, tmp_path
):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "llamas.md").write_text("# Llamas\n\nLlamas hum when they are anxious.\n", encoding="utf-8")
    build_index(load_paths([extra]), fake_index_copy, embedder=fake_embedder, keep=lambda s, o: True)
    faiss_file = live_generation(fake_index_copy) / "faiss.index"
    _flip_one_byte(faiss_file, faiss_file.stat().st_size // 2)

    report = build_index(
        load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder, keep=lambda s, o: True
    )
    assert report.repaired == ["faiss.index"]
    assert "llamas.md" in load_index(fake_index_copy).manifest.files  # re-read from its origin


def _leftovers(index_dir: Path) -> list[str]:
    """What a kill -9 right after the switch leaves: the old generation and a staging folder."""
    live = live_generation(index_dir)
    shutil.copytree(live, index_dir / "gen-20200101-000000-deadbeef")
    shutil.copytree(live, index_dir / ".gen-20200101-000001-cafecafe.tmp")
    (index_dir / f".{CURRENT}.0badf00d.tmp").write_text("gen-x\n", encoding="utf-8")
    return sorted(p.name for p in index_dir.iterdir())


def test_every_load_removes_generations_no_reader_needs(fake_index_copy):
    before = _leftovers(fake_index_copy)
    assert len(before) == 7  # CURRENT, .lock, .readers, the live generation and three leftovers
    load_index(fake_index_copy)
    live = live_generation(fake_index_copy).name
    assert sorted(p.name for p in fake_index_copy.iterdir()) == sorted([CURRENT, LOCK, READERS, live])


def test_every_build_removes_old_generations(fake_index_copy, corpus_copy, fake_embedder):
    _leftovers(fake_index_copy)
    (corpus_copy / "extra.txt").write_text("Extra facts about llamas.", encoding="utf-8")
    build_index(load_paths([corpus_copy]), fake_index_copy, embedder=fake_embedder)
    names = [p.name for p in fake_index_copy.iterdir()]
    assert len([n for n in names if n.startswith(("gen-", ".gen-"))]) == 1 and len(names) == 4


def test_a_running_build_keeps_its_staging_folder(fake_index_copy):
    _leftovers(fake_index_copy)
    with build_lock(fake_index_copy):  # as a build in another process would hold it
        assert collect_garbage(fake_index_copy) == []
        load_index(fake_index_copy)
        assert (fake_index_copy / ".gen-20200101-000001-cafecafe.tmp").is_dir()
    assert len(collect_garbage(fake_index_copy)) == 3


def test_a_load_in_flight_keeps_its_generation_until_it_ends(fake_index_copy):
    _leftovers(fake_index_copy)
    with readers_lock(fake_index_copy, exclusive=False, timeout=0) as held:  # as a load holds it
        assert held
        assert collect_garbage(fake_index_copy) == []
        assert (fake_index_copy / "gen-20200101-000000-deadbeef").is_dir()
    assert len(collect_garbage(fake_index_copy)) == 3


def _a_folder(path: Path) -> None:
    path.mkdir()  # cannot be opened as a lock file at all


def _a_wal_database(path: Path) -> None:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:  # filelock refuses it (ValueError)
        db.execute("PRAGMA journal_mode=WAL")


@pytest.mark.parametrize("spoil", [_a_folder, _a_wal_database], ids=["folder", "wal-database"])
def test_a_readers_lock_that_cannot_be_used_still_loads_and_collects(fake_index_copy, spoil):
    """Where the readers' lock cannot be had, loads go on unlocked instead of failing."""
    (fake_index_copy / READERS).unlink()
    spoil(fake_index_copy / READERS)
    _leftovers(fake_index_copy)
    assert load_index(fake_index_copy).size > 0
    assert not (fake_index_copy / "gen-20200101-000000-deadbeef").exists()


def test_readers_always_see_one_whole_generation_while_builds_switch(fake_index_copy, tmp_path):
    stop, log = tmp_path / "stop", tmp_path / "switches.txt"
    with log.open("w") as out:
        switcher = subprocess.Popen(
            [sys.executable, "-c", SWITCHER, str(fake_index_copy), str(stop)], cwd=ROOT, stdout=out
        )
    try:
        deadline = time.monotonic() + 120
        while not log.read_text() and switcher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until it has switched once: the race is on
        assert log.read_text(), "the switching process never switched"
        assert switcher.poll() is None, "the switching process died"
        failures, seen = [], set()
        for _ in range(150):
            try:
                index = load_index(fake_index_copy)
                seen.add(index.path.name)
                assert index.size == index.manifest.chunks
            except IndexCorruptError as error:
                failures.append(str(error))
    finally:
        stop.touch()
        switcher.wait(timeout=60)
    assert failures == []
    assert len(seen) > 1  # the loads really met switches


def test_an_error_on_a_generation_that_stays_live_is_raised(fake_index_copy):
    (live_generation(fake_index_copy) / "bm25" / "params.index.json").unlink()
    with pytest.raises(IndexCorruptError, match="rag index"):
        load_index(fake_index_copy)
    manifest = json.loads((live_generation(fake_index_copy) / "manifest.json").read_text())
    assert "bm25/params.index.json" in manifest["sizes"]


def test_a_pointer_to_a_missing_generation_is_rebuilt_by_the_next_build(
    fake_index_copy, seeds_dir, fake_embedder
):
    (fake_index_copy / CURRENT).write_text("gen-gone\n", encoding="utf-8")
    report = build_index(load_paths([seeds_dir]), fake_index_copy, embedder=fake_embedder)
    assert (
        report.repaired == ["files that could not be read"]
        and load_index(fake_index_copy).size == report.chunks
    )


def test_the_store_names_its_live_generation_for_watchers(fake_index_copy, tmp_path):
    """Store.generation(): what the folder watch polls instead of reading CURRENT itself."""
    from rag.store import open_store

    store = open_store(fake_index_copy)
    assert store.generation() == load_index(fake_index_copy).path.name
    assert open_store(tmp_path / "nothing-built").generation() is None
