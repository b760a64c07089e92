"""The UI as a person uses it: Debian's chromium, driven by Playwright, against a live app.

The app is served in-process on a free loopback port over a copy of the seeds (so uploads
never touch seeds/). Screenshots go to the session's tmp folder (the path is printed) and
the measured timings to ``timings.json`` beside them. Waits are bounded; nothing asserts a
duration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.ports import on_free_port, refusing_port
from tests.ui.conftest import CHROMIUM

# A browser that is missing must not pass silently in CI, where the Makefile installs it.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="Debian chromium is not installed (make test installs it)",
    ),
]
WAIT_MS = 90_000  # generous: two shared cores, and the first question warms the model up
NEW_DOCUMENT = """# Acme Robotics buys Widget Gears

Acme Robotics agreed to acquire Widget Gears, a maker of precision gearboxes, in a deal announced \
on 3 March 2025.
The deal cost Acme Robotics $12 million in cash, paid in two instalments.
Widget Gears employs 85 people in Tampere, Finland, and will keep its own brand after the purchase.
"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def timings(shots):
    figures: dict[str, float] = {}
    yield figures
    (shots / "timings.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"\ntimings: {json.dumps(figures)}")


@pytest.fixture(scope="module")
def server(built_seed_index, tmp_path_factory):
    from rag.library import Library
    from rag.ui.app import build_app, serve

    root = tmp_path_factory.mktemp("served")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(Path(__file__).resolve().parents[2] / "seeds", corpus)
    shutil.copytree(built_seed_index, index)  # the same files: the app starts without a rebuild
    app = build_app([Library("seeds", corpus, index)])
    url = on_free_port(lambda port: serve(app, host="127.0.0.1", port=port, block=False))
    yield url
    app.close()


@contextlib.contextmanager
def opened(browser, url: str, width: int, height: int):  # noqa: ANN201 - a Playwright page
    """The app at ``url`` in a fresh browser context of ``width`` x ``height``, ready to type."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(url)
        page.wait_for_selector("#question textarea")
        yield page
    finally:
        context.close()


@pytest.fixture()
def page(browser, server):
    with opened(browser, server, 1400, 1000) as page:
        yield page


def toggle_settings(page, *, open: bool = True) -> None:  # noqa: A002 - the sidebar's own word
    """Open (or close) the settings sidebar with its toggle in the page's corner."""
    page.get_by_role("button", name="Toggle Sidebar").click()
    # Closed, the sidebar slides off the left edge (it stays "visible" to Playwright).
    page.wait_for_function(
        "open => { const r = document.querySelector('#mode').getBoundingClientRect();"
        " return open ? r.left >= 0 : r.right <= 0; }",
        arg=open,
    )


def send(page, attempts: int = 3) -> None:
    """Press Enter in the question box until the app takes the question (it empties the box).

    The app ignores Enter until the previous answer's event has ended (trigger_mode "once",
    by design), and that event ends a moment after the answer's last words are shown: an
    Enter in that moment is dropped, and a person presses again. So does this; a press while
    an answer is being written is ignored, so a second press never asks twice.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        page.press("#question textarea", "Enter")
        try:
            page.wait_for_function(
                "() => document.querySelector('#question textarea').value === ''", timeout=15_000
            )
            return
        except PlaywrightTimeout:
            continue  # still in the box: not taken (or a question the box holds back)


def ask(page, question: str) -> tuple[object, float, float]:
    """Type and send a question; returns the new answer and the seconds to its first text and to the end."""
    answers = page.locator("#chat .rag-answer")
    before = answers.count()
    page.fill("#question textarea", question)
    started = time.perf_counter()
    send(page)
    page.wait_for_function(
        "n => { const a = document.querySelectorAll('#chat .rag-answer'); const last = a[a.length - 1];"
        " return a.length > n && last.querySelector('.rag-text') && !last.querySelector('.rag-thinking'); }",
        arg=before,
    )
    first = time.perf_counter() - started
    page.wait_for_function(
        "n => { const a = document.querySelectorAll('#chat .rag-answer');"
        " return a.length > n && !a[a.length - 1].classList.contains('rag-streaming'); }",
        arg=before,
    )
    return answers.nth(before), first, time.perf_counter() - started


def test_seed_question_cites_and_the_citation_shows_the_highlighted_sentence(page, shots, timings):
    page.get_by_text("Who is the European Commission spokesperson?").wait_for()  # example questions
    page.screenshot(path=str(shots / "00-first-load.png"))
    answer, first, total = ask(page, "How many parameters does Mistral Medium 3.5 have?")
    timings["seed_question_first_text_s"], timings["seed_question_total_s"] = round(first, 3), round(total, 3)
    assert "128-billion-parameter" in answer.inner_text()
    marker = answer.locator("a.rag-cite").first
    assert marker.inner_text() == "[1]"
    page.screenshot(path=str(shots / "01-answer.png"))

    marker.click()
    highlighted = page.locator("#sources .rag-source.rag-active mark.rag-support")
    highlighted.wait_for()
    assert "128-billion-parameter" in highlighted.inner_text()
    assert "003_dd93d9c36f4005fd.txt" in page.locator("#sources .rag-active").inner_text()
    page.screenshot(path=str(shots / "02-citation-clicked.png"))

    page.locator("#sources .rag-active a.rag-open").click()
    in_document = page.locator("#sources .rag-doc mark#rag-target")
    in_document.wait_for()
    assert "128-billion-parameter" in in_document.inner_text()
    assert page.locator("#sources .rag-doc").inner_text().startswith("Tag: OpenAI")  # the whole file
    page.screenshot(path=str(shots / "03-full-document.png"))


def test_upload_a_document_then_ask_about_it_and_follow_up(page, shots, timings, tmp_path):
    document = tmp_path / "acme-deal.md"
    document.write_text(NEW_DOCUMENT, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    started = time.perf_counter()
    page.set_input_files("#upload input[type=file]", str(document))
    status = page.locator("#upload-status")
    page.wait_for_function(
        "() => /Added acme-deal.md \\(\\d+ chunks?\\) in/"
        ".test(document.querySelector('#upload-status').innerText)"
    )
    seconds = time.perf_counter() - started
    timings["upload_seconds"] = round(seconds, 3)
    timings["upload_bytes_per_s"] = round(len(NEW_DOCUMENT.encode()) / seconds, 1)
    assert status.inner_text().startswith("Added acme-deal.md (")
    assert "acme-deal.md" in page.locator("#documents").inner_text()
    assert "6 documents" in page.locator("#documents-heading").inner_text()
    page.screenshot(path=str(shots / "04-uploaded.png"))

    page.get_by_role("tab", name="Chat").click()
    answer, _, _ = ask(page, "What deal did Acme Robotics strike?")
    assert "Widget Gears" in answer.inner_text()
    answer.locator("a.rag-cite").first.click()
    page.locator("#sources .rag-active mark.rag-support").wait_for()
    assert "acme-deal.md" in page.locator("#sources .rag-active").inner_text()

    follow_up, _, _ = ask(page, "And how much did it cost?")
    assert (
        "Searched for" in follow_up.inner_text()
        and "the deal" in follow_up.locator(".rag-rewrite").inner_text()
    )
    assert "$12 million" in follow_up.inner_text()
    page.screenshot(path=str(shots / "05-follow-up.png"))

    # Remove it again: the chunks leave the index, and the next answer cannot cite it.
    page.get_by_role("tab", name="Documents").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#doomed input").click()
    page.get_by_role("option", name="acme-deal.md").click()
    page.get_by_role("button", name="Remove acme-deal.md from index").click()
    page.wait_for_function(
        "() => /Removed acme-deal.md/.test(document.querySelector('#upload-status').innerText)"
    )
    assert "removed from the index" in page.locator("#documents").inner_text()  # its file is kept
    page.get_by_role("tab", name="Chat").click()
    again, _, _ = ask(page, "What deal did Acme Robotics strike?")
    assert "acme-deal.md" not in again.inner_html()


def test_an_unanswerable_question_is_shown_as_not_found(page, shots):
    answer, _, _ = ask(page, "What is the population of Estonia?")
    assert "Not found in your documents" in answer.inner_text()
    assert "Maybe related (not an answer)" in answer.inner_text()
    answer.locator("a.rag-cite").first.click()
    page.locator("#sources .rag-maybe").first.wait_for()
    assert page.locator("#sources mark.rag-support").count() == 0  # closest passages are not support
    page.screenshot(path=str(shots / "06-not-found.png"))


def test_example_question_copy_and_clear(page, shots):
    page.get_by_text("Who is the European Commission spokesperson?").click()  # an example card
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chat .rag-answer')]"
        ".some(a => !a.classList.contains('rag-streaming'))"
    )
    answer = page.locator("#chat .rag-answer").last
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    answer.locator("button.rag-copy").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('button.rag-copy')].some(b => b.innerText.includes('Copied'))"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Thomas Regnier" in copied and "Sources:" in copied and "001_e7367d59c646826d.txt" in copied
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll('#chat .rag-answer').length === 0")
    page.screenshot(path=str(shots / "07-cleared.png"))


def test_settings_and_a_larger_upload_with_its_progress_bar(page, shots, timings, tmp_path):
    toggle_settings(page)
    assert "Extractive (exact quotes)" in page.locator("#mode").inner_text()
    page.screenshot(path=str(shots / "08-settings.png"), full_page=True)

    # About 40 KB of distinct sentences: long enough to see the progress bar move.
    lines = [
        f"In week {i % 52 + 1} of {2000 + i // 52} Vaasa shipped {i * 37 + 11} valves to client {i}."
        for i in range(400)
    ]
    ledger = tmp_path / "ledger.md"
    ledger.write_text("# Plant shipments ledger\n\n" + "\n\n".join(lines) + "\n", encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    started = time.perf_counter()
    page.set_input_files("#upload input[type=file]", str(ledger))
    try:  # best effort: a fast machine may finish before the bar is seen
        page.get_by_text("Embedding passages").first.wait_for(timeout=20_000)
        page.screenshot(path=str(shots / "09-upload-progress.png"))
    except Exception:  # noqa: BLE001 - the screenshot is optional, the result below is not
        pass
    page.wait_for_function("() => /^Added .* in /.test(document.querySelector('#upload-status').innerText)")
    seconds = time.perf_counter() - started
    size = ledger.stat().st_size
    timings["ledger_upload_bytes"] = size
    timings["ledger_upload_seconds"] = round(seconds, 2)
    timings["ledger_upload_kb_per_s"] = round(size / 1024 / seconds, 2)
    page.screenshot(path=str(shots / "10-upload-done.png"))
    assert "ledger.md" in page.locator("#documents").inner_text()


def test_a_pdf_citation_opens_its_page_with_the_sentence_marked(page, shots, tmp_path):
    from tests.documents import paged_pdf_bytes

    manual = tmp_path / "pump-manual.pdf"
    manual.write_bytes(
        paged_pdf_bytes(
            [
                ["Pump manual", "This manual covers the rooftop pumps of the east wing of the depot."],
                ["Installation", "The rooftop pumps were installed by Nordic Flow Systems in 2019."],
                [
                    "Maintenance",
                    "The filters of the rooftop pumps are replaced every six weeks by the",
                    "facilities team of the depot.",
                ],
            ],
            title="Pump manual",
        )
    )
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#upload input[type=file]", str(manual))
    page.wait_for_function("() => /^Added .* in /.test(document.querySelector('#upload-status').innerText)")
    page.get_by_role("tab", name="Chat").click()
    answer, _, _ = ask(
        page, "How often does the facilities team of the depot replace the filters of the rooftop pumps?"
    )
    assert "every six weeks" in answer.inner_text()
    answer.locator("a.rag-cite").first.click()
    card = page.locator("#sources .rag-source.rag-active")
    card.wait_for()
    assert "pump-manual.pdf" in card.inner_text() and "p. 3 · characters" in card.inner_text()

    card.locator("a.rag-open").click()
    figure = page.locator("#sources figure.rag-pdf-page[data-page='3']")
    figure.wait_for()
    assert "Page 3 of 3" in figure.inner_text()
    image = figure.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    mark = figure.locator("#rag-target.rag-pdf-mark")
    mark.wait_for()
    box, picture = mark.bounding_box(), image.bounding_box()
    assert box is not None and picture is not None and box["width"] > 0 and box["height"] > 0
    # The mark lies on the page, in its upper part where the three lines are printed.
    assert picture["x"] <= box["x"] < picture["x"] + picture["width"]
    assert picture["y"] <= box["y"] < picture["y"] + picture["height"] / 3
    # The reader's answer, darker inside the cited sentence of the card, is marked inside the
    # sentence on the page too.
    assert page.locator("#sources strong.rag-span").first.inner_text() in ("every six weeks", "six weeks")
    span = figure.locator(".rag-pdf-span").bounding_box()
    assert (
        span is not None
        and box["x"] <= span["x"]
        and span["x"] + span["width"] <= box["x"] + box["width"] + 1
    )
    assert abs(span["y"] - box["y"]) < 3 and span["width"] < box["width"] / 2
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "11-pdf-page.png"))


def _upload(page, path: Path) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_function(
        "name => { const s = document.querySelector('#upload-status').innerText;"
        " return /^Added .* in /.test(s) && s.includes(name); }",
        arg=path.name,
    )
    page.get_by_role("tab", name="Chat").click()


def _marked_page(page, answer, source: str, page_number: int):  # noqa: ANN202 - Playwright locators
    """Open the answer's first citation's page view; returns (the citation card's text, the
    figure, its first mark, the image)."""
    answer.locator("a.rag-cite").first.click()
    card = page.locator("#sources .rag-source.rag-active")
    card.wait_for()
    shown = card.inner_text()
    assert source in shown
    card.locator("a.rag-open").click()
    figure = page.locator(f"#sources figure.rag-pdf-page[data-page='{page_number}']")
    figure.wait_for()
    image = figure.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    mark = figure.locator("#rag-target.rag-pdf-mark")
    mark.wait_for()
    return shown, figure, mark, image


def test_a_cited_table_row_and_an_ocr_sentence_are_boxed_on_the_page(page, shots, tmp_path):
    """Issue 31: a PDF table row answers read with its header and is boxed where it is
    printed; a scanned page is read by OCR, cited as such, and its sentence boxed on the image."""
    import io as _io

    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    prices = tmp_path / "kayak-prices.pdf"
    table = Table(
        [["Boat", "Per day", "Deposit"], ["Sea kayak", "55 EUR", "300 EUR"], ["Canoe", "40 EUR", "150 EUR"]]
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, (0, 0, 0))]))
    intro = Paragraph("Boats are rented from the harbour kiosk.", getSampleStyleSheet()["Normal"])
    SimpleDocTemplate(str(prices), title="Boat rental prices", invariant=1).build([intro, table])
    _upload(page, prices)
    answer, _, _ = ask(page, "What is the deposit for a sea kayak?")
    assert answer.inner_text().startswith("Boat: Sea kayak; Per day: 55 EUR; Deposit: 300 EUR [1]")
    _, figure, mark, image = _marked_page(page, answer, "kayak-prices.pdf", 1)
    box, picture = mark.bounding_box(), image.bounding_box()
    assert box is not None and picture is not None and box["width"] > 0
    assert picture["y"] <= box["y"] < picture["y"] + picture["height"] / 3  # the table, near the top
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "16-pdf-table-row.png"))

    if shutil.which("tesseract") is None and not os.environ.get("CI"):
        pytest.skip("Tesseract is not installed (make install adds it)")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 44)
    scan = Image.new("L", (2480, 3508), 245)
    draw = ImageDraw.Draw(scan)
    for i, line in enumerate(
        [
            "Notice to the tenants of Lindeveien 8",
            "The laundry room will be closed for repairs until 14 April.",
            "Keys are kept by the caretaker, Ola Dahl.",
        ]
    ):
        draw.text((220, 400 + 90 * i), line, font=font, fill=25)
    buffer = _io.BytesIO()
    scan.save(buffer, format="PDF", resolution=300)
    (tmp_path / "laundry-notice.pdf").write_bytes(buffer.getvalue())
    _upload(page, tmp_path / "laundry-notice.pdf")
    answer, _, _ = ask(page, "Until when is the laundry room closed for repairs?")
    assert "14 April" in answer.inner_text()
    card, figure, mark, image = _marked_page(page, answer, "laundry-notice.pdf", 1)
    assert "OCR, p. 1" in card
    assert "text read by OCR" in figure.inner_text()
    box, picture = mark.bounding_box(), image.bounding_box()
    assert box is not None and picture is not None and box["width"] > picture["width"] / 4
    assert picture["y"] + picture["height"] / 10 <= box["y"] < picture["y"] + picture["height"] / 4
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "17-pdf-ocr-sentence.png"))


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_blank_and_over_long_questions_are_held_back_in_the_box(browser, server, shots, viewport):
    """Issue 17 item 6: Ask is disabled for a blank box, the length shows against the limit,
    and a refused question stays in the box with its reason instead of becoming a bubble."""
    width, height = viewport
    with opened(browser, server, width, height) as page:
        assert page.locator("#ask").is_disabled()
        page.fill("#question textarea", "Who leads the loan?")
        page.wait_for_function("() => !document.querySelector('#ask').disabled")
        assert "19 / 4,000 characters" in page.locator("#question-count").inner_text()
        page.fill("#question textarea", "   ")
        page.wait_for_function("() => document.querySelector('#ask').disabled")
        long_question = "Why " + "really " * 700  # 4,904 characters
        page.fill("#question textarea", long_question)
        page.wait_for_function(
            "() => document.querySelector('#question-count').innerText.includes('shorten')"
        )
        assert page.locator("#ask").is_disabled()
        page.press("#question textarea", "Enter")  # Enter does not pass the limit either
        assert page.locator("#question textarea").input_value() == long_question
        page.screenshot(path=str(shots / f"12-over-long-{width}x{height}.png"))
        ask(page, "Who leads the SoftBank loan?")  # events run in order: the refused one came first
        assert page.locator("#chat .rag-answer").count() == 1  # one answer: the refused one sent nothing
        assert "really really" not in page.locator("#chat").inner_text()


@pytest.mark.parametrize("viewport", [(390, 844), (1366, 900), (1920, 1080)], ids=["phone", "laptop", "wide"])
def test_the_layout_keeps_the_box_on_screen_and_uses_the_height(browser, server, shots, viewport):
    """Issue 17 item 10: the box, Ask and Clear on screen without scrolling; the chat uses
    the window's height; no label over the messages; the documents table scrolls sideways
    on a phone instead of widening the page."""
    width, height = viewport
    with opened(browser, server, width, height) as page:
        ask(page, "How many parameters does Mistral Medium 3.5 have?")
        page.evaluate("window.scrollTo(0, 0)")
        for selector in ("#question textarea", "#ask", "#clear"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
        chat = page.locator("#chat").bounding_box()
        assert chat is not None and chat["height"] >= min(0.45 * height, height - 400)
        new_chat = page.locator("#clear").bounding_box()
        assert new_chat is not None and new_chat["x"] + new_chat["width"] <= chat["x"] + chat["width"] + 1
        assert page.locator("#chat [data-testid='block-label']").count() == 0  # no "Chat" badge
        page.screenshot(path=str(shots / f"13-layout-{width}x{height}.png"))
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_selector("#documents table")
        page.screenshot(path=str(shots / f"14-documents-{width}x{height}.png"))
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= width + 1  # the page itself never scrolls sideways


class _SlowGenerator:
    """A backend that writes one word every ``pause`` seconds: time to press Stop, or Enter,
    meanwhile, and to watch what the chat shows while sentences are checked."""

    context_tokens = 8192
    max_tokens = 512

    def __init__(self, name: str, text: str, pause: float) -> None:
        self.name, self.text, self.pause = name, text, pause

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt):  # noqa: ANN001, ANN201
        for word in self.text.split(" "):
            time.sleep(self.pause)
            yield word + " "


SUPPORTED = "Mistral Medium 3.5 is a 128-billion-parameter scale model."
UNSUPPORTED = "Mistral Medium 3.5 was trained on the Moon in 1969."
NUMBER_WRONG = "Mistral Medium 3.5 is a 70-billion-parameter scale model."


@pytest.fixture(scope="module")
def model_server(built_seed_index, tmp_path_factory):
    """The app with two scripted answer modes: "slow" (a long answer, 0.3 s a word) and
    "checked" (a supported sentence, an unsupported one, a supported one; 0.1 s a word)."""
    from rag.answer.generators import base
    from rag.library import Library
    from rag.ui.app import build_app, serve

    scripted = {
        "slow": lambda settings: _SlowGenerator("slow", f"{SUPPORTED} " * 20, 0.3),
        "unsupported": lambda settings: _SlowGenerator("unsupported", f"{UNSUPPORTED} {NUMBER_WRONG}", 0.05),
        "checked": lambda settings: _SlowGenerator(
            "checked",
            f"{SUPPORTED} {UNSUPPORTED} It is the first Mistral model to combine advanced reasoning, "
            "deep instructional understanding and high consistency of generated code.",
            0.1,
        ),
    }
    saved = dict(base._factories)
    base._factories.update(scripted)
    root = tmp_path_factory.mktemp("model-served")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(Path(__file__).resolve().parents[2] / "seeds", corpus)
    shutil.copytree(built_seed_index, index)
    # An OpenAI-compatible server is configured but down: a port bound and never listening.
    with refusing_port() as port, pytest.MonkeyPatch.context() as env:
        env.setenv("RAG_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        env.setenv("RAG_OPENAI_MODEL", "m")
        app = build_app([Library("seeds", corpus, index)])
        try:
            yield on_free_port(lambda port: serve(app, host="127.0.0.1", port=port, block=False))
        finally:
            app.close()
            base._factories.clear()
            base._factories.update(saved)


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_stop_cancels_an_answer_being_written_and_enter_meanwhile_keeps_the_question(
    browser, model_server, shots, viewport
):
    """Issue 17 item 5: Stop takes Ask's place while an answer is written and cancels it
    (its text withdrawn); a question sent meanwhile stays in the box."""
    width, height = viewport
    with opened(browser, model_server, width, height) as page:
        toggle_settings(page)
        page.get_by_label("slow").check()
        toggle_settings(page, open=False)
        page.fill("#question textarea", "How many parameters does Mistral Medium 3.5 have?")
        page.press("#question textarea", "Enter")
        page.wait_for_selector("#stop", state="visible")
        assert not page.locator("#ask").is_visible()
        page.wait_for_function(
            "() => { const t = document.querySelector('#chat .rag-streaming .rag-text');"
            " return t && t.innerText.includes('Mistral'); }"
        )
        page.fill("#question textarea", "And when was it released?")
        page.press("#question textarea", "Enter")  # while the first is written: held in the box
        page.screenshot(path=str(shots / f"15-writing-with-stop-{width}x{height}.png"))
        page.click("#stop")
        page.wait_for_selector("#chat .rag-stopped")
        page.wait_for_selector("#ask", state="visible")
        assert not page.locator("#stop").is_visible()
        assert page.locator("#question textarea").input_value() == "And when was it released?"
        assert "128-billion" not in page.locator("#chat").inner_text()  # the unfinished answer withdrawn
        assert page.locator("#chat .rag-answer").count() == 1
        page.screenshot(path=str(shots / f"16-stopped-{width}x{height}.png"))


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_a_model_answer_shows_only_checked_sentences_while_it_is_written(
    browser, model_server, shots, viewport
):
    """Issue 17 item 4: every text the chat shows while the model writes is a verified
    sentence, under a "checking…" line; the unsupported sentence never appears."""
    width, height = viewport
    with opened(browser, model_server, width, height) as page:
        toggle_settings(page)
        page.get_by_label("checked").check()
        toggle_settings(page, open=False)  # on a phone the sidebar covers the chat
        # Record every text the chat shows, as the page changes.
        page.evaluate(
            "() => { window.ragSeen = []; new MutationObserver(() => window.ragSeen.push("
            "document.querySelector('#chat').innerText)).observe(document.querySelector('#chat'),"
            " {subtree: true, childList: true, characterData: true}); }"
        )
        page.fill("#question textarea", "How many parameters does Mistral Medium 3.5 have?")
        page.press("#question textarea", "Enter")
        page.wait_for_function(
            "() => { const t = document.querySelector('#chat .rag-streaming');"
            " return t && t.innerText.includes('128-billion'); }"
        )
        assert page.locator("#chat .rag-streaming .rag-checking").is_visible()
        page.screenshot(path=str(shots / f"17-checking-{width}x{height}.png"))
        page.wait_for_selector("#chat .rag-answer:not(.rag-streaming) .rag-foot")
        seen = page.evaluate("window.ragSeen")
        final = page.locator("#chat .rag-answer").last.inner_text()
    assert seen and not any("Moon" in text for text in seen)
    assert "128-billion" in final and "first Mistral model" in final and "Moon" not in final
    assert "had no support" in final  # the note says a sentence was left out


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_settings_are_one_click_away_and_a_backend_that_is_down_says_so(
    browser, model_server, shots, viewport
):
    """Issue 17 item 7: the settings open from the corner of the first screen, without
    scrolling; modes have names people use; the configured server that is down is marked
    unavailable with the reason, and asking in its mode still answers (with exact quotes)."""
    width, height = viewport
    with opened(browser, model_server, width, height) as page:
        toggle = page.get_by_role("button", name="Toggle Sidebar").bounding_box()
        assert toggle is not None and 0 <= toggle["y"] and toggle["y"] + toggle["height"] <= height
        toggle_settings(page)
        mode = page.locator("#mode")
        box = mode.bounding_box()
        assert box is not None and box["y"] + box["height"] <= height  # no scrolling to reach it
        labels = mode.inner_text()
        assert "Extractive (exact quotes)" in labels and "OpenAI-compatible server — unavailable" in labels
        assert "Ready: quotes the documents" in page.locator("#mode-status").inner_text()
        assert "best-matching passages" in page.locator("#k").inner_text()  # the number explained
        page.get_by_label("OpenAI-compatible server — unavailable").check()
        page.wait_for_function(
            "() => document.querySelector('#mode-status').innerText.includes('Cannot reach')"
        )
        page.screenshot(path=str(shots / f"18-settings-{width}x{height}.png"))
        toggle_settings(page, open=False)
        answer, _, _ = ask(page, "How many parameters does Mistral Medium 3.5 have?")
        text = answer.inner_text()
        assert "128-billion-parameter" in text and "extractive answer is shown instead" in text


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_the_chat_survives_a_reload_until_new_chat(browser, server, shots, viewport):
    """Issue 17 item 9: the chat is kept in the browser across a reload, its markers still
    open their sources; "New chat" empties it, for good."""
    width, height = viewport
    with opened(browser, server, width, height) as page:
        empty = page.evaluate("() => localStorage.getItem('rag-chat-history')")
        ask(page, "Who is the European Commission spokesperson?")
        before = page.locator("#chat .rag-answer .rag-text").inner_text()
        # The turn is stored when its event ends, a moment after its last words show (as a
        # person would, reload once it is kept: a reload inside that moment loses the turn).
        page.wait_for_function("old => localStorage.getItem('rag-chat-history') !== old", arg=empty)
        page.reload()
        page.wait_for_selector("#chat .rag-answer")
        assert page.locator("#chat .rag-answer .rag-text").inner_text() == before
        assert "Who is the European Commission spokesperson?" in page.locator("#chat").inner_text()
        page.screenshot(path=str(shots / f"19-after-reload-{width}x{height}.png"))
        page.locator("#chat a.rag-cite").first.click()
        page.wait_for_selector("#sources mark")
        kept = page.evaluate("() => localStorage.getItem('rag-chat-history')")
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function("() => !document.querySelector('#chat .rag-answer')")
        # Stored once the event is done: the page's storage then holds the emptied chat.
        page.wait_for_function("old => localStorage.getItem('rag-chat-history') !== old", arg=kept)
        page.reload()
        page.wait_for_selector("#question textarea")
        ask(page, "Who leads the SoftBank loan?")
        assert page.locator("#chat .rag-answer").count() == 1  # the old chat did not come back
        assert "spokesperson" not in page.locator("#chat").inner_text()


def _report(words: int, seed: int) -> str:
    """A long Markdown report of distinct sentences (so nothing is folded as a duplicate)."""
    import random

    rng = random.Random(seed)
    places = ["Vaasa", "Oulu", "Turku", "Kotka", "Pori", "Lahti", "Kuopio", "Espoo"]
    goods = ["valves", "pumps", "gears", "cables", "sensors", "motors", "bearings", "filters"]
    lines, count, section = ["# Plant report"], 0, 0
    while count < words:
        if count // 400 > section:
            section = count // 400
            lines.append(f"\n## Quarter {section}\n")
        line = (
            f"In week {rng.randrange(1, 53)} of {rng.randrange(1990, 2030)} the {rng.choice(places)} "
            f"plant shipped {rng.randrange(10, 99999)} {rng.choice(goods)} "
            f"to client {rng.randrange(1, 9999)}, "
            f"and {rng.randrange(2, 400)} of them went by rail to {rng.choice(places)}."
        )
        lines.append(line)
        count += len(line.split())
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_uploads_name_each_file_reset_and_show_progress_and_a_row_deletes(
    browser, server, shots, tmp_path, viewport
):
    """Issue 17 item 8: the status names the files added and refused, and is cleared by the
    next attempt; the bar moves while a 176 KB file is split and embedded; clicking a
    document's row offers to delete it."""
    width, height = viewport
    good, empty = tmp_path / f"memo-{width}.md", tmp_path / "empty.txt"
    good.write_text(
        f"# Memo {width}\n\nThe {width} depot opened on 2 May 2024 with 14 staff.\n", encoding="utf-8"
    )
    empty.write_bytes(b"")
    big = tmp_path / f"report-{width}.md"
    big.write_text(_report(36_000, seed=width), encoding="utf-8")
    assert 150_000 < big.stat().st_size < 200_000
    status = "#upload-status"
    with opened(browser, server, width, height) as page:
        page.get_by_role("tab", name="Documents").click()
        page.set_input_files("#upload input[type=file]", [str(good), str(empty)])
        page.wait_for_function(
            f"() => /^Added memo-{width}.md/.test(document.querySelector('{status}').innerText)"
        )
        first = page.locator(status).inner_text()
        assert "Refused empty.txt is empty." in first
        # Every text the status shows from now on, as it changes.
        page.evaluate(
            f"() => {{ window.ragStatus = []; const s = document.querySelector('{status}');"
            " new MutationObserver(() => window.ragStatus.push(s.innerText)).observe(s,"
            " {subtree: true, childList: true, characterData: true}); }"
        )
        page.set_input_files("#upload input[type=file]", str(big))
        page.get_by_text("Embedding passages").first.wait_for()
        page.screenshot(path=str(shots / f"21-upload-progress-{width}x{height}.png"))
        page.wait_for_function(
            f"() => /^Added report-{width}.md/.test(document.querySelector('{status}').innerText)"
        )
        seen = page.evaluate("window.ragStatus")
        assert not any("memo" in text for text in seen), seen[:6]  # the last attempt's result went at once
        counts = {m for text in seen for m in re.findall(r"Embedding passages and sentences: (\d+)/", text)}
        assert len(counts) >= 3, seen  # the bar moved while the file was embedded
        page.screenshot(path=str(shots / f"22-upload-done-{width}x{height}.png"))

        page.locator("#documents .body-cell", has_text=f"memo-{width}.md").first.click()
        delete = page.get_by_role("button", name=f"Remove memo-{width}.md from index")
        delete.wait_for()
        page.screenshot(path=str(shots / f"23-row-chosen-{width}x{height}.png"))
        page.once("dialog", lambda dialog: dialog.accept())
        delete.click()
        page.wait_for_function(
            f"() => /Removed memo-{width}.md/.test(document.querySelector('{status}').innerText)"
        )
        assert "removed from the index" in page.locator("#documents").inner_text()  # the file stays
        assert f"report-{width}.md" in page.locator("#documents").inner_text()


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_follow_ups_rewrite_only_when_needed_and_list_numbers_stay_out(browser, server, shots, viewport):
    """Issue 17 items 1 and 2: a follow-up is searched with its antecedent (and says so); a
    question naming its own subject is searched as typed, and its answer quotes the seeds'
    numbered "Key Takeaways" without the list number glued to the first word."""
    width, height = viewport
    with opened(browser, server, width, height) as page:
        ask(page, "How big is the bridge loan SoftBank is seeking to finance its OpenAI investment?")
        follow_up, _, _ = ask(page, "Who leads it?")
        assert "SoftBank" in follow_up.locator(".rag-rewrite").inner_text()
        standalone, _, _ = ask(page, "Why does Anthropic refuse to share its model with the EU?")
        assert standalone.locator(".rag-rewrite").count() == 0  # searched as typed
        text = standalone.locator(".rag-text").inner_text()
        assert text.startswith("Anthropic still refuses") and "2Anthropic" not in text
        page.screenshot(path=str(shots / f"24-standalone-after-follow-up-{width}x{height}.png"))


@pytest.mark.parametrize("viewport", [(390, 844), (1920, 1080)], ids=["phone", "wide"])
def test_a_model_answer_without_support_shows_the_exact_quotes_not_not_found(
    browser, model_server, shots, viewport
):
    """Issue 17 item 3: when no sentence the model wrote is supported but the documents do
    answer, the chat shows the extractive answer with a note, not "Not found"."""
    width, height = viewport
    with opened(browser, model_server, width, height) as page:
        toggle_settings(page)
        page.get_by_label("unsupported").check()
        toggle_settings(page, open=False)
        answer, _, _ = ask(page, "How many parameters does Mistral Medium 3.5 have?")
        text = answer.inner_text()
        assert "Not found" not in text and "128-billion-parameter" in text
        assert "Moon" not in text and "70-billion" not in text
        assert "had no support in the documents; the extractive answer (exact quotes) is shown" in text
        page.screenshot(path=str(shots / f"25-unsupported-model-answer-{width}x{height}.png"))
