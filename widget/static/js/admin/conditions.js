// Structured editors for rule and SLA-policy conditions and rule actions: rows of field /
// operator / value built from the JSON Schemas the API validates with (desk.automation's and
// desk.sla's, served in /api/openapi.json), so a field or action added there shows up here.
// The server stays the one validator: a row sends what was typed and its 422 message is shown
// on the row it names ("conditions[1].value must be …", "conditions.channels: unknown …").

import { get } from "../api.js";
import { h } from "../dom.js";

let seq = 0;
const uid = (p) => `${p}-${++seq}`;
let described = null;

// The request body schema of an operation of the API description (loaded once).
export async function bodySchema(path, method) {
  described ||= get("/api/openapi.json");
  const doc = await described;
  return doc.paths[path][method].requestBody.content["application/json"].schema;
}

// A nullable field's schema is anyOf [its own, null]: the own one.
const own = (s) => (s?.anyOf && s.anyOf.some((x) => x.type === "null") ? s.anyOf.find((x) => x.type !== "null") : s);
const words = (s) => String(s).replaceAll("_", " ");

function cell(text, input) {
  input.id ||= uid("cx");
  return h("div", { class: "fb-cell" }, h("label", { for: input.id, text }), input);
}

function typed(item, raw) {
  const t = raw.trim();
  if (item?.type === "integer" || item?.type === "number") return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
  return t;
}

// One input for a value of schema `s` (choices: [[value, text]] for ids the admin picks by name).
function valueInput(s, value, label, choices) {
  s = own(s) || {};
  if (s.type === "null") return { el: null, get: () => undefined };
  const options = choices || (s.enum && s.enum.map((v) => [v, words(v)]))
    || (s.type === "boolean" && [[true, "yes"], [false, "no"]]);
  if (options) {
    const el = h("select", { "aria-label": label }, options.map(([v, t]) =>
      h("option", { value: String(v), text: t, selected: String(v) === String(value) })));
    const kind = s.type === "boolean" ? (v) => v === "true" : s.type === "integer" ? Number : String;
    return { el, get: () => kind(el.value) };
  }
  // A text, or an object holding one (notify, mail_customer): its other keys are kept.
  const obj = value && typeof value === "object" && !Array.isArray(value) ? value : null;
  const el = h("input", { type: "text", "aria-label": label,
    inputmode: s.type === "integer" ? "numeric" : null });
  el.value = obj ? obj.text ?? "" : value ?? "";
  return { el, get: () => (obj ? { ...obj, text: el.value.trim() } : typed(s, el.value)) };
}

// A condition's values: one or several, comma-separated (or ticked, for a fixed set).
function valuesInput(s, values, label, choices) {
  s = own(s) || {};
  const list = Array.isArray(values) ? values : values == null ? [] : [values];
  const arr = s.type === "array" ? s : (s.anyOf || []).find((x) => x.type === "array");
  const item = arr?.items || s;
  const options = choices || (item.enum && item.enum.map((v) => [v, words(v)]))
    || (item.type === "boolean" && [[true, "yes"], [false, "no"]]);
  if (options) {
    const boxes = options.map(([v, t]) => {
      const box = h("input", { type: "checkbox", value: String(v), checked: list.map(String).includes(String(v)) });
      return [box, h("label", { class: "inline" }, box, t)];
    });
    const kind = item.type === "boolean" ? (v) => v === "true" : item.type === "integer" ? Number : String;
    const el = h("fieldset", { class: "multi", "aria-label": label }, boxes.map(([, l]) => l));
    return { el, get: () => boxes.filter(([b]) => b.checked).map(([b]) => kind(b.value)) };
  }
  const el = h("input", { type: "text", "aria-label": label, placeholder: "one, or several with commas" });
  el.value = list.join(", ");
  return { el, get: () => el.value.split(",").map((x) => x.trim()).filter(Boolean).map((x) => typed(item, x)) };
}

