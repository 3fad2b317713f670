// The form builder: a site's widget texts and look, the departments it offers, its common fields
// and its topic tree with a questionnaire per topic, drawn from and read back into the site's
// config (desk/site_config.py is the one check: the server names what is wrong).

import { h } from "../dom.js";

export const FIELD_TYPES = [["text", "Text"], ["textarea", "Long text"], ["email", "Email"],
  ["select", "Choice (select)"], ["checkbox", "Checkbox"], ["number", "Number"], ["date", "Date"]];
const TOPIC_DEPTH = 5;
let seq = 0;
const uid = (p) => `${p}-${++seq}`;

function labelled(text, input) {
  const id = input.id || (input.id = uid("fb"));
  return h("div", { class: "fb-cell" }, h("label", { for: id, text }), input);
}

function input(value, attrs = {}) {
  const el = h("input", { type: "text", ...attrs });
  el.value = value ?? "";
  return el;
}

// Up, down and remove buttons for an item of a list element.
function mover(item, what) {
  return h("span", { class: "fb-move" },
    h("button", { type: "button", class: "link", text: "Up", "aria-label": `Move ${what} up`,
      onclick: () => item.previousElementSibling?.before(item) }),
    h("button", { type: "button", class: "link", text: "Down", "aria-label": `Move ${what} down`,
      onclick: () => item.nextElementSibling?.after(item) }),
    h("button", { type: "button", class: "link", text: "Remove", "aria-label": `Remove ${what}`,
      onclick: () => item.remove() }));
}

// A list of questionnaire fields: name, label, type, required, a select's options (the site's
// pre-chat form, a department's call form: `types` are the ones its check takes).
export class FieldList {
  constructor(fields, caption, types = FIELD_TYPES) {
    this.types = types;
    this.list = h("ol", { class: "fb-fields" });
    for (const f of fields || []) this.add(f);
    this.el = h("fieldset", { class: "fb-fieldset" }, h("legend", { text: caption }), this.list,
      h("button", { type: "button", text: "Add field", onclick: () => this.add({ type: "text" }, true) }));
  }

  add(f, focus = false) {
    const name = input(f.name, { "aria-label": "Field name", placeholder: "order_number", class: "fb-name" });
    const label = input(f.label, { "aria-label": "Question", placeholder: "Order number" });
    const type = h("select", { "aria-label": "Field type" },
      this.types.map(([v, t]) => h("option", { value: v, text: t, selected: v === (f.type || "text") })));
    const required = h("input", { type: "checkbox", checked: Boolean(f.required), "aria-label": "Required" });
    const options = h("textarea", { rows: 2, "aria-label": "Choices, one per line", placeholder: "One choice per line" });
    options.value = (f.options || []).join("\n");
    const optionsBox = labelled("Choices (one per line)", options);
    const sync = () => { optionsBox.hidden = type.value !== "select"; };
    type.addEventListener("change", sync);
    sync();
    const li = h("li", { class: "fb-field" },
      labelled("Name", name), labelled("Question", label), labelled("Type", type),
      h("label", { class: "inline" }, required, "Required"), optionsBox);
    li.append(mover(li, `field ${f.name || ""}`.trim()));
    li.read = () => {
      const out = { ...f, name: name.value.trim() };
      for (const k of ["label", "type", "required", "options"]) delete out[k];
      if (label.value.trim()) out.label = label.value.trim();
      if (type.value !== "text") out.type = type.value;
      if (required.checked) out.required = true;
      if (type.value === "select") out.options = options.value.split("\n").map((s) => s.trim()).filter(Boolean);
      return out;
    };
    this.list.append(li);
    if (focus) name.focus();
  }

  read() {
    return [...this.list.children].map((li) => li.read());
  }
}

function skillsText(skills) {
  return Object.entries(skills || {}).map(([k, v]) => `${k}:${v}`).join(", ");
}

