"""Issue 14 items 1-3 end to end in headless Chromium against a real `runall` server: Markdown
answers (sanitized, code copy, math as text), stop mid-stream (the server keeps the partial
answer), regenerate, copy, edit the last question, the message limit, citations that open their
passage, session search, and the knowledge page's view/reprocess/delete, with XSS payloads in
messages, answers, titles, document names and document text (no dialog may open).

The server's offline tutor streams with OFFLINE_LLM_STREAM_DELAY (tests/web/conftest.py)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import assert_accessible
from tests.web.test_browser import SESSION_URL, XSS, ask, register

pytestmark = pytest.mark.browser

FIRST_TURN = 60_000  # ms: a fresh server's first answer also loads its models
NOTES = (
    "Photosynthesis converts light energy into chemical energy stored in glucose. "
    "It takes place in the chloroplasts of plant cells, where chlorophyll absorbs light. "
    "The mitochondria release the energy stored in glucose by cellular respiration."
)


def upload_text(page: Page, tmp_path, name: str, text: str, filename: str = "notes.txt"):
    path = tmp_path / filename
    path.write_text(text)
    page.goto("/knowledge/")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Upload").click()
    doc = page.locator(".doc").filter(has=page.locator(".doc-name", has_text=name))
    expect(doc.locator(".doc-status")).to_have_text("completed", timeout=FIRST_TURN)
    return doc


def finished(page: Page):
    answer = page.locator(".message-assistant").last
    expect(answer).to_have_attribute("aria-busy", "false", timeout=FIRST_TURN)
    return answer


def test_markdown_answers_are_rendered_and_sanitized(page: Page):
    """Seeded answers (model output as the server would return it) through the page's renderer."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    register(page)
    ask(page, "Hello")
    expect(page).to_have_url(SESSION_URL)
    session_id = page.locator("[data-chat-app]").get_attribute("data-session-id")
    answer = "\n".join(
        [
            "## Steps",
            "- light is absorbed",
            "- **glucose** is made",
            "",
            "| stage | where |",
            "| --- | --- |",
            "| light | thylakoid |",
            "",
            "```python",
            "print('<b>not bold</b>')",
            "```",
            "",
            "Energy: $E = m*c*c$ and \\(a_1 * b_1\\).",
            "",
            XSS + " [link](javascript:alert(1)) ![pic](http://example.com/x.png)",
        ]
    )
    chats = [{"id": session_id, "message": XSS, "response": answer, "created_at": "2026-01-01T00:00:00Z",
              "response_id": None, "citations": [], "is_complete": True}]
    page.route(
        re.compile(r".*/load_session/.*"),
        lambda route: route.fulfill(status=200, content_type="application/json",
                                    body=json.dumps({"session_id": session_id, "session_title": "Seeded", "chats": chats})),
    )
    page.get_by_role("button", name="+ New chat").click()
    page.locator("[data-session-item] .session-link").first.click()
    body = page.locator(".message-assistant .message-body")
    expect(body.locator("h2")).to_have_text("Steps")
    expect(body.locator("ul > li")).to_have_count(2)
    expect(body.locator("li strong")).to_have_text("glucose")
    expect(body.locator("table td")).to_have_text(["light", "thylakoid"])
    expect(body.locator("pre code")).to_have_text("print('<b>not bold</b>')")
    expect(body.locator(".math")).to_have_text(["$E = m*c*c$", "\\(a_1 * b_1\\)"])  # left as text, no emphasis
    assert body.locator("em").count() == 0
    # Raw HTML from the model is text; a javascript: link is not a link; images are not loaded.
    assert page.locator("[data-messages] img, [data-messages] script, [data-messages] b").count() == 0
    assert "<img src=x onerror=alert(1)>" in body.inner_text()
    assert body.locator("a[href^='javascript']").count() == 0
    assert not [u for u in page.requests if "example.com" in u]
    expect(page.locator(".message-user .message-text")).to_have_text(XSS)

    body.get_by_role("button", name="Copy code").click()
    expect(body.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "print('<b>not bold</b>')\n"
    page.locator(".message-assistant [data-copy]").click()
    assert page.evaluate("navigator.clipboard.readText()") == answer
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert page.dialogs == []
    assert_accessible(page)


def test_stop_regenerate_edit_and_the_message_limit(page: Page):
    register(page)
    box = page.get_by_label("Message")
    box.fill("Tell me everything about energy in cells")
    box.press("Enter")
    # Stop at once: the server cancels the stream and keeps what was written, marked incomplete.
    page.get_by_role("button", name="Stop").click()
    answer = finished(page)
    expect(answer.locator(".message-note")).to_have_text(re.compile("Stopped"))
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page).to_have_url(SESSION_URL)
    # The title came with the first answer, without a reload.
    expect(page.locator("[data-chat-title]")).to_have_text("Tell me everything about energy in cells")
    page.reload()
    expect(page.locator(".message-assistant .message-note")).to_have_text(re.compile("incomplete"))

    # Regenerate re-answers the same question in place of the stopped answer.
    page.get_by_role("button", name="Regenerate").click()
    answer = finished(page)
    expect(answer.locator(".message-note")).to_have_count(0)
    full = answer.locator(".message-body").inner_text()
    assert full.strip()
    expect(page.locator(".message-assistant")).to_have_count(1)
    page.reload()
    expect(page.locator(".message-assistant")).to_have_count(1)
    expect(page.locator(".message-assistant .message-note")).to_have_count(0)

    # Edit the last question: it is resent and replaces the old exchange.
    ask(page, "What is glucose?")
    expect(page.get_by_role("button", name="Edit")).to_have_count(1)  # the last question only
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("Edit your question")
    expect(editor).to_have_value("What is glucose?")
    editor.fill("What is chlorophyll?")
    editor.press("Enter")
    finished(page)
    expect(page.locator(".message-user .message-text")).to_have_text(
        ["Tell me everything about energy in cells", "What is chlorophyll?"]
    )
    page.reload()
    expect(page.locator(".message-user .message-text")).to_have_text(
        ["Tell me everything about energy in cells", "What is chlorophyll?"]
    )
    expect(page.locator(".message-assistant")).to_have_count(2)

    # A paste over the limit is not cut and not sent: the composer says so.
    long_text = "x" * 13_200
    box.fill(long_text)
    note = page.locator("[data-length-note]")
    expect(note).to_have_text(re.compile(r"13,200 characters; the limit is 10,000"))
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    box.press("Enter")
    expect(page.locator(".message-user")).to_have_count(2)
    assert len(box.input_value()) == 13_200
    box.fill("short")
    expect(note).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    assert page.dialogs == []
    assert_accessible(page)


