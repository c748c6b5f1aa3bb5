/* The chat page: sessions sidebar (the web-chat dialect's JSON routes, searched through the chats API) and
   the conversation, with answers streamed over ws/chat/ (the chatbot dialect's protocol plus stop and
   replace_last). User text only ever reaches the DOM through textContent; answers are Markdown
   rendered by markdown-it with raw HTML off and then sanitized by DOMPurify (vendor/), so
   neither the model nor a document can put live HTML in the page. */
"use strict";

(function () {
  const app = document.querySelector("[data-chat-app]");
  if (!app) return;
  const { api, el, showError, formatTime } = window.TutorHub;

  const $ = (selector, root = document) => root.querySelector(selector);
  const messages = $("[data-messages]", app);
  const emptyState = $("[data-empty-state]", app);
  const typing = $("[data-typing]", app);
  const errorBox = $("[data-error]", app);
  const form = $("[data-composer]", app);
  const input = $("[data-input]", app);
  const sendButton = $("[data-send]", app);
  const stopButton = $("[data-stop]", app);
  const lengthNote = $("[data-length-note]", app);
  const sessionList = $("[data-session-list]", app);
  const sessionEmpty = $("[data-session-empty]", app);
  const searchInput = $("[data-session-search]", app);
  const searchResults = $("[data-search-results]", app);
  const searchMore = $("[data-search-more]", app);
  const searchStatus = $("[data-search-status]", app);
  const chatTitle = $("[data-chat-title]", app);
  const deleteDialog = $("[data-delete-dialog]");
  const passageDialog = $("[data-passage-dialog]");

  const placeholder = app.dataset.placeholderId;
  const MAX_CHARS = Number(app.dataset.maxChars);
  const urlFor = (template, id) => template.replace(placeholder, id);
  const audioUrl = (sessionId, messageId) =>
    app.dataset.audioUrl.replace("{session}", sessionId).replace("{message}", messageId);

  const state = {
    sessionId: app.dataset.sessionId || null,
    socket: null,
    socketReady: false,
    outbox: [], // frames waiting for the socket to open
    pending: null, // {sessionId, bubble, body, text, question, frame}: the answer being streamed
    reconnectDelay: 500,
    search: { query: "", next: null, token: 0 },
  };

  /* ---------- Markdown ---------- */

  const markdown = window.markdownit({ html: false, linkify: false, typographer: false });
  // Images would load from wherever the model points: shown as their text instead.
  markdown.disable("image");
  // Math is left as text (no renderer is bundled): $…$, $$…$$, \(…\) and \[…\] are kept
  // verbatim, so `$a*b*c$` is not turned into emphasis.
  const MATH_DELIMITERS = [["$$", "$$"], ["\\[", "\\]"], ["\\(", "\\)"], ["$", "$"]];
  markdown.inline.ruler.before("escape", "math_text", (inline, silent) => {
    const { src, pos } = inline;
    for (const [open, close] of MATH_DELIMITERS) {
      if (!src.startsWith(open, pos)) continue;
      const end = src.indexOf(close, pos + open.length);
      if (end <= pos + open.length) return false;
      // "$5 and $6" is money, not math: inline $…$ may not start or end with a space.
      if (open === "$" && (/\s/.test(src[pos + 1]) || /\s/.test(src[end - 1]))) return false;
      if (!silent) inline.push("math_text", "span", 0).content = src.slice(pos, end + close.length);
      inline.pos = end + close.length;
      return true;
    }
    return false;
  });
  markdown.renderer.rules.math_text = (tokens, idx) =>
    `<span class="math">${markdown.utils.escapeHtml(tokens[idx].content)}</span>`;

  window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });

  const MARKER = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
  const HAS_MARKER = new RegExp(MARKER.source); // no /g: test() keeps no state between calls

  /** Replace the [n] markers in `root`'s text (outside code and links) with buttons that open
      their passage; markers without a matching citation stay text. */
  function linkMarkers(root, citations) {
    const byMarker = new Map(citations.map((c, i) => [Number(c.marker ?? i + 1), c]));
    if (!byMarker.size) return;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      // (A text node at the fragment's top level has no parent element.)
      acceptNode: (node) =>
        node.parentElement && node.parentElement.closest("code, pre, a, .math")
          ? NodeFilter.FILTER_REJECT
          : NodeFilter.FILTER_ACCEPT,
    });
    const nodes = [];
    while (walker.nextNode()) if (HAS_MARKER.test(walker.currentNode.data)) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const parts = [];
      let last = 0;
      for (const match of node.data.matchAll(MARKER)) {
        parts.push(node.data.slice(last, match.index));
        const numbers = match[1].split(",").map((n) => Number(n.trim()));
        if (!numbers.every((n) => byMarker.has(n))) {
          parts.push(match[0]);
        } else {
          for (const n of numbers) {
            const citation = byMarker.get(n);
            parts.push(
              el("button", {
                type: "button",
                class: "cite-marker",
                "data-cite": String(n),
                "aria-label": `Source ${n}: ${citationLabel(citation, n - 1)}`,
                text: `[${n}]`,
                onclick: () => openPassage(citation, n),
              })
            );
          }
        }
        last = match.index + match[0].length;
      }
      parts.push(node.data.slice(last));
      node.replaceWith(...parts);
    }
  }

  function addCodeCopyButtons(root) {
    for (const pre of root.querySelectorAll("pre")) {
      const wrapper = el("div", { class: "code-block" });
      pre.replaceWith(wrapper);
      const copy = el("button", { type: "button", class: "button button-small code-copy", "data-copy-code": true }, "Copy code");
      copy.addEventListener("click", () => copyText(pre.textContent, copy, "Copy code"));
      wrapper.append(copy, pre);
    }
  }

  /** `text` as sanitized Markdown in `body`; citations (known once the answer is final) turn
      its [n] markers into buttons. */
  function renderMarkdown(body, text, citations = []) {
    const fragment = window.DOMPurify.sanitize(markdown.render(text), {
      RETURN_DOM_FRAGMENT: true,
      FORBID_TAGS: ["style", "form", "input", "img"],
    });
    addCodeCopyButtons(fragment);
    linkMarkers(fragment, citations);
    body.replaceChildren(fragment);
  }

  async function copyText(text, button, label) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (err) {
      button.textContent = "Copy failed";
    }
    setTimeout(() => (button.textContent = label), 1500);
  }

  /* ---------- rendering ---------- */

  /** Whether the view is (nearly) at the end: only then does new text scroll it. */
  function atEnd() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }

  function scrollToEnd() {
    messages.scrollTop = messages.scrollHeight;
  }

  /** Run `change` (which adds content) and keep the view at the end if it was there. */
  function following(change) {
    const stay = atEnd();
    change();
    if (stay) scrollToEnd();
  }

  function clearMessages() {
    for (const node of [...messages.children]) {
      if (node !== emptyState) node.remove();
    }
    emptyState.hidden = false;
  }

  // `bulk`: part of a whole history being drawn, which scrolls and updates the controls once
  // at the end (reading scrollHeight per message forced a layout each time: 500 exchanges took
  // tens of seconds).
  function appendUserMessage(text, createdAt = new Date().toISOString(), { bulk = false } = {}) {
    emptyState.hidden = true;
    const edit = el("button", { type: "button", class: "button button-small button-on-accent", "data-edit": true, hidden: true }, "Edit");
    const bubble = el(
      "article",
      { class: "message message-user", "aria-label": "You said", "data-user-message": true },
      el("p", { class: "message-text", text }),
      el("div", { class: "message-footer" }, edit, el("time", { class: "message-time", datetime: createdAt, text: formatTime(createdAt) }))
    );
    bubble.dataset.text = text;
    edit.addEventListener("click", () => startEdit(bubble));
    messages.append(bubble);
    if (!bulk) scrollToEnd();
    return bubble;
  }

  function appendAssistantMessage({ text = "", streaming = false, bulk = false }) {
    emptyState.hidden = true;
    const body = el("div", { class: "message-body markdown" });
    const bubble = el(
      "article",
      { class: "message message-assistant", "aria-label": "Tutor answered", "aria-busy": streaming ? "true" : "false", "data-answer": true },
      body
    );
    if (streaming) bubble.classList.add("is-streaming");
    if (streaming) renderMarkdown(body, text); // else finishAssistantMessage renders it
    messages.append(bubble);
    if (!bulk) scrollToEnd();
    return { bubble, body };
  }

  /** The answer's sources, note and actions once it is whole (or stopped, or failed). */
  function finishAssistantMessage(bubble, body, { text, citations = [], messageId, sessionId, note, error, bulk = false }) {
    bubble.setAttribute("aria-busy", "false");
    bubble.classList.remove("is-streaming");
    bubble.dataset.text = text;
    renderMarkdown(body, text, citations);
    if (note) bubble.append(el("p", { class: "message-note", text: note }));
    if (error) {
      bubble.classList.add("is-error");
      bubble.append(el("p", { class: "message-error", role: "alert", text: error }));
    }
    if (citations.length) bubble.append(renderCitations(citations));
    const actions = el("div", { class: "message-actions" });
    const copy = el("button", { type: "button", class: "button button-small", "data-copy": true }, "Copy");
    copy.addEventListener("click", () => copyText(bubble.dataset.text, copy, "Copy"));
    const regenerate = el("button", { type: "button", class: "button button-small", "data-regenerate": true, hidden: true }, "Regenerate");
    regenerate.addEventListener("click", regenerateLast);
    actions.append(copy, regenerate);
    if (messageId && sessionId && text) actions.append(listenControl(sessionId, messageId));
    bubble.append(actions);
    if (!bulk) refreshLastControls();
  }

  /** Regenerate and edit apply to the last exchange only. */
  function refreshLastControls() {
    const answers = messages.querySelectorAll("[data-answer]");
    const questions = messages.querySelectorAll("[data-user-message]");
    const lastAnswer = answers[answers.length - 1];
    const lastQuestion = questions[questions.length - 1];
    const busy = Boolean(state.pending);
    for (const button of messages.querySelectorAll("[data-regenerate]"))
      button.hidden = busy || button.closest("[data-answer]") !== lastAnswer;
    for (const button of messages.querySelectorAll("[data-edit]"))
      button.hidden = busy || button.closest("[data-user-message]") !== lastQuestion;
  }

  function citationLabel(citation, index) {
    const title = citation.document_title || citation.title || citation.document_name || `Source ${index + 1}`;
    const parts = [title];
    if (citation.section) parts.push(citation.section);
    const page = citation.page ?? citation.page_number;
    if (page) parts.push(`p. ${page}`);
    return parts.join(" · ");
  }

  function renderCitations(citations) {
    const list = el("ol", { class: "citation-list" });
    citations.forEach((citation, index) => {
      const n = Number(citation.marker ?? index + 1);
      list.append(
        el(
          "li",
          { class: "citation", value: String(n) },
          el("button", {
            type: "button",
            class: "citation-open",
            "data-citation": String(n),
            text: citationLabel(citation, index),
            onclick: () => openPassage(citation, n),
          })
        )
      );
    });
    return el("details", { class: "citations", open: true }, el("summary", { text: `Sources (${citations.length})` }), list);
  }

  /** The passage panel: what the tutor read for [n], fetched from the passage route (scoped to
      documents the user may see), with its document's name, page, section and a link to it. */
  async function openPassage(citation, n) {
    const title = $("[data-passage-title]", passageDialog);
    const meta = $("[data-passage-meta]", passageDialog);
    const text = $("[data-passage-text]", passageDialog);
    const link = $("[data-passage-link]", passageDialog);
    title.textContent = `[${n}] ${citation.document_title || "Source"}`;
    meta.textContent = "";
    text.textContent = "Loading the passage…";
    link.hidden = true;
    if (!passageDialog.open) passageDialog.showModal();
    if (citation.chunk_id === undefined || citation.chunk_id === null) {
      text.textContent = "This source has no stored passage.";
      return;
    }
    try {
      const passage = await api(app.dataset.passageUrl.replace("/0/", `/${encodeURIComponent(citation.chunk_id)}/`));
      title.textContent = `[${n}] ${passage.document_name}`;
      meta.textContent = [passage.page ? `Page ${passage.page}` : "", passage.section || passage.heading_path]
        .filter(Boolean)
        .join(" · ");
      text.textContent = passage.text;
      link.href = passage.document_url;
      link.hidden = false;
    } catch (err) {
      text.textContent = err.status === 404 ? "This passage is no longer available (its document was removed)." : err.message;
    }
  }

  function listenControl(sessionId, messageId) {
    const wrapper = el("div", { class: "listen" });
    const button = el("button", { type: "button", class: "button button-small", "data-listen": true }, "▶ Listen");
    button.addEventListener("click", async () => {
      const existing = $("audio", wrapper);
      if (existing) {
        existing.paused ? existing.play() : existing.pause();
        return;
      }
      button.disabled = true;
      button.textContent = "Loading audio…";
      try {
        const response = await fetch(audioUrl(sessionId, messageId), { credentials: "same-origin" });
        if (!response.ok) {
          let detail = "";
          try {
            detail = (await response.json()).detail || "";
          } catch (err) {
            /* not JSON */
          }
          throw new Error(detail || `Audio is unavailable (${response.status}).`);
        }
        const blob = await response.blob();
        const audio = el("audio", { controls: true, src: URL.createObjectURL(blob), "aria-label": "Answer audio" });
        wrapper.append(audio);
        button.remove();
        audio.play().catch(() => {
          /* autoplay may be blocked; the controls are there */
        });
      } catch (err) {
        button.disabled = false;
        button.textContent = "▶ Listen";
        showError(errorBox, err.message);
      }
    });
    wrapper.append(button);
    return wrapper;
  }

  function renderChats(chats) {
    clearMessages();
    for (const chat of chats) {
      if (chat.message) appendUserMessage(chat.message, chat.created_at, { bulk: true });
      if (chat.response !== null && chat.response !== undefined) {
        const { bubble, body } = appendAssistantMessage({ bulk: true });
        finishAssistantMessage(bubble, body, {
          text: chat.response,
          citations: chat.citations || [],
          messageId: chat.response_id,
          sessionId: state.sessionId,
          note: chat.is_complete === false ? "This answer is incomplete (it was stopped or interrupted)." : null,
          bulk: true,
        });
      }
    }
    refreshLastControls();
    scrollToEnd();
  }

  function setTyping(on) {
    typing.hidden = !on;
  }

  /* ---------- WebSocket ---------- */

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${app.dataset.wsPath}`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.socketReady = true;
      state.reconnectDelay = 500;
      app.dataset.socket = "open";
      while (state.outbox.length) socket.send(state.outbox.shift());
    });
    socket.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handleFrame(data);
    });
    socket.addEventListener("close", () => {
      state.socketReady = false;
      app.dataset.socket = "closed";
      if (state.pending) failPending("The connection was lost before the answer finished. Please try again.");
      // Reconnect with backoff: the server may be restarting.
      setTimeout(connect, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 10000);
    });
  }

  function sendFrame(frame) {
    const raw = JSON.stringify(frame);
    if (state.socketReady) state.socket.send(raw);
    else state.outbox.push(raw);
  }

  let renderQueued = false;

  function handleFrame(data) {
    const pending = state.pending;
    if (pending && !pending.sessionId && data.session_id) adoptNewSession(pending, data.session_id);
    if (data.error) {
      // Another answer still streaming (CONFLICT) leaves this one running.
      if (data.error_code === "CONFLICT") showError(errorBox, data.error);
      else failPending(data.error);
      return;
    }
    if (data.type === "status") {
      // "waiting" repeats every few seconds while the model has not started answering.
      setTyping(data.value === "typing" || data.value === "waiting");
      return;
    }
    if (!pending) return;
    if (data.type === "partial") {
      setTyping(false);
      pending.text += data.text || "";
      // One render per frame however fast the pieces come.
      if (!renderQueued) {
        renderQueued = true;
        requestAnimationFrame(() => {
          renderQueued = false;
          if (state.pending === pending) following(() => renderMarkdown(pending.body, pending.text));
        });
      }
    } else if (data.type === "final") {
      setTyping(false);
      state.pending = null;
      following(() =>
        finishAssistantMessage(pending.bubble, pending.body, {
          text: data.reply ?? pending.text,
          citations: data.citations || [],
          messageId: data.message_id,
          sessionId: data.session_id || pending.sessionId,
          note: data.stopped ? "Stopped. The answer so far is kept." : null,
        })
      );
      if (data.session_title) updateSessionTitle(data.session_id || pending.sessionId, data.session_title);
      setBusy(false);
    }
  }

  function failPending(message) {
    setTyping(false);
    const pending = state.pending;
    if (pending) {
      state.pending = null;
      following(() =>
        finishAssistantMessage(pending.bubble, pending.body, {
          text: pending.text,
          sessionId: pending.sessionId,
          note: pending.text ? null : "No answer was received.",
          error: message,
        })
      );
    } else {
      showError(errorBox, message);
    }
    setBusy(false);
  }

  function setBusy(busy) {
    sendButton.hidden = busy;
    stopButton.hidden = !busy;
    stopButton.disabled = false;
    stopButton.textContent = "Stop";
    form.setAttribute("aria-busy", busy ? "true" : "false");
    refreshLastControls();
    updateLengthNote();
  }

  /* ---------- sending ---------- */

  /** A first message sent with no session makes the server start one, titled from the
      question; the page adopts it as soon as a frame names it. */
  function adoptNewSession(pending, id) {
    pending.sessionId = id;
    if (!sessionItem(id)) sessionList.prepend(buildSessionItem(id, "New Chat"));
    sessionEmpty.hidden = true;
    setCurrentSession(id, "New Chat");
  }

  /** Ask `text`; replaceLast: it takes the place of the last exchange (regenerate, edit). */
  function ask(text, { replaceLast = false } = {}) {
    showError(errorBox, "");
    const sessionId = state.sessionId;
    const { bubble, body } = appendAssistantMessage({ streaming: true });
    state.pending = { sessionId, bubble, body, text: "" };
    setBusy(true);
    setTyping(true);
    const frame = { message: text, session_id: sessionId, tts: false };
    if (replaceLast) frame.replace_last = true;
    sendFrame(frame);
  }

  function lastOf(selector) {
    const all = messages.querySelectorAll(selector);
    return all[all.length - 1] || null;
  }

  function regenerateLast() {
    const question = lastOf("[data-user-message]");
    const answer = lastOf("[data-answer]");
    if (!question || state.pending) return;
    if (answer && answer.compareDocumentPosition(question) & Node.DOCUMENT_POSITION_PRECEDING) answer.remove();
    ask(question.dataset.text, { replaceLast: true });
  }

  function startEdit(bubble) {
    if (state.pending) return;
    const original = bubble.dataset.text;
    const field = el("textarea", { class: "message-edit", rows: "3", "aria-label": "Edit your question", "data-edit-input": true });
    field.value = original;
    const save = el("button", { type: "button", class: "button button-small button-primary", "data-edit-save": true }, "Send");
    const cancel = el("button", { type: "button", class: "button button-small" }, "Cancel");
    const editor = el("div", { class: "message-editor" }, field, el("div", { class: "message-actions" }, save, cancel));
    const shown = [...bubble.children];
    shown.forEach((child) => (child.hidden = true));
    bubble.append(editor);
    field.focus();
    const close = () => {
      editor.remove();
      shown.forEach((child) => (child.hidden = false));
    };
    cancel.addEventListener("click", () => {
      close();
      $("[data-edit]", bubble).focus();
    });
    save.addEventListener("click", () => {
      const text = field.value.trim();
      if (!text) return;
      if (text.length > MAX_CHARS) {
        showError(errorBox, tooLongMessage(text.length));
        return;
      }
      // The edited question and its new answer replace the old exchange, here and on the server.
      let next = bubble.nextElementSibling;
      while (next) {
        const after = next.nextElementSibling;
        next.remove();
        next = after;
      }
      bubble.remove();
      appendUserMessage(text);
      ask(text, { replaceLast: true });
    });
    field.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel.click();
      else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save.click();
      }
    });
  }

  function tooLongMessage(length) {
    return `This message is ${length.toLocaleString()} characters; the limit is ${MAX_CHARS.toLocaleString()}. Shorten it to send it.`;
  }

  /** A message over the limit is never cut: the composer says so and will not send it. */
  function updateLengthNote() {
    const length = input.value.length;
    const over = length > MAX_CHARS;
    lengthNote.textContent = over ? tooLongMessage(length) : "";
    lengthNote.hidden = !over;
    input.setAttribute("aria-invalid", over ? "true" : "false");
    sendButton.disabled = over;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.pending || text.length > MAX_CHARS) {
      updateLengthNote();
      return;
    }
    input.value = "";
    autoGrow();
    updateLengthNote();
    appendUserMessage(text);
    ask(text);
    input.focus();
  });

  stopButton.addEventListener("click", () => {
    if (!state.pending) return;
    stopButton.disabled = true;
    stopButton.textContent = "Stopping…";
    sendFrame({ type: "stop" });
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  }
  input.addEventListener("input", () => {
    autoGrow();
    updateLengthNote();
  });

  /* ---------- sessions ---------- */

  /** The chat's entries: in the recent list and, during a search, among the results. */
  function sessionItems(id) {
    return app.querySelectorAll(`[data-session-item][data-session-id="${CSS.escape(id)}"]`);
  }

  function sessionItem(id) {
    return sessionList.querySelector(`[data-session-item][data-session-id="${CSS.escape(id)}"]`);
  }

  function buildSessionItem(id, title) {
    // The server renders the same markup (templates/web/_session_item.html) for its list.
    const item = document.getElementById("session-item-template").content.firstElementChild.cloneNode(true);
    item.dataset.sessionId = id;
    $(".session-link", item).href = urlFor(app.dataset.pageUrl, id);
    setItemTitle(item, title);
    if (id === state.sessionId) item.classList.add("is-current");
    return item;
  }

  function setItemTitle(item, title) {
    $(".session-link", item).textContent = title;
    $("[data-rename]", item).setAttribute("aria-label", `Rename “${title}”`);
    $("[data-delete]", item).setAttribute("aria-label", `Delete “${title}”`);
  }

  function markCurrent(id) {
    for (const item of app.querySelectorAll("[data-session-item]")) {
      const current = item.dataset.sessionId === id;
      item.classList.toggle("is-current", current);
      const link = $(".session-link", item);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function updateSessionTitle(id, title) {
    for (const item of sessionItems(id)) setItemTitle(item, title);
    if (id === state.sessionId) {
      chatTitle.textContent = title;
      document.title = `${title} · TutorHub`;
    }
  }

  function setCurrentSession(id, title, { push = true } = {}) {
    state.sessionId = id;
    app.dataset.sessionId = id || "";
    markCurrent(id);
    chatTitle.textContent = title || "New chat";
    document.title = `${title || "Chat"} · TutorHub`;
    if (push) {
      const url = id ? urlFor(app.dataset.pageUrl, id) : "/";
      window.history.pushState({ sessionId: id }, "", url);
    }
  }

  /** "+ New chat" only clears the view: the chat is stored with its first message (the
      server creates it), so clicking it repeatedly leaves no empty chats behind. */
  function startNewChat() {
    if (state.pending) return;
    showError(errorBox, "");
    clearMessages();
    setCurrentSession(null, null, { push: state.sessionId !== null });
    closeSidebar();
    input.focus();
  }

  async function loadSession(id, { push = true } = {}) {
    showError(errorBox, "");
    try {
      const data = await api(urlFor(app.dataset.loadUrl, id));
      const item = sessionItem(id);
      const title = data.session_title || (item ? $(".session-link", item).textContent : "Chat");
      setCurrentSession(id, title, { push });
      renderChats(data.chats || []);
      closeSidebar();
    } catch (err) {
      showError(errorBox, err.message);
    }
  }

  function startRename(item) {
    const link = $(".session-link", item);
    const oldTitle = link.textContent;
    const field = el("input", {
      type: "text",
      class: "session-rename",
      value: oldTitle,
      maxlength: "255",
      "aria-label": "New title for this chat",
      "data-rename-input": true,
    });
    link.hidden = true;
    item.insertBefore(field, link);
    field.focus();
    field.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = field.value.trim();
      field.remove();
      link.hidden = false;
      if (!save || !title || title === oldTitle) {
        $("[data-rename]", item).focus();
        return;
      }
      try {
        await api(urlFor(app.dataset.renameUrl, item.dataset.sessionId), { method: "POST", json: { title } });
        updateSessionTitle(item.dataset.sessionId, title);
      } catch (err) {
        showError(errorBox, err.message);
      }
      $("[data-rename]", item).focus();
    };
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    field.addEventListener("blur", () => finish(true));
  }

  function confirmDelete(item) {
    $("[data-delete-name]", deleteDialog).textContent = $(".session-link", item).textContent;
    deleteDialog.returnValue = "";
    deleteDialog.onclose = async () => {
      if (deleteDialog.returnValue !== "confirm") {
        $("[data-delete]", item).focus();
        return;
      }
      const id = item.dataset.sessionId;
      try {
        await api(urlFor(app.dataset.deleteUrl, id), { method: "DELETE" });
      } catch (err) {
        showError(errorBox, err.message);
        return;
      }
      const next = item.nextElementSibling || item.previousElementSibling;
      for (const entry of sessionItems(id)) entry.remove();
      sessionEmpty.hidden = sessionList.hidden || sessionList.children.length > 0;
      if (id === state.sessionId) {
        clearMessages();
        setCurrentSession(null, null);
      }
      (next ? $(".session-link", next) : $("[data-new-chat]")).focus();
    };
    deleteDialog.showModal();
  }

  function onSessionClick(event) {
    const item = event.target.closest("[data-session-item]");
    if (!item) return;
    if (event.target.closest("[data-rename]")) {
      startRename(item);
    } else if (event.target.closest("[data-delete]")) {
      confirmDelete(item);
    } else if (event.target.closest(".session-link")) {
      // Plain links work without JavaScript; with it, switch without a page load.
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      if (state.pending) return; // the answer being written belongs to the chat on screen
      if (item.dataset.sessionId !== state.sessionId) loadSession(item.dataset.sessionId);
      else closeSidebar();
    }
  }
  sessionList.addEventListener("click", onSessionClick);
  searchResults.addEventListener("click", onSessionClick);

  $("[data-new-chat]", app).addEventListener("click", startNewChat);

  /* ---------- session search (server-side, over titles and messages, paged) ---------- */

  // Results go to a list of their own; the recent chats stay as they are, hidden meanwhile.
  let searchTimer = null;

  async function searchPage(query, url) {
    const token = ++state.search.token;
    searchStatus.textContent = "Searching…";
    try {
      const data = await api(url || `${app.dataset.searchUrl}?search=${encodeURIComponent(query)}&page_size=20`);
      if (token !== state.search.token) return; // a newer search replaced this one
      if (!url) searchResults.replaceChildren();
      for (const session of data.results) searchResults.append(buildSessionItem(String(session.id), session.title));
      markCurrent(state.sessionId);
      state.search.next = data.next;
      searchMore.hidden = !data.next;
      const shown = searchResults.children.length;
      searchStatus.textContent = data.count
        ? `${data.count} chat${data.count === 1 ? "" : "s"} match “${query}”${shown < data.count ? `; showing ${shown}` : ""}.`
        : `No chats match “${query}”.`;
      sessionList.hidden = true;
      sessionEmpty.hidden = true;
      searchResults.hidden = false;
    } catch (err) {
      if (token === state.search.token) searchStatus.textContent = err.message;
    }
  }

  function endSearch() {
    state.search = { query: "", next: null, token: state.search.token + 1 };
    searchMore.hidden = true;
    searchStatus.textContent = "";
    searchResults.replaceChildren();
    searchResults.hidden = true;
    sessionList.hidden = false;
    sessionEmpty.hidden = sessionList.children.length > 0;
  }

  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    const query = searchInput.value.trim();
    if (!query) {
      endSearch();
      return;
    }
    // Wait for a pause in typing: one request per search, not per key.
    searchTimer = setTimeout(() => {
      state.search.query = query;
      searchPage(query);
    }, 250);
  });
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && searchInput.value) {
      searchInput.value = "";
      endSearch();
    }
  });
  searchMore.addEventListener("click", () => state.search.next && searchPage(state.search.query, state.search.next));

  window.addEventListener("popstate", (event) => {
    const id = (event.state && event.state.sessionId) || null;
    if (id) loadSession(id, { push: false });
    else {
      clearMessages();
      setCurrentSession(null, null, { push: false });
    }
  });

  /* ---------- sidebar on small screens ---------- */

  const toggle = document.querySelector("[data-sidebar-toggle]");
  const backdrop = $("[data-sidebar-backdrop]", app);

  function openSidebar() {
    document.body.classList.add("sidebar-open");
    toggle.setAttribute("aria-expanded", "true");
    backdrop.hidden = false;
    const focusTarget = $(".session-item.is-current .session-link", app) || $("[data-new-chat]", app);
    focusTarget.focus();
  }

  function closeSidebar() {
    if (!document.body.classList.contains("sidebar-open")) return;
    document.body.classList.remove("sidebar-open");
    toggle.setAttribute("aria-expanded", "false");
    backdrop.hidden = true;
  }

  toggle.addEventListener("click", () =>
    document.body.classList.contains("sidebar-open") ? (closeSidebar(), toggle.focus()) : openSidebar()
  );
  backdrop.addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) {
      closeSidebar();
      toggle.focus();
    }
  });

  /* ---------- start ---------- */

  const initial = JSON.parse(document.getElementById("initial-chats").textContent || "[]");
  window.history.replaceState({ sessionId: state.sessionId }, "", window.location.href);
  renderChats(initial);
  setBusy(false);
  connect();
  input.focus();
})();
