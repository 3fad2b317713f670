// Department mailboxes the poller reads (it picks every change up by itself, no restart). The
// password is write-only: it is sent when typed and never shown. "Test connection" logs in with
// the saved settings and reports the folder's message count or the server's exact answer.

import { post } from "../api.js";
import { h } from "../dom.js";
import { Resource, rest } from "./form.js";

const SECURITY = [["tls", "TLS (port 993)"], ["starttls", "STARTTLS (port 143)"], ["none", "None (loopback only)"]];

export async function mailboxesPage(lookups) {
  const result = h("p", { class: "test-result", role: "status", "aria-live": "polite" });
  async function test(box, button) {
    button.disabled = true;
    result.className = "test-result";
    result.textContent = `Testing ${box.username}@${box.host}…`;
    try {
      const r = await post(`/api/mailboxes/${box.id}/test`);
      result.className = `test-result ${r.ok ? "ok" : "error"}`;
      result.textContent = r.ok ? `Connected: ${r.message}` : `Failed: ${r.message}`;
    } catch (e) {
      result.className = "test-result error";
      result.textContent = `Failed: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  }
  const boxes = new Resource({
    id: "mailboxes", title: "Mailboxes", noun: "mailbox", ...rest("/api/mailboxes"), canDelete: true,
    intro: "Mail arriving in a mailbox becomes a ticket of its department. Save, then test the connection.",
    columns: [["Mailbox", (m) => `${m.username}@${m.host}:${m.port}`],
      ["Department", (m) => lookups.departmentName(m.department_id)], ["Folder", (m) => m.folder],
      ["Every", (m) => `${m.poll_interval_s} s`],
      ["State", (m) => h("span", { class: "badge", "data-status": m.enabled ? "active" : "closed", text: m.enabled ? "enabled" : "disabled" })],
      ["Last error", (m) => m.last_error || "—"]],
    defaults: { port: 993, security: "tls", folder: "INBOX", poll_interval_s: 60, enabled: true },
    fields: (m) => [
      { name: "department_id", label: "Department", type: "select", int: true, blank: "Choose…", options: lookups.departmentOptions(), required: true },
      { name: "host", label: "IMAP host", required: true, placeholder: "imap.example.com" },
      { name: "port", label: "Port", type: "number" },
      { name: "security", label: "Security", type: "select", options: SECURITY },
      { name: "username", label: "User name", required: true },
      { name: "password", label: "Password", type: "password", required: !m,
        help: m ? (m.has_password ? "A password is set. Leave empty to keep it." : "No password set.") : "Never shown again after saving." },
      { name: "folder", label: "Folder", placeholder: "INBOX" },
      { name: "poll_interval_s", label: "Check every (seconds)", type: "number", help: "10 to 86400 seconds; servers that support IDLE deliver at once." },
      { name: "enabled", label: "Enabled", type: "checkbox" },
    ],
    actions: (m) => {
      const b = h("button", { type: "button", class: "test", text: "Test connection", "aria-label": `Test connection of ${m.username}@${m.host}` });
      b.addEventListener("click", () => test(m, b));
      return [b];
    },
    onSaved: async (saved, before) => {
      if (!before) result.textContent = "Saved. Test the connection to check the settings.";
    },
  });
  await boxes.load();
  return h("div", { class: "stack" }, boxes.el, result);
}
