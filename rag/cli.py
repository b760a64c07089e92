"""The `rag` command: index, remove, ask, serve, mcp, eval. Errors print as one line; heavy imports are
done inside each subcommand so `rag --help` stays instant."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.generators.options import add_generator_options, generator_from
from rag.errors import RagError
from rag.ingest.formats import supported_types

if TYPE_CHECKING:
    from rag.indexing.build import BuildReport
    from rag.records import Citation


def _at_least_one(text: str) -> int:
    """The argparse type of a count of passages: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _index(args: argparse.Namespace) -> int:
    from rag.api import build_index

    if args.check:
        return _check(args)
    report = build_index(
        args.paths, index=args.index, jsonl=args.jsonl, force=args.force, prune=args.prune, ray=args.ray
    )
    print(report.summary())
    _prepare_reader()
    if args.watch:
        _watch_index(
            args, lambda: build_index(args.paths, index=args.index, jsonl=args.jsonl, prune=args.prune)
        )
    return 0


def _prepare_reader() -> None:
    """The reader's one-time export, while the user already waits for an index, not on the
    first `rag ask`; a failure is one line here and again, as an error, when a question needs it."""
    from rag.answer.reader import prepare
    from rag.errors import RagError

    try:
        prepare()
    except RagError as error:
        print(f"warning: {error}", file=sys.stderr)


def _check(args: argparse.Namespace) -> int:
    """`rag index --check`: every part against its manifest; exit status 1 when damaged."""
    from rag.config import default_index
    from rag.store import open_store

    report = open_store(args.index or default_index()).check()
    print(report.summary())
    return 1 if report.damaged else 0


def _watch_index(args: argparse.Namespace, rebuild: Callable[[], BuildReport]) -> None:
    """`rag index --watch`: rebuild on every batch of changes, one summary line each, until Ctrl-C."""
    from rag.config import default_corpus, default_index
    from rag.indexing.watch import watch_and_rebuild

    roots = [args.jsonl] if args.jsonl is not None else [Path(p) for p in args.paths] or [default_corpus()]
    watch_and_rebuild(
        roots,
        rebuild,
        on_built=lambda report: print(report.summary(), flush=True),
        ignore=[args.index or default_index()],  # its own writes are no change of the documents
    )


def _remove(args: argparse.Namespace) -> int:
    from rag.api import remove_documents

    print(remove_documents(args.names, index=args.index).summary())
    return 0


def _ask(args: argparse.Namespace) -> int:
    from rag.api import ask

    answer = ask(
        args.question, k=args.k, index=args.index, corpus=args.corpus, generator=generator_from(args)
    )
    print(answer.text)
    if answer.note:
        print(f"\nNote: {answer.note}")
    if answer.citations:
        print("\nClosest passages (not an answer):" if answer.abstained else "\nSources:")
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")  # no-color.org
    for number, citation in enumerate(answer.citations, 1):
        print(f"[{number}] {citation.source} — {citation.title}")
        print(f"    {citation.location}: {_with_span(citation, bold and not answer.abstained)}")
        if citation.span and not answer.abstained:
            print(f"    answer: {' '.join(citation.span.split())}")
    return 0


def _with_span(citation: Citation, bold: bool) -> str:
    """The cited sentence on one line, its answer span in bold on a terminal."""
    sentence = citation.sentence
    if bold and citation.span:
        a = (citation.span_start or 0) - citation.sentence_start
        b = (citation.span_end or 0) - citation.sentence_start
        sentence = f"{sentence[:a]}\033[1m{sentence[a:b]}\033[0m{sentence[b:]}"
    return " ".join(sentence.split())


