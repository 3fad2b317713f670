// Admin forms: one generic editor for every record the admin pages manage. The server is the one
// validator: the form sends what was typed (an empty box as null, a number box's text as typed
// when it is no number) and shows the API's 422 message beside the field it names.

import { ApiError, del, get, patch, post } from "../api.js";
import { clear, h } from "../dom.js";

let seq = 0;

// The field a message blames: error.field when the server names it, else the message's first
// word ("host must be …", "targets.resolution must be …"), which the validators start with.
export function blamed(err, names) {
  const candidates = [err.field, String(err.message || "").split(/[\s.[:]/)[0]];
  for (const c of candidates) {
    if (!c) continue;
    const hit = names.find((n) => c === n || c.startsWith(`${n}.`) || c.startsWith(`${n}[`));
    if (hit) return hit;
  }
  return null;
}

function number(raw) {
  const t = raw.trim();
  if (!t) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t; // the server says "must be an integer"
}

const KINDS = {
  text: { tag: "input", type: "text", get: (el) => el.value.trim() || null },
  email: { tag: "input", type: "email", get: (el) => el.value.trim() || null },
  url: { tag: "input", type: "url", get: (el) => el.value.trim() || null },
  color: { tag: "input", type: "color", get: (el) => el.value },
  password: { tag: "input", type: "password", get: (el) => el.value || undefined },
  number: { tag: "input", type: "text", get: (el) => number(el.value) },
  textarea: { tag: "textarea", get: (el) => el.value.trim() || null },
  lines: { tag: "textarea", get: (el) => el.value.split("\n").map((s) => s.trim()).filter(Boolean),
    show: (v) => (v || []).join("\n") },
  json: { tag: "textarea", get: (el, f) => {
    const t = el.value.trim();
    if (!t) return null;
    try { return JSON.parse(t); } catch (e) { throw new ApiError(422, "invalid", `${f.name} is not valid JSON: ${e.message}`, f.name); }
  }, show: (v) => (v == null ? "" : JSON.stringify(v, null, 2)) },
};

// One labelled input. A field: { name, label, type, options: [[value, text]], int, help,
// required, rows, render(value, id) -> { el, get(), show?(err), clear?() } for a widget of its
// own (show: places the message itself, true when it did) }.
function control(f, value, id) {
  if (f.render) return f.render(value, id);
  if (f.type === "checkbox") {
    const el = h("input", { id, type: "checkbox", name: f.name, checked: Boolean(value) });
    return { el, get: () => el.checked, inline: true };
  }
  if (f.type === "select") {
    const el = h("select", { id, name: f.name },
      f.blank !== undefined ? h("option", { value: "", text: f.blank }) : null,
      f.options.map(([v, t]) => h("option", { value: v, text: t, selected: String(v) === String(value ?? "") })));
    return { el, get: () => (el.value === "" ? null : f.int ? Number(el.value) : el.value) };
  }
  if (f.type === "multi") {
    const chosen = new Set((value || []).map(String));
    const boxes = f.options.map(([v, t]) => {
      const box = h("input", { type: "checkbox", value: v, checked: chosen.has(String(v)) });
      return [box, h("label", { class: "inline" }, box, t)];
    });
    const el = h("fieldset", { id, class: "multi" }, h("legend", { class: "sr-only", text: f.label }),
      boxes.length ? boxes.map(([, l]) => l) : h("span", { class: "muted", text: f.none || "None yet." }));
    return { el, get: () => boxes.filter(([b]) => b.checked).map(([b]) => (f.int ? Number(b.value) : b.value)) };
  }
  const kind = KINDS[f.type || "text"];
  const el = h(kind.tag, { id, name: f.name, type: kind.type, rows: f.rows, placeholder: f.placeholder,
    autocomplete: f.type === "password" ? "new-password" : "off", spellcheck: f.type === "json" ? "false" : null });
  el.value = kind.show ? kind.show(value) : value ?? (f.type === "color" ? "#000000" : "");
  return { el, get: () => kind.get(el, f) };
}

export class EditForm {
  // fields as above; values: the record (or {} for a new one); onSubmit(body) saves and may
  // throw the API's error; extra: more controls under the buttons.
  constructor({ title, fields, values = {}, submitText = "Save", onSubmit, onCancel, extra }) {
    const prefix = `f${++seq}`;
    this.fields = fields;
    this.controls = new Map();
    this.errors = new Map();
    this.error = h("p", { class: "error", role: "alert" });
    this.status = h("p", { class: "muted", role: "status" });
    const rows = fields.map((f) => {
      const id = `${prefix}-${f.name}`;
      const c = control(f, values[f.name], id);
      const err = h("p", { class: "error field-error", id: `${id}-error` });
      c.el.setAttribute("aria-describedby", `${id}-error${f.help ? ` ${id}-help` : ""}`);
      this.controls.set(f.name, c);
      this.errors.set(f.name, err);
      const label = h("label", { for: id }, f.label,
        f.required ? h("span", { class: "required", "aria-hidden": "true", text: " *" }) : null);
      const help = f.help ? h("p", { class: "hint", id: `${id}-help`, text: f.help }) : null;
      return h("div", { class: c.inline ? "field check" : "field", "data-field": f.name },
        c.inline ? [c.el, label] : [label, c.el], help, err);
    });
    this.el = h("form", { class: "card edit", novalidate: true, "aria-label": title },
      h("h3", { text: title }), h("div", { class: "fields" }, rows), this.error,
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit", text: submitText }),
        onCancel ? h("button", { type: "button", text: "Cancel", onclick: onCancel }) : null),
      this.status, extra || null);
    this.el.addEventListener("submit", async (e) => {
      e.preventDefault();
      this.clearErrors();
      this.status.textContent = "Saving…";
      try {
        await onSubmit(this.body());
        this.status.textContent = "Saved.";
      } catch (err) {
        this.status.textContent = "";
        this.show(err);
      }
    });
  }

  body() {
    const out = {};
    for (const f of this.fields) {
      if (f.readOnly) continue;
      const v = this.controls.get(f.name).get();
      if (v !== undefined) out[f.name] = v;
    }
    return out;
  }

  clearErrors() {
    this.error.textContent = "";
    for (const [name, p] of this.errors) {
      p.textContent = "";
      const c = this.controls.get(name);
      c.el.removeAttribute("aria-invalid");
      c.clear?.();
    }
  }

  show(err) {
    const name = err instanceof ApiError ? blamed(err, this.fields.map((f) => f.name)) : null;
    if (name) {
      const c = this.controls.get(name);
      // A control of rows puts the message on the row it names; else it goes under the field.
      if (!c.show?.(err)) this.errors.get(name).textContent = err.message;
      const el = c.el;
      el.setAttribute("aria-invalid", "true");
      if (el.contains(document.activeElement)) return;
      (el.matches("input, select, textarea") ? el : el.querySelector("input, select, textarea"))?.focus();
    } else {
      this.error.textContent = err.message;
    }
  }
}

