// Departments (their address, how customers are notified, the front-line group new work goes to
// first) and their groups (routing policy, how long an offer waits for an agent).

import { h } from "../dom.js";
import { Resource, rest } from "./form.js";

const POLICIES = [["least_loaded", "Least loaded"], ["round_robin", "Round robin"], ["manual", "Manual (agents pick)"]];
const NOTIFY = [["full", "Full reply in the mail"], ["link", "Link to the case page only"]];

const SECURITY = [["starttls", "STARTTLS (port 587)"], ["tls", "TLS (port 465)"], ["none", "None (port 25)"]];

// The department's own outbound SMTP relay; unticked: the deployment's (SWITCHBOARD_SMTP_*).
// The password is write-only: empty keeps the stored one.
function smtpEditor(value, id) {
  const v = value || {};
  const own = h("input", { type: "checkbox", id, checked: Boolean(value) });
  const host = h("input", { type: "text", "aria-label": "SMTP host", placeholder: "smtp.example.com" });
  host.value = v.host || "";
  const port = h("input", { type: "text", inputmode: "numeric", "aria-label": "SMTP port", placeholder: "default" });
  port.value = v.port ?? "";
  const security = h("select", { "aria-label": "SMTP security" },
    SECURITY.map(([k, t]) => h("option", { value: k, text: t, selected: k === (v.security || "starttls") })));
  const user = h("input", { type: "text", "aria-label": "SMTP user name", autocomplete: "off" });
  user.value = v.username || "";
  const password = h("input", { type: "password", "aria-label": "SMTP password", autocomplete: "new-password",
    placeholder: v.has_password ? "set: leave empty to keep it" : "" });
  const cell = (label, input) => h("div", { class: "fb-cell" }, h("span", { class: "fb-label", text: label }), input);
  const box = h("div", { class: "fb-row" }, cell("Host", host), cell("Port", port), cell("Security", security),
    cell("User name", user), cell("Password", password));
  const sync = () => { box.hidden = !own.checked; };
  own.addEventListener("change", sync);
  sync();
  const el = h("div", { class: "smtp wide" }, h("label", { class: "inline" }, own, "Send this department's mail through its own SMTP server"), box);
  const get = () => {
    if (!own.checked) return null;
    const out = { host: host.value.trim() || null, security: security.value, username: user.value.trim() };
    const p = port.value.trim();
    if (p) out.port = /^\d+$/.test(p) ? Number(p) : p;
    if (password.value) out.password = password.value;
    return out;
  };
  return { el, get };
}

export async function departmentsPage(lookups) {
  const departments = new Resource({
    id: "departments", title: "Departments", noun: "department", ...rest("/api/departments"),
    intro: "A department owns mailboxes, canned responses and groups. Its front-line group gets new chats and tickets first.",
    columns: [["Name", (d) => d.name], ["Address", (d) => d.email_address || "—"],
      ["Front-line group", (d) => (d.front_group_id ? lookups.groupName(d.front_group_id) : "—")],
      ["Notifications", (d) => d.notify_mode],
      ["Outbound mail", (d) => (d.smtp ? `${d.smtp.host}:${d.smtp.port}` : "default relay")]],
    fields: (d) => [
      { name: "name", label: "Name", required: true },
      { name: "email_address", label: "Reply-from address", type: "email", help: "Replies to email tickets are sent from this address." },
      { name: "notify_mode", label: "Customer notifications", type: "select", options: NOTIFY },
      ...(d ? [{ name: "front_group_id", label: "Front-line group", type: "select", int: true, blank: "None",
        options: lookups.groups.filter((g) => g.department_id === d.id).map((g) => [g.id, g.name]),
        help: "Only groups of this department; create the group first." }] : []),
      { name: "smtp", label: "Outbound mail", render: smtpEditor,
        help: "Replies and notifications of this department leave through this server." },
    ],
    onSaved: () => lookups.reload().then(() => groups.load()),
  });
  const groups = new Resource({
    id: "groups", title: "Groups", noun: "group", ...rest("/api/groups"),
    intro: "Agents work in groups. The policy decides who is offered the next chat; an offer not accepted within the timeout goes to the next agent.",
    columns: [["Name", (g) => g.name], ["Department", (g) => lookups.departmentName(g.department_id)],
      ["Policy", (g) => (POLICIES.find(([v]) => v === g.policy) || [, g.policy])[1]], ["Offer timeout", (g) => `${g.offer_timeout_s} s`]],
    defaults: { policy: "least_loaded", offer_timeout_s: 30 },
    fields: (g) => [
      ...(g ? [] : [{ name: "department_id", label: "Department", type: "select", int: true, blank: "Choose…",
        options: lookups.departmentOptions(), required: true }]),
      { name: "name", label: "Name", required: true },
      { name: "policy", label: "Routing policy", type: "select", options: POLICIES },
      { name: "offer_timeout_s", label: "Offer timeout (seconds)", type: "number", help: "5 to 3600 seconds." },
    ],
    onSaved: () => lookups.reload().then(() => departments.load()),
  });
  await Promise.all([departments.load(), groups.load()]);
  return h("div", { class: "stack" }, departments.el, groups.el);
}