def _serve(args: argparse.Namespace) -> int:
    from rag.ui.app import launch

    launch(
        host=args.host,
        port=args.port,
        index=args.index,
        corpus=args.corpus,
        share=args.share,
        watch=args.watch,
    )
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from rag.serve.mcp_server import run

    run(args.corpus or [], args.index, http=args.http, host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rag.evaluation.cli import run_cli

    return run_cli(args)


def parser() -> argparse.ArgumentParser:
    """The `rag` argument parser: index, remove, ask, serve, mcp, eval."""
    top = argparse.ArgumentParser(prog="rag", description="Answers from your documents, with citations.")
    commands = top.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or update an index (only changed files are re-embedded)")
    index.add_argument(
        "paths",
        nargs="*",
        help=f"files or folders of {supported_types()} (default: the default corpus, $RAG_CORPUS)",
    )
    index.add_argument("--index", type=Path, help="index folder (default: $RAG_INDEX or the default index)")
    index.add_argument("--jsonl", type=Path, help="a JSONL corpus of {id, title, text} instead of files")
    index.add_argument("--force", action="store_true", help="re-embed everything")
    index.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="embed on a Ray cluster (ADDRESS, or 'auto'); alone: a local Ray on this machine "
        "(needs the [scale] extra)",
    )
    _device_option(index)
    _store_option(index)
    index.add_argument(
        "--check",
        action="store_true",
        help="only check every index file against its checksum (exit status 1 if damaged; "
        "an ordinary `rag index` repairs)",
    )
    index.add_argument(
        "--prune",
        action="store_true",
        help="remove every indexed document not under PATHS (default: adding never removes; "
        "a folder given drops only the files deleted from it)",
    )
    index.add_argument(
        "--watch",
        action="store_true",
        help="then keep watching the paths and update the index as files change (Ctrl-C stops)",
    )
    index.set_defaults(run=_index)

    remove = commands.add_parser("remove", help="remove documents from an index (their files stay)")
    _store_option(remove)
    remove.add_argument("names", nargs="+", help="document names as citations show them")
    remove.add_argument("--index", type=Path, help="index folder (default: $RAG_INDEX or the default index)")
    remove.set_defaults(run=_remove)

    ask = commands.add_parser("ask", help="answer a question with cited sources")
    _store_option(ask)
    ask.add_argument("question")
    ask.add_argument("-k", type=_at_least_one, default=5, help="passages to answer from (default 5)")
    ask.add_argument(
        "--index",
        type=Path,
        help="index folder (default: the default index, kept in step with the default corpus)",
    )
    ask.add_argument("--corpus", type=Path, help="documents to keep the index in step with")
    add_generator_options(ask)
    ask.set_defaults(run=_ask)

    serve = commands.add_parser("serve", help="start the web UI (login: set RAG_USERNAME and RAG_PASSWORD)")
    _device_option(serve)
    _store_option(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument(
        "--index", type=Path, help="index folder of the first corpus (default: the default index)"
    )
    serve.add_argument(
        "--corpus",
        type=Path,
        action="append",
        help="document folder; repeat to offer several collections (default: the default corpus)",
    )
    serve.add_argument(
        "--share", action="store_true", help="also create a public Gradio link (off by default)"
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="keep each collection's index in step with its folder as files change",
    )
    serve.set_defaults(run=_serve)

    mcp = commands.add_parser("mcp", help="serve the documents to MCP clients (stdio; --http for HTTP)")
    _store_option(mcp)
    mcp.add_argument(
        "--corpus", type=Path, action="append", help="document folder; repeat for several collections"
    )
    mcp.add_argument(
        "--index", type=Path, help="index folder of the first corpus (default: the default index)"
    )
    mcp.add_argument(
        "--http", action="store_true", help="streamable HTTP at http://HOST:PORT/mcp instead of stdio"
    )
    mcp.add_argument("--host", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8765, help="port for --http (default 8765)")
    mcp.set_defaults(run=_mcp)

    evaluate = commands.add_parser("eval", help="measure retrieval and answer quality")
    _device_option(evaluate)
    _store_option(evaluate)
    evaluate.add_argument("--dataset", type=Path, help="benchmark folder with corpus.jsonl and qa.jsonl")
    evaluate.add_argument(
        "--reader-alone",
        action="store_true",
        help="also read each question's gold paragraph with the reader alone (SQuAD EM/F1, HasAns/NoAns)",
    )
    evaluate.add_argument(
        "--questions",
        help="question file: inside --dataset (default qa.jsonl), or for the "
        "seeds a path or a file of eval/ (default qa.jsonl; qa_blind.jsonl is the blind set)",
    )
    evaluate.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default=None,
        help="first half (dev), second half (test) or all; default: all for the seeds, test for benchmarks",
    )
    evaluate.add_argument("--limit", type=int, help="use only the first N questions of the split")
    evaluate.add_argument("-k", type=_at_least_one, default=5)
    evaluate.add_argument(
        "--index",
        type=Path,
        help="index folder for the dataset (default: datasets/NAME inside the default index)",
    )
    evaluate.add_argument("--json", type=Path, help="also write the figures to this file")
    evaluate.add_argument("--calibrate", action="store_true", help="print the abstention trade-off table")
    add_generator_options(evaluate)
    evaluate.add_argument(
        "--chunk-tokens", type=int, help="chunk size in tokens for the index built (default 128)"
    )
    evaluate.add_argument("--chunk-overlap", type=int, help="chunk overlap in tokens (default 32)")
    evaluate.set_defaults(run=_eval)
    return top


def _store_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--store",
        metavar="STORE",
        help="where the index is kept (default: $RAG_STORE or files, the --index folder): "
        "milvus:./rag.db for a Milvus Lite file, milvus://HOST:19530 for a Milvus server",
    )


def _device_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        help="where to embed (default: $RAG_DEVICE or auto: a CUDA GPU when one can be used)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `rag` command; returns the exit status (1 on a RagError, printed as one line)."""
    args = parser().parse_args(argv)
    if getattr(args, "device", None) or getattr(args, "store", None):
        from rag.config import set_flags  # read where they are used (rag.config.settings)

        set_flags(device=getattr(args, "device", None), store=getattr(args, "store", None))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # rag's own progress lines ("Indexed 178 chunks from 5 files …") are worth seeing.
    logging.getLogger("rag").setLevel(logging.INFO)
    try:
        return int(args.run(args))
    except RagError as error:
        if _raise_errors():
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _raise_errors() -> bool:
    from rag.config import settings

    try:
        return settings().raise_errors
    except RagError:  # a malformed variable must not hide the error being reported
        return False


if __name__ == "__main__":
    sys.exit(main())
