"""Embedding for a build spread over a Ray cluster (`rag index --ray [ADDRESS]`, the [scale] extra).

A build's documents go through two Ray Data stages, each an actor pool whose actors load
the model once: clean and chunk (documents in batches of 16; the model's own tokenizer
decides what fits), then embed (the chunks' and sentences' texts in batches of 64). Vectors
stream back to the build in order as batches finish, which moves the progress bar, and the
build writes them to the chosen store as usual. Files are read by the driver (the machine
that has them); on the SQuAD corpus reading is 0.04 s, cleaning and chunking 3.1 s and
embedding the other ~68 s of a 72 s build.

Actors: one per GPU when the cluster has GPUs, else one per CPU but one: an actor pool that
takes every CPU can stall Ray Data's own tasks (ray-project/ray#44687).

Usage example::

    backend = RayBackend(address=None)   # a local Ray on this machine
    vectors = backend.encode(texts, get_embedder(), advance=print)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag.embedding.embedders import get_embedder
from rag.errors import ConfigError, RagError
from rag.ingest.chunking import chunk_sections
from rag.ingest.formats import web_text
from rag.ingest.structure import parse_sections
from rag.records import Chunk

if TYPE_CHECKING:
    import numpy as np

    from rag.embedding.embedders import Embedder
    from rag.ingest.chunking import ChunkerSettings
    from rag.ingest.loading import SourceDocument
    from rag.records import Chunk

BATCH = 64  # texts per actor call: the encode batch of the local build


class EmbedActor:
    """A Ray Data actor: the embedding model, loaded once per actor, over batches of texts."""

    def __init__(self, name: str):

        self.embedder = get_embedder(name)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """{"row": int64 [n], "text": str [n]} -> {"row": int64 [n], "vector": float32 [n, dim]}."""
        vectors = self.embedder.encode([str(t) for t in batch["text"]], batch_size=BATCH)
        return {"row": batch["row"], "vector": vectors}


class SplitActor:
    """A Ray Data actor: cleans and chunks documents with the model's own token counter."""

    def __init__(self, name: str, settings: ChunkerSettings):

        self.embedder = get_embedder(name)
        self.settings = settings

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """{"row", "source", "text", "title"} [n] -> {"row", "chunks": JSON list of chunk records} [n]."""

        out = []
        for source, text, title in zip(batch["source"], batch["text"], batch["title"], strict=True):
            sections = parse_sections(str(text), title=str(title), web=web_text(str(source)))
            chunks = chunk_sections(str(source), str(text), sections, self.settings, self.embedder.fits)
            out.append(json.dumps([c.to_json() for c in chunks], ensure_ascii=False))
        return {"row": batch["row"], "chunks": out}


def start_ray(address: str | None) -> Any:
    """Connect to the Ray cluster at ``address`` ("auto": the one this machine belongs to), or
    start a local one on this machine's CPUs when None.

    Raises:
        ConfigError: Ray is not installed (install the [scale] extra).
        RagError: the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: install rag's scale extra (pip install 'rag[scale]').") from None
    if ray.is_initialized():
        return ray
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            # Workers read the model from the same packages: no runtime download.
            runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}},
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RagError(
            f"Cannot reach the Ray cluster at {address} ({error}); start it or fix --ray."
        ) from None
    return ray


class RayBackend:
    """A build's chunking and embedding on a Ray cluster (rag.indexing.backends.Backend);
    questions still embed locally. The actors load the build's embedder by its ``id``.
    """

    local = False  # the vectors come from the actors' models: no bfloat16 or pooled pass here

    def __init__(self, address: str | None = None):
        self.address = address

    def split(
        self,
        documents: list[SourceDocument],
        settings: ChunkerSettings,
        embedder: Embedder,
        notify: Callable[[float, str], None],
    ) -> list[list[Chunk]]:
        """Clean and chunk ``documents`` on the cluster; their chunks, in the documents' order."""

        if not documents:
            return []
        notify(0.0, f"Splitting {len(documents)} documents into passages on the cluster")
        ray, actors, actor_cpus, gpus = self._pool()
        items = [
            {"row": i, "source": d.source, "text": d.text, "title": d.title} for i, d in enumerate(documents)
        ]
        split = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // 16, 4 * actors)))
        split = split.map_batches(
            SplitActor,
            fn_constructor_kwargs={"name": embedder.id, "settings": settings},
            batch_size=16,
            concurrency=actors,
            num_cpus=actor_cpus or 1,
        )
        out: list[list[Chunk]] = [[] for _ in documents]
        for batch in split.iter_batches(batch_size=None, batch_format="numpy"):
            for row, chunks in zip(batch["row"], batch["chunks"], strict=True):
                out[int(row)] = [Chunk.from_json(c) for c in json.loads(str(chunks))]
        return out

    def _pool(self) -> tuple[Any, int, float, int]:
        """Ray, the number of actors, the CPUs each takes, and the cluster's GPUs."""
        ray = start_ray(self.address)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", os.cpu_count() or 1))
        actors = gpus or max(1, cpus - 1)
        # Never every CPU to the actors: on a one-CPU cluster an actor takes half of it.
        actor_cpus = 0 if gpus else (1 if cpus > 1 else 0.5)
        return ray, actors, actor_cpus, gpus

    def encode(
        self, texts: list[str], embedder: Embedder, advance: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` through the actor pool; ``advance(n)`` as each batch of n arrives.

        Returns:
            float32 [len(texts), dim], row i for texts[i].
        """
        import numpy as np

        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        if not texts:
            return out
        ray, actors, actor_cpus, gpus = self._pool()
        items = [{"row": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // BATCH, 4 * actors)))
        embedded = dataset.map_batches(
            EmbedActor,
            fn_constructor_kwargs={"name": embedder.id},
            batch_size=BATCH,
            concurrency=actors,
            num_gpus=1 if gpus else 0,
            num_cpus=actor_cpus,
        )
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            out[batch["row"]] = batch["vector"]
            if advance is not None:
                advance(len(batch["row"]))
        return out


def stop_ray() -> None:
    """Disconnect from the cluster (a local one started for the build stops)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
