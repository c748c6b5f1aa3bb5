/* Shared helpers for the TutorHub pages: CSRF-aware JSON fetch and small DOM builders.
   Everything user- or model-written is put in the page with textContent, never innerHTML. */
"use strict";

window.TutorHub = (function () {
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /** fetch() that sends the CSRF token and session cookie and returns parsed JSON.
      Throws an Error whose message is the API's `detail` (the error envelope's text). */
  async function api(url, { method = "GET", json, body } = {}) {
    const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, credentials: "same-origin" });
    } catch (err) {
      throw new Error("Network error: the server could not be reached.");
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) {
      data = await response.json();
    }
    if (response.status === 401 || (response.status === 403 && data && /credentials/i.test(data.detail || ""))) {
      window.location.assign("/accounts/login/?next=" + encodeURIComponent(window.location.pathname));
      throw new Error("Your session has expired; please log in again.");
    }
    if (!response.ok) {
      const error = new Error(errorMessage(data, response.status));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  /** The text to show for an API error envelope: a validation error's own field message
      ("The submitted file is empty.") rather than its generic "Validation failed". */
  function errorMessage(data, status) {
    if (!data) return `Request failed (${status}).`;
    const details = data.details;
    if (data.error_code === "VALIDATION_ERROR" && details && typeof details === "object") {
      const messages = Object.values(details).flat().filter((m) => typeof m === "string");
      if (messages.length) return messages.join(" ");
    }
    return data.detail || data.error || `Request failed (${status}).`;
  }

  /** createElement with attributes and text; children may be nodes or strings (as text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function showError(box, message) {
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  // One formatter for the page: toLocaleString builds a new one per call (a 500-message history
  // spent ~170 ms there).
  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return timeFormat.format(date);
  }

  return { api, el, showError, csrfToken, formatTime, errorMessage };
})();
