/* The chat page: sessions sidebar (seed 004's JSON routes) and the conversation, with answers
   streamed over ws/chat/ (seed 000's protocol). Model and user text only ever reach the DOM
   through textContent, so a message containing HTML shows as text and never runs. */
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
  const sessionList = $("[data-session-list]", app);
  const sessionEmpty = $("[data-session-empty]", app);
  const chatTitle = $("[data-chat-title]", app);
  const deleteDialog = $("[data-delete-dialog]");

  const placeholder = app.dataset.placeholderId;
  const urlFor = (template, id) => template.replace(placeholder, id);
  const audioUrl = (sessionId, messageId) =>
    app.dataset.audioUrl.replace("{session}", sessionId).replace("{message}", messageId);

  const state = {
    sessionId: app.dataset.sessionId || null,
    socket: null,
    socketReady: false,
    outbox: [], // frames waiting for the socket to open
    pending: null, // {sessionId, bubble, text, textNode}: the answer being streamed
    reconnectDelay: 500,
    creating: false, // a session is being created
  };

  /* ---------- rendering ---------- */

  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }

  function scrollToBottom(force) {
    if (force || nearBottom()) messages.scrollTop = messages.scrollHeight;
  }

  function clearMessages() {
    for (const node of [...messages.children]) {
      if (node !== emptyState) node.remove();
    }
    emptyState.hidden = false;
  }

  function appendUserMessage(text, createdAt = new Date().toISOString()) {
    emptyState.hidden = true;
    const bubble = el(
      "article",
      { class: "message message-user", "aria-label": "You said" },
      el("p", { class: "message-text", text }),
      el("time", { class: "message-time", datetime: createdAt, text: formatTime(createdAt) })
    );
    messages.append(bubble);
    scrollToBottom(true);
    return bubble;
  }

  function appendAssistantMessage({ text = "", citations = [], messageId = null, sessionId, streaming = false }) {
    emptyState.hidden = true;
    const textNode = el("p", { class: "message-text", text });
    const bubble = el(
      "article",
      { class: "message message-assistant", "aria-label": "Tutor answered", "aria-busy": streaming ? "true" : "false" },
      textNode
    );
    messages.append(bubble);
    if (!streaming) finishAssistantMessage(bubble, { citations, messageId, sessionId });
    scrollToBottom(true);
    return { bubble, textNode };
  }

  function finishAssistantMessage(bubble, { citations, messageId, sessionId }) {
    bubble.setAttribute("aria-busy", "false");
    bubble.classList.remove("is-streaming");
    if (citations && citations.length) bubble.append(renderCitations(citations));
    if (messageId && sessionId) bubble.append(listenControl(sessionId, messageId));
  }

  function citationLabel(citation, index) {
    const title =
      citation.document_title || citation.title || citation.document_name || citation.source || `Source ${index + 1}`;
    const parts = [title];
    if (citation.section) parts.push(citation.section);
    const page = citation.page ?? citation.page_number;
    if (page) parts.push(`p. ${page}`);
    return parts.join(" · ");
  }

  function renderCitations(citations) {
    const list = el("ol", { class: "citation-list" });
    citations.forEach((citation, index) => {
      const snippet = citation.snippet || citation.excerpt || citation.text || citation.quote || "";
      list.append(
        el(
          "li",
          { class: "citation" },
          el("span", { class: "citation-title", text: citationLabel(citation, index) }),
          snippet ? el("q", { class: "citation-snippet", text: snippet }) : null
        )
      );
    });
    return el(
      "details",
      { class: "citations", open: true },
      el("summary", { text: `Sources (${citations.length})` }),
      list
    );
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
      if (chat.message) appendUserMessage(chat.message, chat.created_at);
      if (chat.response !== null && chat.response !== undefined) {
        const { bubble } = appendAssistantMessage({
          text: chat.response,
          citations: chat.citations || [],
          messageId: chat.response_id,
          sessionId: state.sessionId,
        });
        if (chat.is_complete === false) {
          bubble.classList.add("is-error");
          bubble.append(el("p", { class: "message-error", text: "This answer was interrupted." }));
        }
      }
    }
    scrollToBottom(true);
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

  function handleFrame(data) {
    const pending = state.pending;
    if (pending && !pending.sessionId && data.session_id) adoptNewSession(pending, data.session_id);
    if (data.error) {
      failPending(data.error);
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
      pending.textNode.textContent = pending.text;
      scrollToBottom(false);
    } else if (data.type === "final") {
      setTyping(false);
      pending.textNode.textContent = data.reply ?? pending.text;
      finishAssistantMessage(pending.bubble, {
        citations: data.citations || [],
        messageId: data.message_id || data.response_id,
        sessionId: data.session_id || pending.sessionId,
      });
      if (data.session_title) updateSessionTitle(pending.sessionId, data.session_title);
      else if (pending.created) refreshTitle(pending.sessionId);
      state.pending = null;
      setBusy(false);
      scrollToBottom(false);
    }
  }

  function failPending(message) {
    setTyping(false);
    const pending = state.pending;
    if (pending) {
      pending.bubble.classList.add("is-error");
      pending.bubble.setAttribute("aria-busy", "false");
      if (!pending.text) pending.textNode.textContent = "No answer was received.";
      pending.bubble.append(el("p", { class: "message-error", role: "alert", text: message }));
      state.pending = null;
    } else {
      showError(errorBox, message);
    }
    setBusy(false);
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /* ---------- sending ---------- */

  /** A first message sent without a session makes the server start one, titled from the
      question; the page adopts it as soon as a frame names it. */
  function adoptNewSession(pending, id) {
    pending.sessionId = id;
    pending.created = true;
    if (!sessionItem(id)) sessionList.prepend(buildSessionItem(id, "New Chat"));
    sessionEmpty.hidden = true;
    setCurrentSession(id, "New Chat");
  }

  async function refreshTitle(id) {
    try {
      const data = await api(urlFor(app.dataset.loadUrl, id));
      if (data.session_title) updateSessionTitle(id, data.session_title);
    } catch (err) {
      /* the title is cosmetic; the conversation itself is stored */
    }
  }

  function sendMessage(text) {
    showError(errorBox, "");
    const sessionId = state.sessionId;
    appendUserMessage(text);
    const { bubble, textNode } = appendAssistantMessage({ streaming: true, sessionId });
    bubble.classList.add("is-streaming");
    state.pending = { sessionId, bubble, textNode, text: "", created: false };
    setBusy(true);
    setTyping(true);
    sendFrame({ message: text, session_id: sessionId, tts: false });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.pending || state.creating) return;
    input.value = "";
    autoGrow();
    sendMessage(text);
    input.focus();
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
  input.addEventListener("input", autoGrow);

  /* ---------- sessions ---------- */

  function sessionItem(id) {
    return sessionList.querySelector(`[data-session-item][data-session-id="${CSS.escape(id)}"]`);
  }

  function buildSessionItem(id, title) {
    // The server renders the same markup (templates/web/_session_item.html) for its list.
    const item = document.getElementById("session-item-template").content.firstElementChild.cloneNode(true);
    item.dataset.sessionId = id;
    $(".session-link", item).href = urlFor(app.dataset.pageUrl, id);
    setItemTitle(item, title);
    return item;
  }

  function setItemTitle(item, title) {
    $(".session-link", item).textContent = title;
    $("[data-rename]", item).setAttribute("aria-label", `Rename “${title}”`);
    $("[data-delete]", item).setAttribute("aria-label", `Delete “${title}”`);
  }

  function markCurrent(id) {
    for (const item of sessionList.querySelectorAll("[data-session-item]")) {
      const current = item.dataset.sessionId === id;
      item.classList.toggle("is-current", current);
      const link = $(".session-link", item);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function updateSessionTitle(id, title) {
    const item = sessionItem(id);
    if (item) setItemTitle(item, title);
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

  async function createSession() {
    // No message may be sent while the new session is on its way: it would start another one.
    state.creating = true;
    setBusy(true);
    try {
      const data = await api(app.dataset.createUrl, { method: "POST", json: {} });
      const item = buildSessionItem(data.session_id, data.session_title);
      sessionList.prepend(item);
      sessionEmpty.hidden = true;
      clearMessages();
      setCurrentSession(data.session_id, data.session_title);
      return true;
    } catch (err) {
      showError(errorBox, err.message);
      return false;
    } finally {
      state.creating = false;
      setBusy(Boolean(state.pending));
    }
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
      item.remove();
      sessionEmpty.hidden = sessionList.children.length > 0;
      if (id === state.sessionId) {
        clearMessages();
        setCurrentSession(null, null);
      }
      (next ? $(".session-link", next) : $("[data-new-chat]")).focus();
    };
    deleteDialog.showModal();
  }

  sessionList.addEventListener("click", (event) => {
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
      if (item.dataset.sessionId !== state.sessionId) loadSession(item.dataset.sessionId);
      else closeSidebar();
    }
  });

  $("[data-new-chat]", app).addEventListener("click", async () => {
    if (await createSession()) {
      closeSidebar();
      input.focus();
    }
  });

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
  connect();
  input.focus();
})();
