// Administration: one page per kind of setting (#departments, #agents, #mailboxes, …), each a
// list of records with an edit form. Admins only; the server checks every write (role and CSRF)
// and is the one validator, its messages shown beside the fields.

import { get } from "./api.js";
import { departmentsPage } from "./admin/departments.js";
import { departmentFormsPage } from "./admin/deptforms.js";
import { agentsPage } from "./admin/agents.js";
import { cannedPage } from "./admin/canned.js";
import { mailboxesPage } from "./admin/mailboxes.js";
import { callFormPage, ladderPage } from "./admin/perdept.js";
import { contractsPage, rulesPage, slaPage } from "./admin/service.js";
import { sitesPage } from "./admin/sites.js";
import { clear, h } from "./dom.js";
import { logout, session } from "./login.js";

const root = document.getElementById("app");
const me = await session(root, "Switchboard — administration");
if (me.role !== "admin") {
  root.replaceChildren(h("main", { class: "center" }, h("p", { role: "alert",
    text: "The administration pages are for admins. " }),
  h("a", { href: "/static/console.html", text: "Open the agent console" })));
  throw new Error("not an admin");
}

// What several pages pick from (departments for a group, groups for an agent…), reloaded
// whenever a page saved something others list.
const lookups = {
  departments: [], groups: [], skills: [],
  async reload() {
    [this.departments, this.groups, this.skills] = await Promise.all([
      get("/api/departments"), get("/api/groups"), get("/api/skills")]);
  },
  departmentName(id) { return this.departments.find((d) => d.id === id)?.name ?? (id == null ? "" : `#${id}`); },
  groupName(id) { return this.groups.find((g) => g.id === id)?.name ?? `#${id}`; },
  departmentOptions() { return this.departments.map((d) => [d.id, d.name]); },
  groupOptions() { return this.groups.map((g) => [g.id, `${g.name} (${this.departmentName(g.department_id)})`]); },
};

const PAGES = [
  ["departments", "Departments and groups", departmentsPage],
  ["forms", "Department forms", departmentFormsPage],
  ["agents", "Agents", agentsPage],
  ["sites", "Sites and widget form", sitesPage],
  ["mailboxes", "Mailboxes", mailboxesPage],
  ["canned", "Canned responses", cannedPage],
  ["sla", "SLA policies and calendars", slaPage],
  ["ladder", "Inactivity ladder", ladderPage],
  ["callform", "Call form", callFormPage],
  ["rules", "Automation rules", rulesPage],
  ["contracts", "Contracts", contractsPage],
];

const nav = h("nav", { class: "admin-nav", "aria-label": "Settings" },
  h("ul", {}, PAGES.map(([id, title]) => h("li", {}, h("a", { href: `#${id}`, "data-page": id, text: title })))));
const main = h("main", { id: "workspace", class: "admin-main", tabindex: "-1" });

let shown = 0; // the newest show(): an older one still loading draws nothing

async function show() {
  const mine = ++shown;
  const id = location.hash.slice(1) || PAGES[0][0];
  const page = PAGES.find(([p]) => p === id) || PAGES[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.page === page[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${page[1]} — Switchboard administration`;
  clear(main).append(h("p", { class: "muted", text: "Loading…" }));
  await lookups.reload();
  const el = await page[2](lookups);
  if (mine !== shown) return;
  clear(main).append(h("h1", { class: "page-title", text: page[1] }), el);
  main.dataset.page = page[0];
}

root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Administration" }),
    h("span", { class: "spacer" }), h("span", { class: "me", text: me.display_name }),
    h("a", { href: "/static/console.html", text: "Agent console" }),
    h("a", { href: "/static/supervisor.html", text: "Supervisor view" }),
    h("a", { href: "/static/kb-editor.html", text: "Knowledge base" }),
    h("button", { type: "button", text: "Log out", onclick: logout })),
  h("div", { class: "admin" }, nav, main),
  h("span", { id: "app-ready", hidden: true }));
// The first page gets its address, so a click on its menu entry does not draw it again.
if (!PAGES.some(([p]) => `#${p}` === location.hash)) history.replaceState(null, "", `#${PAGES[0][0]}`);
window.addEventListener("hashchange", show);
await show();