// A list of rows with "add" and a message slot per row; `row(value, li)` builds one row and
// returns { cells, read() }. show(err) puts a message on the row its path names.
export class Rows {
  constructor({ id, values, add, addText, row, path }) {
    this.row = row;
    this.path = path;
    this.list = h("ol", { class: "cx-rows" });
    for (const v of values) this.add(v);
    this.el = h("div", { id, class: "cx wide" }, this.list,
      h("button", { type: "button", text: addText, onclick: () => this.add(add(), true) }));
  }

  add(value, focus = false) {
    const li = h("li", { class: "cx-row" });
    const built = this.row(value, li);
    const msg = h("p", { class: "error field-error cx-error", role: "alert" });
    li.append(h("div", { class: "cx-cells" }, built.cells,
      h("button", { type: "button", class: "link", text: "Remove", "aria-label": "Remove this row",
        onclick: () => li.remove() })), msg);
    li.read = built.read;
    li.msg = msg;
    this.list.append(li);
    if (focus) li.querySelector("select, input")?.focus();
  }

  read() {
    return [...this.list.children].map((li) => li.read());
  }

  clear() {
    for (const li of this.list.children) li.msg.textContent = "";
  }

  show(err) {
    this.clear();
    const li = this.path(String(err.field || ""), String(err.message || ""), [...this.list.children]);
    if (!li) return false;
    li.msg.textContent = err.message;
    li.querySelector("select, input")?.focus();
    return true;
  }
}

// "conditions[2].value must …": the row at that index.
const byIndex = (name) => (field, message, rows) => {
  const m = new RegExp(`^${name}\\[(\\d+)\\]`).exec(field) || new RegExp(`^${name}\\[(\\d+)\\]`).exec(message);
  return m ? rows[Number(m[1])] : null;
};

const OPS = { in: "is any of", not_in: "is none of" };

// Rule conditions: [{field, op, key?, value}], from the condition schemas (one per field).
export function ruleConditions(schemas, choices) {
  const byField = new Map(schemas.map((s) => [s.properties.field.const, s]));
  return (value, id) => {
    const rows = new Rows({
      id, values: value || [], addText: "Add condition", path: byIndex("conditions"),
      add: () => ({ field: schemas[0].properties.field.const, op: "in" }),
      row: (c) => {
        const field = h("select", { "aria-label": "Condition field" }, [...byField.keys()].map((f) =>
          h("option", { value: f, text: words(f), selected: f === c.field })));
        const op = h("select", { "aria-label": "Condition operator" }, Object.entries(OPS).map(([v, t]) =>
          h("option", { value: v, text: t, selected: v === (c.op || "in") })));
        const key = h("input", { type: "text", "aria-label": "Custom field name", placeholder: "field name" });
        key.value = c.key || "";
        const keyCell = cell("Custom field", key);
        const slot = h("div", { class: "fb-cell cx-value" });
        let input;
        const draw = (values) => {
          const s = byField.get(field.value);
          keyCell.hidden = !s.properties.key;
          input = valuesInput(s.properties.value, values, "Condition values", choices[field.value]);
          slot.replaceChildren(h("span", { class: "fb-label", text: "Values" }), input.el);
        };
        field.addEventListener("change", () => draw([]));
        draw(c.value);
        return {
          cells: [cell("Field", field), cell("Operator", op), keyCell, slot],
          read: () => ({ field: field.value, op: op.value, ...(keyCell.hidden ? {} : { key: key.value.trim() }),
            value: input.get() }),
        };
      },
    });
    return { el: rows.el, get: () => rows.read(), show: (err) => rows.show(err), clear: () => rows.clear() };
  };
}

