// Ticket work beside the thread: tags, the department's custom fields, copies on replies,
// forwarding to someone outside the desk, merging into another ticket, splitting from a
// message, and resolving with a note. Each control is one API call; what the server refuses
// is shown with its message, and the ticket is loaded again after every change.

import { api, patch, post } from "./api.js";
import { h } from "./dom.js";

const put = (path, body) => api("PUT", path, body);

export function field(f, id) {
  const label = f.label || f.name;
  const value = f.value;
  let input;
  switch (f.type) {
    case "number":
      input = h("input", { type: "number", step: "any", id, value: value ?? "" });
      break;
    case "date":
      input = h("input", { type: "date", id, value: value ?? "" });
      break;
    case "checkbox":
      input = h("input", { type: "checkbox", id, checked: value === true });
      break;
    case "select":
      input = h("select", { id }, h("option", { value: "", text: "—" }),
        (f.options || []).map((o) => h("option", { value: o, text: o, selected: o === value })));
      break;
    default:
      input = h("input", { type: "text", id, maxlength: 1000, value: value ?? "" });
  }
  input.dataset.field = f.name;
  input.dataset.type = f.type;
  return h("div", { class: "tw-field" },
    h("label", { for: id, text: f.required ? `${label} *` : label }), input);
}

export function read(input) {
  if (input.dataset.type === "checkbox") return input.checked;
  if (input.value === "") return null;
  return input.dataset.type === "number" ? Number(input.value) : input.value;
}

export class TicketWork {
  // ``reload``: load the ticket again; ``open``: open another conversation (id, number).
  constructor(id, { reload, open }) {
    this.id = id;
    this.reload = reload;
    this.open = open;
    const p = `tw-${id}`;
    this.status = h("p", { class: "muted", role: "status" });
    this.tags = h("ul", { class: "tags", "aria-label": "Tags" });
    this.tagInput = h("input", { type: "text", id: `${p}-tag`, maxlength: 64, autocomplete: "off" });
    this.fields = h("form", { class: "tw-fields", "aria-label": "Custom fields" });
    this.fields.addEventListener("submit", (e) => { e.preventDefault(); this.saveFields(); });
    this.cc = h("input", { type: "text", id: `${p}-cc`, placeholder: "a@example.com, b@example.com" });
    this.ccBox = h("form", { class: "tw-row", "aria-label": "Copies" },
      h("label", { for: `${p}-cc`, text: "CC on replies" }), this.cc,
      h("button", { type: "submit", text: "Save CC" }));
    this.ccBox.addEventListener("submit", (e) => { e.preventDefault(); this.saveCc(); });
    this.fwdTo = h("input", { type: "email", id: `${p}-fwd`, required: true });
    this.fwdNote = h("input", { type: "text", id: `${p}-fwd-note`, maxlength: 2000 });
    const fwd = h("form", { class: "tw-row", "aria-label": "Forward" },
      h("label", { for: `${p}-fwd`, text: "Forward to" }), this.fwdTo,
      h("label", { for: `${p}-fwd-note`, text: "Note" }), this.fwdNote,
      h("button", { type: "submit", text: "Forward" }));
    fwd.addEventListener("submit", (e) => { e.preventDefault(); this.forward(fwd); });
    this.into = h("input", { type: "text", id: `${p}-into`, placeholder: "SB-1234567", maxlength: 12 });
    const merge = h("form", { class: "tw-row", "aria-label": "Merge" },
      h("label", { for: `${p}-into`, text: "Merge into" }), this.into,
      h("button", { type: "submit", text: "Merge" }));
    merge.addEventListener("submit", (e) => { e.preventDefault(); this.merge(); });
    this.splitSeq = h("select", { id: `${p}-split` });
    const split = this.splitBox = h("form", { class: "tw-row", "aria-label": "Split" },
      h("label", { for: `${p}-split`, text: "Split from message" }), this.splitSeq,
      h("button", { type: "submit", text: "Split" }));
    split.addEventListener("submit", (e) => { e.preventDefault(); this.split(); });
    this.resolution = h("input", { type: "text", id: `${p}-res`, maxlength: 4000 });
    this.resolveBox = h("form", { class: "tw-resolve", "aria-label": "Resolve" },
      h("label", { for: `${p}-res`, text: "Resolution note" }), this.resolution,
      h("button", { type: "submit", text: "Resolve with note" }));
    this.resolveBox.addEventListener("submit", (e) => { e.preventDefault(); this.resolve(); });
    const tagForm = h("form", { class: "tw-row", "aria-label": "Add tag" },
      h("label", { for: `${p}-tag`, text: "Tags" }), this.tags, this.tagInput,
      h("button", { type: "submit", text: "Add tag" }));
    tagForm.addEventListener("submit", (e) => { e.preventDefault(); this.addTag(); });
    this.merged = h("p", { class: "tw-merged", hidden: true });
    this.el = h("details", { class: "ticket-work", open: true },
      h("summary", { text: "Ticket work" }), this.merged, tagForm, this.fields, this.ccBox,
      fwd, merge, split, this.resolveBox, this.status);
  }