// "english:2, orders" -> { english: 2, orders: 1 }; a level that is no number goes as typed
// (the server names it).
function parseSkills(text) {
  const out = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split(":").map((s) => s.trim());
    out[k] = v === undefined ? 1 : /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

// One topic: id, label, department, routing skills, its questionnaire and sub-topics.
class TopicNode {
  constructor(t, depth, departments) {
    this.t = t;
    const id = input(t.id, { "aria-label": "Topic id", placeholder: "refund", class: "fb-name" });
    const label = input(t.label, { "aria-label": "Topic label", placeholder: "Refund" });
    const dept = h("select", { "aria-label": "Topic department" }, h("option", { value: "", text: "Any department" }),
      departments.map((d) => h("option", { value: d.id, text: d.name, selected: d.id === t.department_id })));
    const skills = input(skillsText(t.skills), { "aria-label": "Routing skills", placeholder: "english:2, billing:1" });
    this.fields = new FieldList(t.fields, "Questions for this topic");
    this.children = h("ol", { class: "fb-topics" });
    for (const c of t.children || []) this.children.append(new TopicNode(c, depth + 1, departments).el);
    this.el = h("li", { class: "fb-topic card", "data-topic": t.id || "" },
      h("div", { class: "fb-row" }, labelled("Topic id", id), labelled("Label", label),
        labelled("Department", dept), labelled("Routing skills", skills)),
      this.fields.el, this.children,
      h("div", { class: "row" },
        depth < TOPIC_DEPTH ? h("button", { type: "button", text: "Add sub-topic",
          onclick: () => this.children.append(new TopicNode({}, depth + 1, departments).el) }) : null));
    this.el.querySelector(".row").append(mover(this.el, `topic ${t.label || t.id || ""}`.trim()));
    this.el.read = () => {
      const out = { ...t, id: id.value.trim() };
      delete out.children; delete out.fields; delete out.skills; delete out.label; delete out.department_id;
      if (label.value.trim()) out.label = label.value.trim();
      if (dept.value) out.department_id = Number(dept.value);
      const sk = parseSkills(skills.value);
      if (Object.keys(sk).length) out.skills = sk;
      const fields = this.fields.read();
      if (fields.length) out.fields = fields;
      const kids = [...this.children.children].map((li) => li.read());
      if (kids.length) out.children = kids;
      return out;
    };
  }
}

// The whole editor; get() is the config to save (keys it does not manage are kept).
export function formBuilder(departments) {
  return (config, id) => {
    const c = config || {};
    const title = input(c.title, { placeholder: "Chat with us" });
    const greeting = h("textarea", { rows: 2, placeholder: "Ask us anything: we usually answer within a minute." });
    greeting.value = c.greeting || "";
    const notice = h("textarea", { rows: 2, placeholder: "We answer within one working day." });
    notice.value = c.notice || "";
    const useColor = h("input", { type: "checkbox", checked: Boolean(c.color) });
    const color = h("input", { type: "color", "aria-label": "Accent colour" });
    color.value = c.color || "#2f5bea";
    const logo = input(c.logo_url, { placeholder: "https://example.com/logo.png" });
    const offered = new Set((c.departments || []).map((d) => d.id));
    const deptBoxes = departments.map((d) => [d, h("input", { type: "checkbox", checked: offered.has(d.id) })]);
    const common = new FieldList(c.fields, "Questions for everyone (name and email fill the contact)");
    const topics = h("ol", { class: "fb-topics" });
    for (const t of c.topics || []) topics.append(new TopicNode(t, 1, departments).el);
    const el = h("div", { id, class: "form-builder wide", tabindex: "-1" },
      h("fieldset", { class: "fb-fieldset" }, h("legend", { text: "Widget texts and look" }),
        h("div", { class: "fb-row" }, labelled("Title", title), labelled("Logo address", logo),
          h("div", { class: "fb-cell" }, h("span", { class: "fb-label", text: "Accent colour" }),
            h("span", { class: "inline" }, h("label", { class: "inline" }, useColor, "Own colour"), color))),
        labelled("Greeting above the form", greeting), labelled("Notice after a message is left", notice)),
      h("fieldset", { class: "fb-fieldset" }, h("legend", { text: "Departments a visitor chooses from" }),
        h("div", { class: "row" }, deptBoxes.map(([d, box]) => h("label", { class: "inline" }, box, d.name))),
        h("p", { class: "hint", text: "None ticked: chats go to the default department." })),
      common.el,
      h("fieldset", { class: "fb-fieldset" }, h("legend", { text: "Topics" }), topics,
        h("button", { type: "button", text: "Add topic",
          onclick: () => topics.append(new TopicNode({}, 1, departments).el) })));
    const get = () => {
      const out = { ...c };
      for (const k of ["title", "greeting", "notice", "color", "logo_url", "departments", "fields", "topics"]) delete out[k];
      const text = (k, v) => { if (v.trim()) out[k] = v.trim(); };
      text("title", title.value);
      text("greeting", greeting.value);
      text("notice", notice.value);
      text("logo_url", logo.value);
      if (useColor.checked) out.color = color.value;
      const depts = deptBoxes.filter(([, b]) => b.checked).map(([d]) => ({ id: d.id, name: d.name }));
      if (depts.length) out.departments = depts;
      const fields = common.read();
      if (fields.length) out.fields = fields;
      const tree = [...topics.children].map((li) => li.read());
      if (tree.length) out.topics = tree;
      return out;
    };
    return { el, get };
  };
}