// Rule actions: [{type, value?}], from the action schemas (one per type).
export function ruleActions(schemas, choices) {
  const byType = new Map(schemas.map((s) => [s.properties.type.const, s]));
  return (value, id) => {
    const rows = new Rows({
      id, values: value || [], addText: "Add action", path: byIndex("actions"),
      add: () => ({ type: schemas[0].properties.type.const }),
      row: (a) => {
        const type = h("select", { "aria-label": "Action" }, [...byType.keys()].map((t) =>
          h("option", { value: t, text: words(t), selected: t === a.type })));
        const slot = h("div", { class: "fb-cell cx-value" });
        let input;
        const draw = (v) => {
          input = valueInput(byType.get(type.value).properties.value, v, "Action value", choices[type.value]);
          slot.replaceChildren(...(input.el ? [h("span", { class: "fb-label", text: "Value" }), input.el] : []));
        };
        type.addEventListener("change", () => draw(null));
        draw(a.value);
        return {
          cells: [cell("Action", type), slot],
          read: () => {
            const v = input.get();
            return v === undefined ? { type: type.value } : { type: type.value, value: v };
          },
        };
      },
    });
    return { el: rows.el, get: () => rows.read(), show: (err) => rows.show(err), clear: () => rows.clear() };
  };
}

// The event and its parameters (x-events: which of params' properties each event reads),
// as two form fields that share the event select.
export function ruleEvent(schema) {
  const events = schema.properties.event.enum;
  const params = own(schema.properties.params);
  const of = params["x-events"] || {};
  let select = null;
  const listeners = [];
  const event = (value, id) => {
    select = h("select", { id }, events.map((e) => h("option", { value: e, text: words(e), selected: e === value })));
    select.addEventListener("change", () => listeners.forEach((f) => f(select.value)));
    return { el: select, get: () => select.value };
  };
  const paramsField = (value, id) => {
    const el = h("div", { id, class: "fb-row cx-params" });
    let inputs = [];
    const draw = (ev) => {
      inputs = (of[ev] || []).map((name) => {
        const s = params.properties[name];
        const input = s.type === "array" ? valuesInput(s, value?.[name], words(name))
          : valueInput(s, value?.[name], words(name));
        input.el.id = uid("cx");
        return [name, input, h("div", { class: "fb-cell" }, h("label", { for: input.el.id, text: words(name) }), input.el)];
      });
      el.replaceChildren(...(inputs.length ? inputs.map(([, , c]) => c)
        : [h("span", { class: "muted", text: "This event takes no parameters." })]));
    };
    listeners.push((ev) => { value = null; draw(ev); });
    draw(select ? select.value : events[0]);
    return { el, get: () => Object.fromEntries(inputs.map(([n, i]) => [n, i.get()]).filter(([, v]) => v !== "" && v != null)) };
  };
  return { event, params: paramsField };
}

// SLA policy conditions {priorities: [...], tiers, channels, topics}: a row per key in use.
export function slaConditions(schema) {
  const keys = own(schema).properties;
  return (value, id) => {
    const rows = new Rows({
      id, values: Object.entries(value || {}).map(([k, v]) => ({ key: k, value: v })), addText: "Add condition",
      path: (field, message, list) => {
        const m = /^conditions\.(\w+)/.exec(field) || /^conditions\.(\w+)/.exec(message);
        return m ? list.find((li) => li.read()[0] === m[1]) || null : null;
      },
      add: () => ({ key: Object.keys(keys)[0], value: [] }),
      row: (c) => {
        const key = h("select", { "aria-label": "Condition field" }, Object.keys(keys).map((k) =>
          h("option", { value: k, text: words(k), selected: k === c.key })));
        const slot = h("div", { class: "fb-cell cx-value" });
        let input;
        const draw = (v) => {
          input = valuesInput(keys[key.value], v, "Condition values");
          slot.replaceChildren(h("span", { class: "fb-label", text: "Values" }), input.el);
        };
        key.addEventListener("change", () => draw([]));
        draw(c.value);
        return { cells: [cell("Field", key), h("span", { class: "cx-op", text: "is any of" }), slot],
          read: () => [key.value, input.get()] };
      },
    });
    return { el: rows.el, get: () => Object.fromEntries(rows.read()), show: (err) => rows.show(err),
      clear: () => rows.clear() };
  };
}
