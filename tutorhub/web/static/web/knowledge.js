/* The knowledge page: upload a document (with upload progress), then poll its processing
   status until it is indexed, showing the percentage the server reports; view, reprocess or
   delete (after a confirmation) each document through the documents API. */
"use strict";

(function () {
  const root = document.querySelector("[data-knowledge-app]");
  if (!root) return;
  const { api, el, showError, formatTime, errorMessage } = window.TutorHub;

  const form = root.querySelector("[data-upload-form]");
  const uploadError = root.querySelector("[data-upload-error]");
  const uploadProgress = root.querySelector("[data-upload-progress]");
  const uploadBar = uploadProgress.querySelector("progress");
  const uploadLabel = uploadProgress.querySelector("[data-upload-label]");
  const submit = form.querySelector("[type=submit]");
  const list = root.querySelector("[data-doc-list]");
  const empty = root.querySelector("[data-doc-empty]");
  const announcer = root.querySelector("[data-announcer]");
  const courseSelect = root.querySelector("[data-course-select]");
  const listError = root.querySelector("[data-list-error]");
  const deleteDialog = document.querySelector("[data-doc-delete-dialog]");
  const placeholder = root.dataset.placeholderId;
  const POLL_MS = 1000;
  const DONE = new Set(["completed", "failed"]);
  const urlFor = (name, id) => root.dataset[name].replace(placeholder, id);

  function formatSize(bytes) {
    if (!bytes) return "";
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
  }

  function courseName(id) {
    if (!id) return "Personal";
    const option = [...courseSelect.options].find((o) => o.value === String(id));
    return option ? option.textContent : "Course document";
  }

  function setProgress(item, status, percentage, error) {
    item.dataset.status = status;
    const badge = item.querySelector(".doc-status");
    badge.textContent = status.replace(/_/g, " ");
    badge.dataset.status = status;
    const bar = item.querySelector("progress");
    const label = item.querySelector(".doc-progress-label");
    const value = Math.max(0, Math.min(100, Math.round(percentage || 0)));
    bar.value = value;
    label.textContent = `${value}%`;
    item.querySelector(".doc-progress").hidden = status === "completed";
    let errorLine = item.querySelector(".doc-error");
    if (error) {
      if (!errorLine) {
        errorLine = el("p", { class: "doc-error", role: "alert" });
        item.append(errorLine);
      }
      errorLine.textContent = error;
    } else if (errorLine) {
      errorLine.remove();
    }
  }

  async function poll(item) {
    if (!item.isConnected || DONE.has(item.dataset.status)) return;
    try {
      const data = await api(urlFor("statusUrl", item.dataset.docId));
      setProgress(item, data.processing_status, data.progress_percentage, data.processing_error);
      if (DONE.has(data.processing_status)) {
        // Processing found the page count: show it.
        api(urlFor("detailUrl", item.dataset.docId)).then((doc) => setMeta(item, { ...item.doc, ...doc }), () => {});
        const name = item.querySelector(".doc-name").textContent;
        announcer.textContent =
          data.processing_status === "completed" ? `${name} is ready.` : `${name} could not be processed.`;
        return;
      }
    } catch (err) {
      if (err.status === 404) return; // deleted meanwhile
      showError(listError, err.message);
    }
    setTimeout(() => poll(item), POLL_MS);
  }

  function setMeta(item, doc) {
    item.doc = doc;
    const pages = doc.page_count ? `${doc.page_count} page${doc.page_count === 1 ? "" : "s"}` : "";
    item.querySelector(".doc-meta").textContent = [
      (doc.document_type || "").toUpperCase(),
      formatSize(doc.file_size_bytes),
      pages,
      courseName(doc.course),
      formatTime(doc.created_at),
    ]
      .filter(Boolean)
      .join(" · ");
  }

  async function reprocess(item, button) {
    showError(listError, "");
    button.disabled = true;
    try {
      const data = await api(urlFor("reprocessUrl", item.dataset.docId), { method: "POST" });
      setProgress(item, data.processing_status, data.progress_percentage, data.processing_error);
      announcer.textContent = `${item.doc.name}: processing again.`;
      poll(item);
    } catch (err) {
      showError(listError, err.message);
    } finally {
      button.disabled = false;
    }
  }

  function confirmDelete(item, button) {
    deleteDialog.querySelector("[data-doc-delete-name]").textContent = item.doc.name;
    deleteDialog.returnValue = "";
    deleteDialog.onclose = async () => {
      if (deleteDialog.returnValue !== "confirm") {
        button.focus();
        return;
      }
      showError(listError, "");
      try {
        await api(urlFor("detailUrl", item.dataset.docId), { method: "DELETE" });
      } catch (err) {
        showError(listError, err.message);
        button.focus();
        return;
      }
      const next = item.nextElementSibling || item.previousElementSibling;
      item.remove();
      empty.hidden = list.children.length > 0;
      announcer.textContent = `${item.doc.name} deleted.`;
      (next ? next.querySelector("[data-doc-view]") : form.querySelector("[name=file]")).focus();
    };
    deleteDialog.showModal();
  }

  function buildItem(doc) {
    const bar = el("progress", { max: "100", value: "0", "aria-label": `Processing ${doc.name}` });
    const item = el(
      "li",
      { class: "doc", dataset: { docId: doc.id, status: doc.processing_status } },
      el("div", {}, el("div", { class: "doc-name", text: doc.name }), el("div", { class: "doc-meta" })),
      el("span", { class: "doc-status" }),
      el("div", { class: "doc-progress" }, bar, el("span", { class: "doc-progress-label", "aria-hidden": "true" }))
    );
    const view = el("a", { class: "button button-small", href: urlFor("pageUrl", doc.id), "data-doc-view": true }, "View text");
    view.setAttribute("aria-label", `View text of ${doc.name}`);
    const again = el("button", { type: "button", class: "button button-small", "data-doc-reprocess": true, "aria-label": `Reprocess ${doc.name}` }, "Reprocess");
    again.addEventListener("click", () => reprocess(item, again));
    const remove = el("button", { type: "button", class: "button button-small", "data-doc-delete": true, "aria-label": `Delete ${doc.name}` }, "Delete");
    remove.addEventListener("click", () => confirmDelete(item, remove));
    item.append(el("div", { class: "doc-actions" }, view, again, remove));
    setMeta(item, doc);
    setProgress(item, doc.processing_status, doc.progress_percentage, doc.processing_error);
    return item;
  }

  function upload(formData) {
    // XMLHttpRequest, not fetch: it reports upload progress for large files.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      // The canonical API's course upload when a course is chosen, the personal knowledge base otherwise.
      const course = courseSelect.value;
      xhr.open("POST", course ? root.dataset.courseUploadUrl.replace(placeholder, course) : root.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", window.TutorHub.csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const value = Math.round((event.loaded / event.total) * 100);
        uploadBar.value = value;
        uploadLabel.textContent = `Uploading… ${value}%`;
      });
      xhr.addEventListener("load", () => {
        const data = xhr.response || {};
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new Error(errorMessage(xhr.response, xhr.status)));
      });
      xhr.addEventListener("error", () => reject(new Error("Network error: the upload did not reach the server.")));
      xhr.send(formData);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(uploadError, "");
    const formData = new FormData(form);
    formData.delete("course_id");
    formData.delete("csrfmiddlewaretoken");
    const file = formData.get("file");
    if (!file || !file.name) {
      showError(uploadError, "Choose a file to upload.");
      form.querySelector("[name=file]").focus();
      return;
    }
    submit.disabled = true;
    uploadProgress.hidden = false;
    uploadBar.value = 0;
    uploadLabel.textContent = "Uploading… 0%";
    try {
      const data = await upload(formData);
      const doc = { ...data.document, course: courseSelect.value || null };
      const item = buildItem(doc);
      list.prepend(item);
      empty.hidden = true;
      form.reset();
      uploadProgress.hidden = true; // the document's own bar now shows its processing
      announcer.textContent = `${doc.name} uploaded; processing.`;
      poll(item);
    } catch (err) {
      showError(uploadError, err.message);
      uploadProgress.hidden = true;
    } finally {
      submit.disabled = false;
    }
  });

  const initial = JSON.parse(document.getElementById("initial-documents").textContent || "[]");
  for (const doc of initial) list.append(buildItem(doc));
  empty.hidden = initial.length > 0;
  for (const item of list.querySelectorAll(".doc")) poll(item);
})();
