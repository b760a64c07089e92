"""Settings: one module reads the environment, and docs/configuration.md documents exactly what
it reads; the README stays a short front door whose links all lead somewhere."""

import os
import re
from pathlib import Path

import pytest

from rag.config import VARIABLES, default_corpus, default_index, settings
from rag.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


VARIABLE = re.compile(r"\bRAG_[A-Z0-9_]*[A-Z0-9]\b")


def test_the_configuration_page_documents_exactly_the_variables_the_code_reads():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert set(VARIABLE.findall(page)) == set(VARIABLES)
    # Elsewhere in the docs a variable may be named, but only one that exists.
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        unknown = set(VARIABLE.findall(path.read_text(encoding="utf-8"))) - set(VARIABLES)
        assert not unknown, f"{path.relative_to(ROOT)} names variables rag does not read: {sorted(unknown)}"


def test_the_readme_is_short_and_its_links_lead_to_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    relative = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert relative, "the README links to the docs"
    missing = [t for t in relative if not (ROOT / t).is_file()]
    assert missing == []


def test_no_module_but_config_reads_a_rag_variable():
    readers = []
    for path in sorted((ROOT / "rag").rglob("*.py")):
        if path.name == "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"(environ|getenv)\b[^\n]*RAG_", text):
            readers.append(path.relative_to(ROOT).as_posix())
    assert readers == []


def test_every_variable_is_a_field_of_the_settings():
    fields = {f"RAG_{name.upper()}" for name in settings().__dataclass_fields__}
    assert fields == set(VARIABLES)


def test_values_are_parsed_and_bad_ones_named(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "i"))
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "30")
    monkeypatch.setenv("RAG_CORPUS", "")  # empty means unset
    assert default_index() == tmp_path / "i" and settings().llm_timeout == 30.0
    assert default_corpus().name == "seeds"  # this checkout's
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match=r"RAG_LLM_TIMEOUT='soon'"):
        settings()


def test_without_variables_the_defaults_come_without_parsing(monkeypatch):
    """The fast path (no RAG_* variable: pydantic not imported) gives what parsing gives."""
    for name in [n for n in os.environ if n.upper().startswith("RAG_")]:
        monkeypatch.delenv(name)
    unparsed = settings()
    monkeypatch.setenv("RAG_NOT_A_SETTING", "1")  # ignored, but it makes settings() parse
    assert settings() == unparsed
    monkeypatch.setenv("rag_llm_timeout", "30")  # pydantic-settings ignores the case of names
    assert settings().llm_timeout == 30.0
