// Service levels and automation: business calendars, SLA policies (targets in business time,
// chosen by department and conditions), automation rules (event, conditions, actions; tried
// against a past conversation before they are switched on) and organisations' contracts.

import { ApiError, get, post } from "../api.js";
import { h } from "../dom.js";
import { bodySchema, ruleActions, ruleConditions, ruleEvent, slaConditions } from "./conditions.js";
import { Resource, rest } from "./form.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"],
  ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const TARGETS = [["first_response", "First response"], ["next_response", "Next response"], ["resolution", "Resolution"]];

// Opening hours per weekday as "09:00-12:00, 13:00-17:00"; a span typed wrongly goes as typed
// (the server names the day and the span).
function hoursEditor(value, id) {
  const boxes = DAYS.map(([d, label]) => {
    const el = h("input", { type: "text", id: `${id}-${d}`, placeholder: "closed", "aria-label": `${label} hours` });
    el.value = (value?.[d] || []).map(([a, b]) => `${a}-${b}`).join(", ");
    return [d, label, el];
  });
  const el = h("div", { id, class: "fb-row wide" }, boxes.map(([, label, box]) =>
    h("div", { class: "fb-cell" }, h("label", { for: box.id, text: label }), box)));
  const get = () => Object.fromEntries(boxes.filter(([, , b]) => b.value.trim()).map(([d, , b]) =>
    [d, b.value.split(",").map((s) => s.trim()).filter(Boolean).map((s) => s.split("-").map((t) => t.trim()))]));
  return { el, get };
}

// Holidays one a line: "2026-12-24" or "2026-12-24 to 2026-12-26".
function holidaysValue(list) {
  return (list || []).map((x) => (x.from === x.to ? x.from : `${x.from} to ${x.to}`));
}
const holidaysOut = (lines) => lines.map((l) => {
  const [from, to] = l.split(/\s+to\s+/);
  return to ? { from, to } : from;
});

// Targets in minutes of business time (the API counts seconds).
function targetsEditor(value, id) {
  const boxes = TARGETS.map(([k, label]) => {
    const el = h("input", { type: "text", id: `${id}-${k}`, inputmode: "numeric", placeholder: "none" });
    el.value = value?.[k] ? String(value[k] / 60) : "";
    return [k, label, el];
  });
  const el = h("div", { id, class: "fb-row wide" }, boxes.map(([, label, b]) =>
    h("div", { class: "fb-cell" }, h("label", { for: b.id, text: `${label} (minutes)` }), b)));
  const get = () => Object.fromEntries(boxes.filter(([, , b]) => b.value.trim()).map(([k, , b]) => {
    const n = Number(b.value.trim());
    return [k, Number.isFinite(n) ? Math.round(n * 60) : b.value.trim()];
  }));
  return { el, get };
}

const minutes = (s) => (s ? `${Math.round(s / 60)} min` : "—");

export async function slaPage(lookups) {
  const policySchema = await bodySchema("/api/sla-policies", "post");
  const calendars = new Resource({
    id: "calendars", title: "Business calendars", noun: "calendar", ...rest("/api/calendars"), canDelete: true,
    intro: "SLA clocks run only in a calendar's opening hours and stop on its holidays.",
    columns: [["Name", (c) => c.name], ["Time zone", (c) => c.timezone],
      ["Hours", (c) => (c.always_open ? "always open" : DAYS.filter(([d]) => c.hours[d]).map(([d]) =>
        `${d} ${c.hours[d].map((p) => p.join("-")).join(", ")}`).join("; "))],
      ["Holidays", (c) => String(c.holidays.length)]],
    defaults: { timezone: "UTC", hours: { mon: [["09:00", "17:00"]], tue: [["09:00", "17:00"]], wed: [["09:00", "17:00"]],
      thu: [["09:00", "17:00"]], fri: [["09:00", "17:00"]] } },
    fields: () => [
      { name: "name", label: "Name", required: true },
      { name: "timezone", label: "Time zone", placeholder: "Europe/Berlin" },
      { name: "always_open", label: "Always open (24/7)", type: "checkbox" },
      { name: "hours", label: "Opening hours", render: hoursEditor },
      { name: "holidays", label: "Holidays (one a line: 2026-12-24, or 2026-12-24 to 2026-12-26)", type: "lines",
        render: (v, id) => {
          const el = h("textarea", { id, rows: 3 });
          el.value = holidaysValue(v).join("\n");
          return { el, get: () => holidaysOut(el.value.split("\n").map((s) => s.trim()).filter(Boolean)) };
        } },
    ],
    onSaved: () => policies.load(),
  });
  const calendarName = (id) => calendars.rows.find((c) => c.id === id)?.name ?? (id ? `#${id}` : "24/7");
  const policies = new Resource({
    id: "policies", title: "SLA policies", noun: "policy", plural: "policies", ...rest("/api/sla-policies"), canDelete: true,
    intro: "The first enabled policy (lowest position) whose department and conditions match a new conversation sets its targets.",
    columns: [["Name", (p) => p.name], ["Department", (p) => lookups.departmentName(p.department_id) || "all"],
      ["Targets", (p) => TARGETS.filter(([k]) => p.targets[k]).map(([k, l]) => `${l}: ${minutes(p.targets[k])}`).join(", ")],
      ["Calendar", (p) => calendarName(p.calendar_id)], ["Position", (p) => String(p.position)],
      ["State", (p) => (p.enabled ? "enabled" : "disabled")]],
    defaults: { enabled: true, position: 0, targets: { first_response: 3600 } },
    fields: () => [
      { name: "name", label: "Name", required: true },
      { name: "department_id", label: "Department", type: "select", int: true, blank: "All departments", options: lookups.departmentOptions() },
      { name: "calendar_id", label: "Calendar", type: "select", int: true, blank: "24/7 (no calendar)",
        options: calendars.rows.map((c) => [c.id, c.name]) },
      { name: "position", label: "Position", type: "number", help: "Lower positions are tried first." },
      { name: "targets", label: "Targets", render: targetsEditor },
      { name: "conditions", label: "Conditions", render: slaConditions(policySchema.properties.conditions),
        help: "All must hold; none: every conversation of the department." },
      { name: "enabled", label: "Enabled", type: "checkbox" },
    ],
  });
  await calendars.load(); // first: the policies name their calendars
  await policies.load();
  return h("div", { class: "stack" }, policies.el, calendars.el);
}

