// Per-department pages: the inactivity ladder (what happens to a pending case the customer
// leaves silent: reminders after so many days, the last step may close it, each step's mail in
// the department's own words or the standard one) and the call form (the custom fields of a
// logged phone call, built with the site form's field list). Both read and write the
// department's API (desk/api_sla.py, desk/api_work.py), the server the one validator.

import { ApiError, get, put } from "../api.js";
import { h } from "../dom.js";
import { bodySchema, Rows } from "./conditions.js";
import { FIELD_TYPES, FieldList } from "./formbuilder.js";

const ACTIONS = { remind: "send a reminder", close: "close the case" };

// A department picker over a panel `draw(department)` fills; the first department at start.
function perDepartment(lookups, id, intro, draw) {
  const select = h("select", { id: `${id}-department` }, lookups.departments.map((d) =>
    h("option", { value: d.id, text: d.name })));
  const panel = h("div", { class: "stack" });
  const show = async () => {
    const d = lookups.departments.find((x) => String(x.id) === select.value);
    panel.replaceChildren(...(d ? [await draw(d)] : [h("p", { class: "muted", text: "Create a department first." })]));
  };
  select.addEventListener("change", show);
  const el = h("section", { class: "resource", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, class: "sr-only", text: intro }),
    h("p", { class: "hint", text: intro }),
    h("div", { class: "fb-cell narrow" }, h("label", { for: select.id, text: "Department" }), select), panel);
  return show().then(() => el);
}

// The form of one department's panel: a card with Save, a status line and an error line.
function card(title, body, save) {
  const status = h("p", { class: "muted", role: "status" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card edit wide", novalidate: true, "aria-label": title },
    h("h3", { text: title }), body, error,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit", text: "Save" })), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    status.textContent = "Saving…";
    try {
      await save();
      status.textContent = "Saved.";
    } catch (err) {
      status.textContent = "";
      if (!(err instanceof ApiError && err.placed)) error.textContent = err.message;
    }
  });
  return form;
}

async function ladderPanel(d, step) {
  const shown = await get(`/api/departments/${d.id}/ladder`);
  const standard = h("input", { type: "checkbox", id: `ladder-default-${d.id}`, checked: shown.default });
  const rows = new Rows({
    id: `ladder-${d.id}`, values: shown.steps, addText: "Add step",
    path: (field, message, list) => {
      const m = /^ladder\[(\d+)\]/.exec(message);
      return m ? list[Number(m[1])] : null;
    },
    add: () => ({ days: "", action: "remind" }),
    row: (s) => {
      const days = h("input", { type: "text", inputmode: "numeric", "aria-label": "Days of silence" });
      days.value = s.days ?? "";
      const action = h("select", { "aria-label": "Then" }, step.properties.action.enum.map((a) =>
        h("option", { value: a, text: ACTIONS[a] || a, selected: a === s.action })));
      const text = h("textarea", { rows: 3, "aria-label": "Mail text",
        placeholder: "Empty: the standard mail in the customer's language. {number}, {days} and {link} are filled in." });
      text.value = s.text || "";
      const cell = (label, input) => h("div", { class: "fb-cell" }, h("span", { class: "fb-label", text: label }), input);
      return {
        cells: [cell("After days of silence", days), cell("Then", action),
          h("div", { class: "fb-cell cx-value" }, h("span", { class: "fb-label", text: "Mail to the customer" }), text)],
        read: () => {
          const t = days.value.trim();
          return { days: /^\d+$/.test(t) ? Number(t) : t, action: action.value,
            ...(text.value.trim() ? { text: text.value } : {}) };
        },
      };
    },
  });
  const sync = () => { rows.el.hidden = standard.checked; };
  standard.addEventListener("change", sync);
  sync();
  return card(`Inactivity ladder of ${d.name}`, h("div", { class: "stack" },
    h("label", { class: "inline" }, standard, "The standard ladder: reminders after 7 and 14 days, closed after 21"),
    rows.el), async () => {
    rows.clear();
    try {
      const saved = await put(`/api/departments/${d.id}/ladder`, { steps: standard.checked ? null : rows.read() });
      standard.checked = saved.default;
    } catch (err) {
      if (err instanceof ApiError && rows.show(err)) err.placed = true;
      throw err;
    }
  });
}

export async function ladderPage(lookups) {
  const schema = await bodySchema("/api/departments/{id}/ladder", "put");
  const step = schema.properties.steps.anyOf.find((s) => s.type === "array").items;
  return perDepartment(lookups, "ladder", "A pending case the customer leaves silent is reminded, then closed, "
    + "step by step; a customer reply starts the ladder over.", (d) => ladderPanel(d, step));
}

async function callFormPanel(d, types) {
  const { fields } = await get(`/api/departments/${d.id}/call-fields`);
  const list = new FieldList(fields, "Fields of the call log form", types);
  return card(`Call form of ${d.name}`, list.el, async () => {
    const body = list.read().map((f) => ({ type: "text", ...f }));
    for (const li of list.list.children) li.removeAttribute("aria-invalid");
    try {
      await put(`/api/departments/${d.id}/call-fields`, { fields: body });
    } catch (err) {
      const m = /^fields\[(\d+)\]/.exec(err.message || "");
      list.list.children[m ? Number(m[1]) : -1]?.setAttribute("aria-invalid", "true");
      throw err;
    }
  });
}

export async function callFormPage(lookups) {
  const schema = await bodySchema("/api/departments/{id}/call-fields", "put");
  const allowed = schema.properties.fields.items.properties.type.enum;
  const types = FIELD_TYPES.filter(([v]) => allowed.includes(v));
  return perDepartment(lookups, "callform", "What an agent fills in when logging a phone call "
    + "(Log a call in the console), besides the caller, direction and duration.", (d) => callFormPanel(d, types));
}