  render(c) {
    this.c = c;
    this.merged.hidden = !c.merged_into;
    this.merged.replaceChildren(...(c.merged_into ? ["Merged into ", h("button", { type: "button",
      class: "link", text: c.merged_into, onclick: () => this.open(c.merged_into_id, c.merged_into) })] : []));
    this.tags.replaceChildren(...(c.tags || []).map((t) => h("li", { class: "tag-chip" }, t,
      h("button", { type: "button", class: "link", "aria-label": `Remove tag ${t}`, text: "×",
        onclick: () => this.removeTag(t) }))));
    // The ticket is loaded again on every change, its own or another's: what the agent is
    // typing is redrawn only when the server's value itself changed.
    const defs = c.fields || [];
    this.fields.hidden = !defs.length;
    if (this.changed("fields", defs)) {
      this.fields.replaceChildren(...defs.map((f) => field(f, `tw-${this.id}-f-${f.name}`)),
        h("button", { type: "submit", text: "Save fields" }));
    }
    this.ccBox.hidden = !["email", "portal", "phone"].includes(c.channel);
    if (this.changed("cc", c.cc)) this.cc.value = (c.cc || []).join(", ");
    this.splitBox.hidden = (c.messages || []).length < 2;
    this.splitSeq.replaceChildren(...(c.messages || []).slice(1).map((m) =>
      h("option", { value: m.seq, text: `#${m.seq} ${m.body.slice(0, 40)}` })));
    this.resolveBox.hidden = !(c.status_options || []).includes("resolved");
    if (this.changed("resolution", c.resolution_note)) this.resolution.value = c.resolution_note || "";
  }

  changed(key, value) {
    const now = JSON.stringify(value ?? null);
    this.seen = this.seen || {};
    if (this.seen[key] === now) return false;
    this.seen[key] = now;
    return true;
  }

  async run(what, call) {
    try {
      const out = await call();
      this.status.textContent = what(out);
      await this.reload();
      return out;
    } catch (e) {
      this.status.textContent = `Not done: ${e.message}`;
      return null;
    }
  }

  addTag() {
    const tag = this.tagInput.value.trim();
    if (!tag) return;
    this.run((r) => { this.tagInput.value = ""; return `Tags: ${r.tags.join(", ")}`; },
      () => patch(`/api/conversations/${this.id}/tags`, { add: [tag] }));
  }

  removeTag(tag) {
    this.run(() => `Removed tag ${tag}`,
      () => patch(`/api/conversations/${this.id}/tags`, { remove: [tag] }));
  }

  saveFields() {
    const values = {};
    for (const input of this.fields.querySelectorAll("[data-field]")) values[input.dataset.field] = read(input);
    this.run(() => "Fields saved", () => patch(`/api/conversations/${this.id}/fields`, { fields: values }));
  }

  saveCc() {
    const cc = this.cc.value.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
    this.run((r) => (r.cc.length ? `Replies are copied to ${r.cc.join(", ")}` : "No copies"),
      () => put(`/api/conversations/${this.id}/cc`, { cc }));
  }

  forward(form) {
    const to = this.fwdTo.value.trim();
    this.run((r) => { form.reset(); return `Forwarded to ${r.to}; their answer comes back as a note`; },
      () => post(`/api/conversations/${this.id}/forward`, { to, note: this.fwdNote.value.trim() || null }));
  }

  async merge() {
    const into = this.into.value.trim();
    if (!into) return;
    const survivor = await this.run((r) => `Merged into ${r.number}: ${r.moved} messages moved`,
      () => post(`/api/conversations/${this.id}/merge`, { into }));
    if (survivor) this.open(survivor.id, survivor.number);
  }

  async split() {
    const seq = Number(this.splitSeq.value);
    if (!seq) return;
    const made = await this.run((r) => `Split into ${r.number} (${r.moved} messages)`,
      () => post(`/api/conversations/${this.id}/split`, { seq }));
    if (made) this.open(made.id, made.number);
  }

  resolve() {
    const note = this.resolution.value.trim();
    this.run(() => "Resolved",
      () => patch(`/api/conversations/${this.id}`, { status: "resolved", ...(note ? { resolution_note: note } : {}) }));
  }
}
