// Canned responses per department: an agent types /shortcut in the reply box (or picks one in
// the assist panel) and the console fills in the variables (js/canned.js).

import { h } from "../dom.js";
import { CANNED_VARIABLES } from "../canned.js";
import { Resource, rest } from "./form.js";

export async function cannedPage(lookups) {
  const canned = new Resource({
    id: "canned", title: "Canned responses", noun: "canned response", ...rest("/api/canned"), canDelete: true,
    intro: "Agents of the department insert these with /shortcut while replying.",
    columns: [["Shortcut", (c) => `/${c.shortcut}`], ["Title", (c) => c.title],
      ["Department", (c) => lookups.departmentName(c.department_id)],
      ["Text", (c) => (c.body.length > 90 ? `${c.body.slice(0, 90)}…` : c.body)]],
    fields: (c) => [
      ...(c ? [] : [{ name: "department_id", label: "Department", type: "select", int: true, blank: "Choose…",
        options: lookups.departmentOptions(), required: true }]),
      { name: "shortcut", label: "Shortcut", required: true, help: "Typed after a slash: /refund" },
      { name: "title", label: "Title", required: true },
      { name: "body", label: "Text", type: "textarea", rows: 6, required: true,
        help: `Variables: ${CANNED_VARIABLES.map((v) => `{{${v}}}`).join(", ")}` },
    ],
  });
  canned.label = (c) => `/${c.shortcut}`;
  await canned.load();
  return h("div", { class: "stack" }, canned.el);
}
