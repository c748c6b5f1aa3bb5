"""End to end in headless Chromium against uvicorn serving tutorhub.asgi (HTTP + WebSockets):
accounts, the chat page with streamed answers over ws/chat/, session management, XSS safety,
and screenshots of the chat page saved to artifacts/screenshots/."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

SESSION_URL = re.compile(r"/chat/[0-9a-f-]{36}/$")
XSS = '<img src=x onerror=alert(1)> <script>alert("xss")</script> **bold** <b>b</b>'


def register(page: Page, username: str | None = None) -> str:
    username = username or f"u{uuid.uuid4().hex[:10]}"
    page.goto("/accounts/register/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("[data-chat-app]")).to_have_attribute("data-socket", "open")
    return username


def watch_streaming(page: Page) -> None:
    """Record every text the streamed answer shows, to prove it arrives in pieces."""
    page.evaluate(
        """() => {
        window.__streamed = [];
        new MutationObserver(() => {
          const bubble = document.querySelector('.message-assistant.is-streaming .message-body');
          if (bubble && bubble.textContent) window.__streamed.push(bubble.textContent);
        }).observe(document.querySelector('[data-messages]'), {subtree: true, childList: true, characterData: true});
      }"""
    )


def new_chat(page: Page) -> None:
    """ "+ New chat" clears the view; the chat itself is stored with its first message."""
    count = page.locator("[data-session-list] [data-session-item]").count()
    page.get_by_role("button", name="+ New chat").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("[data-chat-title]")).to_have_text("New chat")
    expect(page.locator("[data-session-list] [data-session-item]")).to_have_count(count)


def ask(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".message-user .message-text").last).to_have_text(text)
    expect(page.locator(".message-assistant").last).to_have_attribute("aria-busy", "false", timeout=30_000)


def test_accounts_chat_rename_reload_delete_logout(page: Page, screenshots_dir):
    # Anonymous visitors land on the login page.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_role("link", name="Create an account").click()
    username = register(page)

    # Log out and back in with the form.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("Ask your tutor anything")).to_be_visible()

    # "+ New chat" stores nothing until the first message: three clicks, no empty chats.
    sessions = page.locator("[data-session-item]")
    expect(page.get_by_text("No chats yet.")).to_be_visible()
    for _ in range(3):
        new_chat(page)
    expect(sessions).to_have_count(0)

    # Shift+Enter is a new line, Enter sends; the answer streams in over the WebSocket.
    box = page.get_by_label("Message")
    box.fill("What is photosynthesis?")
    box.press("Shift+Enter")
    box.press_sequentially("Explain briefly.")
    expect(box).to_have_value("What is photosynthesis?\nExplain briefly.")
    expect(page.locator(".message-user")).to_have_count(0)
    watch_streaming(page)
    box.press("Enter")
    expect(page.locator(".message-user .message-text")).to_have_text("What is photosynthesis?\nExplain briefly.")
    expect(box).to_have_value("")
    # The first message stores the chat; its title (from the question) shows without a reload.
    expect(page).to_have_url(SESSION_URL, timeout=30_000)  # a fresh server's first turn loads its models
    session_url = page.url
    expect(sessions).to_have_count(1)
    expect(sessions.first.locator(".session-link")).to_have_attribute("aria-current", "page")
    answer = page.locator(".message-assistant").last
    expect(answer).to_have_attribute("aria-busy", "false", timeout=30_000)
    expect(sessions.first.locator(".session-link")).to_have_text("What is photosynthesis? Explain briefly.")
    expect(page.locator("[data-chat-title]")).to_have_text("What is photosynthesis? Explain briefly.")
    final_text = answer.locator(".message-body").text_content()  # textContent, as streamed
    assert final_text.strip()
    streamed = page.evaluate("window.__streamed")
    # Several growing prefixes of the answer were shown before the final message.
    assert len(set(streamed)) > 2, streamed
    # (Rendered Markdown: each snapshot ends with the newline after its last block.)
    assert all(final_text.startswith(s.strip()) or s.strip() in final_text for s in streamed[:-1]), streamed
    expect(page.locator("[data-typing]")).to_be_hidden()
    expect(page.locator("[data-error]")).to_be_hidden()

    # Rename inline; the new title shows in the sidebar and the heading.
    sessions.first.get_by_role("button", name=re.compile("^Rename")).click()
    title_box = page.get_by_label("New title for this chat")
    expect(title_box).to_be_focused()
    title_box.fill("Biology revision")
    title_box.press("Enter")
    expect(sessions.first.locator(".session-link")).to_have_text("Biology revision")
    expect(page.locator("[data-chat-title]")).to_have_text("Biology revision")

    # Reload: the history and the new title come back from the server.
    page.reload()
    expect(page).to_have_url(session_url)
    expect(page.locator("[data-chat-title]")).to_have_text("Biology revision")
    expect(page.locator(".message-user .message-text")).to_have_text("What is photosynthesis?\nExplain briefly.")
    expect(page.locator(".message-assistant .message-body")).to_have_text(final_text)

    # A second session; switching between them loads each one's history without a page load.
    new_chat(page)
    expect(page.locator(".message")).to_have_count(0)
    ask(page, "Second question")
    page.get_by_role("link", name="Biology revision").click()
    expect(page).to_have_url(session_url)
    expect(page.locator(".message-user .message-text")).to_have_text("What is photosynthesis?\nExplain briefly.")
    page.go_back()
    expect(page.locator(".message-user .message-text")).to_have_text("Second question")
    page.go_forward()
    expect(page.locator(".message-user .message-text")).to_have_text("What is photosynthesis?\nExplain briefly.")

    # Screenshots of the chat page: desktop, then phone-sized with the sidebar collapsed and open.
    page.screenshot(path=str(screenshots_dir / "chat-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#sidebar")).to_be_hidden()
    toggle = page.get_by_role("button", name="Show chats")
    expect(toggle).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "chat-phone.png"))
    toggle.click()
    expect(page.locator("#sidebar")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.wait_for_timeout(300)  # let the drawer finish sliding in
    page.screenshot(path=str(screenshots_dir / "chat-phone-sidebar.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).to_be_hidden()
    page.set_viewport_size({"width": 1280, "height": 800})

    # Delete the current session through the confirmation dialog.
    current = page.locator("[data-session-item].is-current")
    current.get_by_role("button", name=re.compile("^Delete")).click()
    dialog = page.locator("[data-delete-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Biology revision")
    dialog.get_by_role("button", name="Delete").click()
    expect(sessions).to_have_count(1)
    expect(page.get_by_role("link", name="Biology revision")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/$"))
    assert page.console_errors == []
    assert page.goto(session_url).status == 404  # (the browser logs this 404 to the console)

    # Log out: the chat is no longer reachable.
    page.goto("/")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    assert page.dialogs == []


def test_xss_payload_renders_as_text(page: Page):
    register(page)
    new_chat(page)
    ask(page, XSS)
    # Rename the session to the payload too: the sidebar and heading must show it as text.
    page.locator("[data-session-item]").first.get_by_role("button", name=re.compile("^Rename")).click()
    page.get_by_label("New title for this chat").fill(XSS)
    page.get_by_label("New title for this chat").press("Enter")
    expect(page.locator("[data-chat-title]")).to_have_text(XSS)

    for _ in range(2):  # as sent and streamed, then as reloaded from the server
        expect(page.locator(".message-user .message-text")).to_have_text(XSS)
        expect(page.locator(".session-link").first).to_have_text(XSS)
        assert page.locator("[data-messages] img, [data-messages] script, [data-messages] b").count() == 0
        assert page.locator(".session-list img, .session-list script, h1 img").count() == 0
        assert "**bold**" in page.locator(".message-user").inner_text()
        page.reload()
        expect(page.locator(".message-assistant")).to_have_attribute("aria-busy", "false")
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert page.dialogs == []
    assert page.evaluate("document.title").startswith(XSS)


def test_errors_are_shown_to_the_user(page: Page):
    register(page)
    ask(page, "Hello")
    # The session disappears behind the page's back (deleted in another tab).
    page.evaluate(
        """async () => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const id = document.querySelector('[data-chat-app]').dataset.sessionId;
        await fetch(`/chat/session/${id}/delete/`, {method: 'DELETE', headers: {'X-CSRFToken': token}});
      }"""
    )
    page.get_by_label("Message").fill("Are you there?")
    page.get_by_label("Message").press("Enter")
    error = page.locator(".message-assistant .message-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()

    # Renaming it now fails with the server's message, shown in the alert box.
    page.locator("[data-session-item]").first.get_by_role("button", name=re.compile("^Rename")).click()
    page.get_by_label("New title for this chat").fill("Gone")
    page.get_by_label("New title for this chat").press("Enter")
    expect(page.locator("[data-error]")).to_have_text("Not found.")


def make_pdf(path, paragraphs: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = 800
    for paragraph in paragraphs:
        pdf.drawString(60, y, paragraph)
        y -= 24
    pdf.save()


def test_upload_watch_progress_then_ask_with_citations_and_listen(page: Page, tmp_path, screenshots_dir):
    register(page)
    page.get_by_role("link", name="Knowledge", exact=True).click()
    expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()
    expect(page.get_by_text("No documents yet.")).to_be_visible()

    # A file the server cannot read is refused with a clear message.
    junk = tmp_path / "program.bin"
    junk.write_bytes(bytes(range(256)) * 8)
    page.get_by_label("File").set_input_files(str(junk))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-upload-error]")).to_be_visible()
    expect(page.locator("[data-upload-error]")).not_to_be_empty()
    expect(page.locator(".doc")).to_have_count(0)

    # A real PDF: the page shows it at once and follows its processing to 100 %.
    pdf = tmp_path / "cells.pdf"
    make_pdf(
        pdf,
        [
            "Photosynthesis converts light energy into chemical energy stored in glucose.",
            "It takes place in the chloroplasts of plant cells, using chlorophyll.",
            "The mitochondria release energy from glucose by cellular respiration.",
        ],
    )
    page.evaluate(
        """() => {
        window.__statuses = [];
        new MutationObserver(() => {
          for (const doc of document.querySelectorAll('.doc')) {
            const seen = doc.dataset.status + ':' + doc.querySelector('progress').value;
            if (window.__statuses.at(-1) !== seen) window.__statuses.push(seen);
          }
        }).observe(document.querySelector('[data-doc-list]'), {subtree: true, childList: true, attributes: true});
      }"""
    )
    page.get_by_label("File").set_input_files(str(pdf))
    page.get_by_label("Name").fill("Cell biology notes")
    page.get_by_role("button", name="Upload").click()
    doc = page.locator(".doc").filter(has_text="Cell biology notes")
    expect(doc).to_have_count(1)
    expect(page.locator("[data-upload-error]")).to_be_hidden()
    expect(doc.locator(".doc-status")).to_have_text("completed", timeout=30_000)
    expect(doc.locator(".doc-progress")).to_be_hidden()
    statuses = page.evaluate("window.__statuses")
    assert statuses[0].split(":")[0] in {"pending", "processing"}, statuses
    assert statuses[-1] == "completed:100", statuses
    page.screenshot(path=str(screenshots_dir / "knowledge-desktop.png"), full_page=True)

    # The document survives a reload.
    page.reload()
    expect(page.locator(".doc").filter(has_text="Cell biology notes").locator(".doc-status")).to_have_text("completed")

    # The tutor answers from it, citing it, and reads the answer aloud.
    page.get_by_role("link", name="Chat", exact=True).click()
    new_chat(page)
    ask(page, "What does photosynthesis convert light energy into?")
    answer = page.locator(".message-assistant").last
    expect(answer.locator(".citations")).to_contain_text("Cell biology notes")
    assert "glucose" in answer.locator(".message-body").inner_text().lower()
    page.screenshot(path=str(screenshots_dir / "chat-citations-desktop.png"))
    answer.get_by_role("button", name=re.compile("Listen")).click()
    audio = answer.locator("audio")
    expect(audio).to_have_count(1, timeout=30_000)
    # Bounded: an audio element the page may not load (CSP, bad bytes) fires "error", not
    # "loadedmetadata"; either way the test ends within 15 s instead of hanging the suite.
    duration = audio.evaluate(
        """a => new Promise((resolve, reject) => {
             if (a.readyState >= 1) return resolve(a.duration);
             a.addEventListener('loadedmetadata', () => resolve(a.duration));
             a.addEventListener('error', () => reject(new Error('audio failed to load')));
             setTimeout(() => reject(new Error('no audio metadata within 15 s')), 15000);
           })"""
    )
    assert duration > 0.5
    expect(page.locator("[data-error]")).to_be_hidden()
    assert page.dialogs == []


def test_first_message_starts_a_session_and_keyboard_use(page: Page):
    register(page)
    # No session yet: the first question starts one, titled from the question.
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("Tell me about cell membranes")
    page.keyboard.press("Enter")
    expect(page).to_have_url(SESSION_URL)
    item = page.locator("[data-session-item]")
    expect(item).to_have_count(1)
    expect(page.locator(".message-assistant")).to_have_attribute("aria-busy", "false", timeout=30_000)
    expect(item.locator(".session-link")).to_have_text("Tell me about cell membranes")
    expect(page.locator("[data-chat-title]")).to_have_text("Tell me about cell membranes")

    # Rename from the keyboard; Escape cancels and gives focus back to the button.
    rename = item.get_by_role("button", name=re.compile("^Rename"))
    rename.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("New title for this chat")).to_be_focused()
    page.keyboard.type(" (draft)")
    page.keyboard.press("Escape")
    expect(rename).to_be_focused()
    expect(item.locator(".session-link")).to_have_text("Tell me about cell membranes")

    # The delete dialog opens on Cancel and closes with Escape, deleting nothing.
    page.keyboard.press("Tab")
    delete = item.get_by_role("button", name=re.compile("^Delete"))
    expect(delete).to_be_focused()
    # Keyboard focus is visible (an outline, not just the browser default).
    assert delete.evaluate("b => getComputedStyle(b).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(delete).to_be_focused()
    expect(item).to_have_count(1)
    assert page.dialogs == []