def test_citations_open_their_passage_and_the_view_follows_the_answer(page: Page, tmp_path):
    register(page)
    upload_text(page, tmp_path, "Cell biology notes", NOTES)
    page.get_by_role("link", name="Chat", exact=True).click()
    page.set_viewport_size({"width": 1280, "height": 560})
    for question in ("Where does photosynthesis take place?", "What do mitochondria release?",
                     "What does photosynthesis convert light energy into?"):
        ask(page, question)
    answer = finished(page)
    # The view stays at the end: the last answer's sources and Listen button are visible.
    expect(answer.get_by_role("button", name=re.compile("Listen"))).to_be_in_viewport()
    at_end = page.locator("[data-messages]").evaluate("m => m.scrollHeight - m.scrollTop - m.clientHeight")
    assert at_end < 2, at_end

    source = answer.locator(".citations [data-citation]").first
    expect(source).to_contain_text("Cell biology notes")
    source.click()
    panel = page.locator("[data-passage-dialog]")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-passage-title]")).to_contain_text("Cell biology notes")
    expect(panel.locator("[data-passage-text]")).to_contain_text("glucose")
    assert_accessible(page, context="[data-passage-dialog]")
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    # Each [n] in the answer opens the same kind of panel.
    markers = answer.locator(".cite-marker")
    if markers.count():
        markers.first.click()
        expect(panel.locator("[data-passage-text]")).not_to_have_text(re.compile("Loading"))
        panel.get_by_role("button", name="Close").click()
    source.click()
    panel.get_by_role("link", name="Open the document").click()
    expect(page.get_by_role("heading", name="Cell biology notes")).to_be_visible()
    expect(page.locator(".document-text")).to_contain_text("chloroplasts of plant cells")
    assert page.dialogs == []


def test_session_search_by_title_and_message_text(page: Page):
    register(page)
    ask(page, "Tell me about mitochondria")
    expect(page).to_have_url(SESSION_URL)
    page.locator("[data-session-item]").first.get_by_role("button", name=re.compile("^Rename")).click()
    page.get_by_label("New title for this chat").fill("Cells")
    page.get_by_label("New title for this chat").press("Enter")
    expect(page.locator("[data-chat-title]")).to_have_text("Cells")
    page.get_by_role("button", name="+ New chat").click()
    ask(page, "Explain algebra")
    recent = page.locator("[data-session-list] [data-session-item]")
    expect(recent).to_have_count(2)

    search = page.get_by_label("Search chats")
    search.fill("mitochondria")  # only in the first chat's messages, not its title
    results = page.locator("[data-search-results] [data-session-item]")
    expect(results).to_have_count(1)
    expect(results.locator(".session-link")).to_have_text("Cells")
    expect(page.locator("[data-search-status]")).to_have_text(re.compile("1 chat match"))
    results.locator(".session-link").click()
    expect(page.locator(".message-user .message-text")).to_have_text("Tell me about mitochondria")
    search.fill("algebra")
    expect(results).to_have_count(1)
    expect(results.locator(".session-link")).to_have_text("Explain algebra")
    search.fill("nothing like this")
    expect(page.locator("[data-search-status]")).to_have_text(re.compile("No chats match"))
    search.press("Escape")
    expect(recent).to_have_count(2)
    expect(page.locator("[data-search-results]")).to_be_hidden()
    assert_accessible(page)


def test_knowledge_page_view_reprocess_delete_and_empty_file(page: Page, tmp_path):
    register(page)
    page.goto("/knowledge/")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    page.get_by_label("File").set_input_files(str(empty))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-upload-error]")).to_have_text("The submitted file is empty.")

    doc = upload_text(page, tmp_path, XSS, f"Plant notes.\n{XSS}\n{NOTES}")
    expect(doc.locator(".doc-meta")).to_contain_text(re.compile(r"TEXT · \d+ bytes"))
    expect(doc.locator(".doc-name")).to_have_text(XSS)
    assert_accessible(page)

    doc.get_by_role("link", name=re.compile("^View text")).click()
    expect(page.locator(".document-title")).to_have_text(XSS)
    expect(page.locator(".document-text")).to_contain_text(XSS)
    assert page.locator("main img, main script:not([src])").count() == 0
    page.go_back()

    doc = page.locator(".doc").first
    doc.get_by_role("button", name=re.compile("^Reprocess")).click()
    expect(doc.locator(".doc-status")).to_have_text("completed", timeout=FIRST_TURN)

    doc.get_by_role("button", name=re.compile("^Delete")).click()
    dialog = page.locator("[data-doc-delete-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(XSS)
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator(".doc")).to_have_count(1)
    doc.get_by_role("button", name=re.compile("^Delete")).click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator(".doc")).to_have_count(0)
    page.reload()
    expect(page.locator(".doc")).to_have_count(0)
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    page.wait_for_timeout(200)
    assert page.dialogs == []