// Ids an admin picks by name: a condition on a department or group, a transfer, an assignment.
function ruleChoices(lookups, agents) {
  const some = (list) => (list.length ? list : undefined);
  return {
    conditions: { department: some(lookups.departmentOptions()), group: some(lookups.groupOptions()) },
    actions: { transfer: some(lookups.groupOptions()),
      assign: some(agents.filter((a) => a.is_active).map((a) => [a.id, a.display_name])) },
  };
}

export async function rulesPage(lookups) {
  const [schema, agents] = await Promise.all([bodySchema("/api/rules", "post"), get("/api/agents")]);
  const choices = ruleChoices(lookups, agents);
  const result = h("p", { class: "test-result", role: "status" });
  const tryRule = async (rule) => {
    const n = prompt(`Try "${rule.name}" on which conversation id?`);
    if (!n) return;
    try {
      const r = await post(`/api/rules/${rule.id}/try`, { conversation_id: Number(n) });
      result.className = `test-result ${r.would_fire ? "ok" : ""}`;
      result.textContent = `${r.would_fire ? "Would fire" : "Would not fire"}: ${r.because.join("; ")}`;
    } catch (e) {
      result.className = "test-result error";
      result.textContent = e.message;
    }
  };
  const rules = new Resource({
    id: "rules", title: "Automation rules", noun: "rule", ...rest("/api/rules"), canDelete: true,
    intro: "When the event happens and every condition holds, the actions run. Each save is a new version; a rule starts disabled.",
    columns: [["Name", (r) => r.name], ["Event", (r) => r.event], ["Then", (r) => (r.actions || []).map((a) => a.type.replaceAll("_", " ")).join(", ")],
      ["Version", (r) => String(r.version)],
      ["State", (r) => (r.enabled ? "enabled" : `disabled${r.disabled_reason ? ` (${r.disabled_reason})` : ""}`)]],
    defaults: { event: "created", conditions: [], actions: [{ type: "add_tag", value: "new" }] },
    fields: () => {
      const when = ruleEvent(schema);
      return [
        { name: "name", label: "Name", required: true },
        { name: "event", label: "When", render: when.event },
        { name: "params", label: "Event parameters", render: when.params,
          help: "idle: seconds without a message; sla_warning: the percent of a target's time used." },
        { name: "conditions", label: "Conditions", help: "All must hold; none: always.",
          render: ruleConditions(schema.properties.conditions.items.oneOf, choices.conditions) },
        { name: "actions", label: "Then", required: true,
          render: ruleActions(schema.properties.actions.items.oneOf, choices.actions) },
        { name: "enabled", label: "Enabled", type: "checkbox" },
      ];
    },
    actions: (r) => [h("button", { type: "button", text: "Try", "aria-label": `Try rule ${r.name}`, onclick: () => tryRule(r) })],
  });
  await rules.load();
  return h("div", { class: "stack" }, rules.el, result);
}

export async function contractsPage() {
  const orgs = await get("/api/organisations");
  const orgName = (id) => orgs.find((o) => o.id === id)?.name ?? `#${id}`;
  const contracts = new Resource({
    id: "contracts", title: "Contracts and warranties", noun: "contract", list: () => get("/api/contracts"),
    create: (body) => post(`/api/organisations/${body.organisation_id}/contracts`, body), canEdit: false,
    intro: "Time agents log on an organisation's conversations is charged to its contract in force.",
    columns: [["Name", (k) => k.name], ["Organisation", (k) => orgName(k.organisation_id)], ["Kind", (k) => k.kind],
      ["From", (k) => k.starts_on], ["To", (k) => k.ends_on || "open-ended"],
      ["Hours", (k) => (k.hours_contracted == null ? `${k.hours_used} used` : `${k.hours_used} of ${k.hours_contracted} used`)],
      ["State", (k) => (k.in_force ? "in force" : k.expired ? "expired" : "not started")]],
    defaults: { kind: "contract" },
    fields: () => [
      { name: "organisation_id", label: "Organisation", type: "select", int: true, blank: orgs.length ? "Choose…" : "No organisations yet",
        options: orgs.map((o) => [o.id, o.name]), required: true },
      { name: "kind", label: "Kind", type: "select", options: [["contract", "Contract"], ["warranty", "Warranty"]] },
      { name: "name", label: "Name", required: true },
      { name: "starts_on", label: "Starts on", type: "text", placeholder: "2026-01-01", required: true },
      { name: "ends_on", label: "Ends on (inclusive; empty: open-ended)", type: "text", placeholder: "2026-12-31" },
      { name: "hours", label: "Hours contracted (empty: none)", type: "number" },
    ],
    prepare: (body) => {
      if (body.organisation_id == null) throw new ApiError(422, "invalid", "organisation_id: choose an organisation", "organisation_id");
      return body;
    },
  });
  await contracts.load();
  return h("div", { class: "stack" }, contracts.el);
}