// A list of records with a "new" button and an edit form per record. cfg: { title, noun,
// path (GET list, POST create), item(row) (PATCH/DELETE path), columns [[heading, row => text]],
// fields(row|null) -> fields, prepare(body, row) -> body, canCreate, canDelete, actions(row, view) }
export class Resource {
  constructor(cfg) {
    this.cfg = cfg;
    this.rows = [];
    this.body = h("tbody");
    this.formSlot = h("div", { class: "form-slot" });
    this.note = h("p", { class: "muted", role: "status" });
    this.el = h("section", { class: "resource", "aria-labelledby": `${cfg.id}-title` },
      h("div", { class: "row" }, h("h2", { id: `${cfg.id}-title`, text: cfg.title }),
        cfg.canCreate === false ? null : h("button", { type: "button", class: "primary", text: `New ${cfg.noun}`,
          onclick: () => this.edit(null) })),
      cfg.intro ? h("p", { class: "hint", text: cfg.intro }) : null,
      h("table", { class: "grid" }, h("thead", {}, h("tr", {},
        cfg.columns.map(([t]) => h("th", { scope: "col", text: t })), h("th", { scope: "col", text: "Actions" }))),
      this.body), this.note, this.formSlot);
  }

  async load() {
    this.note.textContent = "Loading…";
    try {
      this.rows = await this.cfg.list();
      this.note.textContent = this.rows.length ? "" : `No ${this.cfg.plural || `${this.cfg.noun}s`} yet.`;
    } catch (e) {
      this.note.textContent = `Could not load: ${e.message}`;
      this.rows = [];
    }
    this.render();
    return this;
  }

  render() {
    const { columns, noun } = this.cfg;
    clear(this.body).append(...this.rows.map((row) => h("tr", { "data-id": row.id },
      columns.map(([, get], i) => h(i ? "td" : "th", i ? {} : { scope: "row" }, get(row) ?? "")),
      h("td", {}, h("div", { class: "row actions-cell" },
        this.cfg.canEdit === false ? null : h("button", { type: "button", text: "Edit",
          "aria-label": `Edit ${noun} ${this.label(row)}`, onclick: () => this.edit(row) }),
        (this.cfg.actions ? this.cfg.actions(row, this) : []),
        this.cfg.canDelete ? h("button", { type: "button", text: "Delete", "aria-label": `Delete ${noun} ${this.label(row)}`,
          onclick: () => this.remove(row) }) : null)))));
  }

  label(row) {
    return row.name || row.display_name || row.shortcut || row.username || `#${row.id}`;
  }

  edit(row) {
    const { cfg } = this;
    const form = new EditForm({
      title: row ? `Edit ${cfg.noun} ${this.label(row)}` : `New ${cfg.noun}`,
      fields: cfg.fields(row), values: row || cfg.defaults || {},
      submitText: row ? "Save" : `Create ${cfg.noun}`,
      onCancel: () => clear(this.formSlot),
      onSubmit: async (body) => {
        const data = cfg.prepare ? cfg.prepare(body, row) : body;
        const saved = row ? await cfg.update(row, data) : await cfg.create(data);
        await this.load();
        if (cfg.onSaved) await cfg.onSaved(saved, row);
        const fresh = this.rows.find((r) => r.id === (saved?.id ?? row?.id));
        const done = row ? "Saved." : `Created ${cfg.noun} ${this.label(fresh || saved || {})}.`;
        if (fresh && cfg.canEdit !== false) this.edit(fresh).status.textContent = done;
        else { clear(this.formSlot); this.note.textContent = done; }
      },
    });
    this.form = form;
    clear(this.formSlot).append(form.el);
    form.el.querySelector("input, select, textarea")?.focus();
    return form;
  }

  async remove(row) {
    if (!confirm(`Delete ${this.cfg.noun} ${this.label(row)}?`)) return;
    try {
      await this.cfg.remove(row);
      clear(this.formSlot);
      await this.load();
    } catch (e) {
      this.note.textContent = e.message;
    }
  }
}

// The list, create, update and delete calls of a collection at `path` (items at path/id).
export function rest(path) {
  return {
    list: () => get(path),
    create: (body) => post(path, body),
    update: (row, body) => patch(`${path}/${row.id}`, body),
    remove: (row) => del(`${path}/${row.id}`),
  };
}
