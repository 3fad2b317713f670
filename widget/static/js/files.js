// Attachments in the console: a message's files (downloads; an inline preview only for what the
// server says really is a PNG/JPEG/GIF/WebP image) and the "Attach file" control, which checks
// the size against the server's limits before sending and shows the upload's progress.

import { csrfToken, get } from "./api.js";
import { clientId, h } from "./dom.js";

let limits = null;
const loadLimits = () => (limits = limits || get("/api/attachments/limits").catch(() => null));

export function size(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MB`;
  return n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} bytes`;
}

export function fileList(files) {
  if (!files || !files.length) return null;
  return h("ul", { class: "msg-files", "aria-label": "Attachments" }, files.map((f) => {
    const id = Number(f.id);
    return h("li", {},
      f.preview ? h("img", { class: "preview", src: `/api/attachments/${id}/preview`,
        alt: f.name, loading: "lazy" }) : null,
      h("a", { href: `/api/attachments/${id}`, download: "", text: f.name }),
      h("span", { class: "muted", text: ` ${size(f.size)}` }));
  }));
}

// ``internal()``: whether the file goes as an internal note; ``done(message)`` after storing.
export function uploader({ conversationId, internal = () => false, done = () => {} }) {
  const input = h("input", { type: "file", hidden: true, "aria-hidden": "true", tabindex: "-1" });
  const progress = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const status = h("span", { class: "upload-status", role: "status" });
  const button = h("button", { type: "button", text: "Attach file", onclick: () => input.click() });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    const lim = await loadLimits();
    if (lim && file.size > lim.max_file_bytes) {
      status.textContent = `${file.name} is ${size(file.size)}; files may be at most ${size(lim.max_file_bytes)}.`;
      return;
    }
    send(file);
  });

  function send(file) {
    const xhr = new XMLHttpRequest();
    const params = new URLSearchParams({ name: file.name, client_id: clientId(),
      visibility: internal() ? "internal" : "public" });
    xhr.open("POST", `/api/conversations/${Number(conversationId)}/attachments?${params}`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = () => {
      progress.hidden = true;
      button.disabled = false;
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        status.textContent = `Sent ${file.name}${data.mailed ? " (mailed with the reply)" : ""}`;
        done(data);
      } else {
        status.textContent = `Not sent: ${(data.error && data.error.message) || `HTTP ${xhr.status}`}`;
      }
    };
    xhr.onerror = () => {
      progress.hidden = true;
      button.disabled = false;
      status.textContent = `Not sent: the upload of ${file.name} failed`;
    };
    progress.value = 0;
    progress.hidden = false;
    button.disabled = true;
    status.textContent = `Uploading ${file.name}…`;
    xhr.send(file);
  }

  return h("span", { class: "uploader" }, button, input, progress, status);
}
