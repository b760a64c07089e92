"""The command-line options that choose and configure an answer mode, shared by `rag ask`
and `rag eval` (kept beside the generators so neither command imports the other)."""

from __future__ import annotations

import argparse

from rag.answer.generators.base import EXTRACTIVE, Generator, GeneratorSettings, get_generator, modes


def add_generator_options(command: argparse.ArgumentParser) -> None:
    """Add --generator/--model/--base-url/--max-tokens to ``command``."""
    command.add_argument(
        "--generator",
        default=EXTRACTIVE,
        choices=modes(),
        help="who writes the answer (default: extractive, verbatim sentences)",
    )
    command.add_argument(
        "--model",
        help="llama-cpp: a .gguf file (default: the bundled SmolLM2 test model); "
        "openai: the served model name (default: the server's first)",
    )
    command.add_argument(
        "--base-url", help="openai: the server's URL, e.g. http://127.0.0.1:11434/v1 (Ollama)"
    )
    command.add_argument("--max-tokens", type=int, help="longest generated answer, in tokens (default 128)")


def generator_from(args: argparse.Namespace) -> Generator | None:
    """The generator the parsed options name (None for the extractive default).

    Raises:
        GeneratorError: the backend cannot start or an option is out of range.
        ConfigError: a ``RAG_*`` variable it reads is malformed.
    """
    if args.generator == EXTRACTIVE:
        return None
    settings = GeneratorSettings.from_env(
        args.generator, model=args.model, base_url=args.base_url, max_tokens=args.max_tokens
    )
    return get_generator(args.generator, settings)
