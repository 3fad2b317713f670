// A department's own forms, built with the widget form builder's field list: the visit form of
// a field-visit order and the ticket fields agents fill in.
// The server is the one check (desk/ticket_fields.py); its message is shown under the form.

import { ApiError, get, put } from "../api.js";
import { h } from "../dom.js";
import { FIELD_TYPES, FieldList } from "./formbuilder.js";

// desk/ticket_fields.py FIELD_TYPES (the call form has its own page, perdept.js).
const TYPES = FIELD_TYPES.filter(([v]) => !["textarea", "email"].includes(v));
const FORMS = [["visit-fields", "Field visit order"], ["fields", "Ticket fields"]];

export async function departmentFormsPage(lookups) {
  const dept = h("select", { id: "df-department" }, lookups.departments.map((d) => h("option", { value: d.id, text: d.name })));
  const kind = h("select", { id: "df-kind" }, FORMS.map(([k, t]) => h("option", { value: k, text: t })));
  const holder = h("div", { class: "df-fields" });
  const status = h("p", { class: "muted", role: "status" });
  let list = null;
  let asked = 0;
  const load = async () => {
    status.textContent = "";
    if (!dept.value) return;
    // Two quick choices send two requests: only the newest answer may replace the list, or a
    // late one would throw away fields being typed into the other.
    const mine = ++asked;
    holder.setAttribute("aria-busy", "true");
    const { fields } = await get(`/api/departments/${dept.value}/${kind.value}`);
    if (mine !== asked) return;
    holder.setAttribute("aria-busy", "false");
    list = new FieldList(fields, `${kind.selectedOptions[0].text} of ${dept.selectedOptions[0].text}`,
      TYPES);
    holder.replaceChildren(list.el);
  };
  const save = async () => {
    try {
      const { fields } = await put(`/api/departments/${dept.value}/${kind.value}`, {
        // The widget's lists leave "text" unsaid; a department's form states every type.
        fields: list.read().map((f) => ({ type: "text", ...f })) });
      status.textContent = `Saved: ${fields.length} field${fields.length === 1 ? "" : "s"}`;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status.textContent = e.message;
    }
  };
  dept.addEventListener("change", load);
  kind.addEventListener("change", load);
  const form = h("form", { class: "card department-forms", "aria-label": "Department form" },
    h("p", { class: "muted", text: "Required fields must be filled when a visit is ordered or a ticket is resolved." }),
    h("div", { class: "row" }, h("label", { for: "df-department", text: "Department" }), dept,
      h("label", { for: "df-kind", text: "Form" }), kind),
    holder, h("div", { class: "row" }, h("button", { type: "submit", class: "primary", text: "Save form" })), status);
  form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  if (!lookups.departments.length) return h("p", { class: "muted", text: "Create a department first." });
  await load();
  return form;
}
