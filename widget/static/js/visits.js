// Field visits: a visit order made from a case (address, on-site contact, instructions, start,
// duration, technician and the department's visit form), its printable order, rescheduling with
// why, cancelling, and the technician's completion (work done, time spent, outcome). Beside the
// tickets: the visits of a date range, of one technician or all. The server checks everything
// (desk.field_visits) and its message is shown beside the form.

import { ApiError, get, patch, post } from "./api.js";
import { h } from "./dom.js";
import { field, read } from "./ticketwork.js";

const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
const zoned = (value) => (value ? new Date(value).toISOString() : "");
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
export const OUTCOMES = [["resolved", "Resolved"], ["follow_up", "Follow-up visit needed"],
  ["not_resolved", "Not resolved"], ["no_access", "No access on site"]];
const outcomeLabel = (o) => (OUTCOMES.find(([k]) => k === o) || [, o])[1];
export const orderLink = (id) => `/visits/${id}/order?tz=${encodeURIComponent(ZONE)}`;

function printLink(v) {
  return h("a", { href: orderLink(v.id), target: "_blank", rel: "noopener", class: "print-order",
    text: "Printable order", "aria-label": `Printable order V-${v.id}` });
}

export class CaseVisits {
  // ``agents``: [{id, display_name}] to pick a technician from; ``me``: the agent's id.
  constructor(id, { agents, me }) {
    this.id = id;
    this.names = new Map(agents.map((a) => [a.id, a.display_name]));
    this.department = null;
    const p = `fv-${id}`;
    const input = (name, attrs = {}) => h("input", { id: `${p}-${name}`, ...attrs });
    this.address = h("textarea", { id: `${p}-address`, rows: 2, maxlength: 500, required: true });
    this.contact = input("contact", { maxlength: 120 });
    this.phone = input("phone", { type: "tel", maxlength: 32, placeholder: "+49 30 1234567" });
    this.instructions = h("textarea", { id: `${p}-instructions`, rows: 3, maxlength: 5000 });
    this.start = input("start", { type: "datetime-local", required: true });
    this.duration = input("duration", { type: "number", min: 5, max: 1440, step: 5, value: 60 });
    this.technician = h("select", { id: `${p}-technician` },
      agents.map((a) => h("option", { value: a.id, text: a.display_name, selected: a.id === me })));
    this.custom = h("div", { class: "visit-fields", "aria-label": "Visit form" });
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("ul", { class: "visits", "aria-label": "Field visits" });
    const row = (label, el) => h("div", { class: "tw-field" }, h("label", { for: el.id, text: label }), el);
    this.form = h("form", { class: "visit-form", "aria-label": "Order a field visit" },
      row("Address *", this.address), row("On-site contact", this.contact), row("Contact phone", this.phone),
      row("Instructions", this.instructions), row("Start *", this.start), row("Duration (minutes)", this.duration),
      row("Technician", this.technician), this.custom,
      h("button", { type: "submit", text: "Order the visit" }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.add(); });
    this.el = h("details", { class: "ticket-visits" }, h("summary", { text: "Field visits" }),
      this.list, h("details", { class: "visit-new" }, h("summary", { text: "New visit order" }), this.form),
      this.status);
    this.load();
  }

  // The ticket view passes the case as loaded: its department's visit form is the order's.
  async render(c) {
    if (c.department_id === this.department) return;
    this.department = c.department_id;
    const { fields } = c.department_id ? await get(`/api/departments/${c.department_id}/visit-fields`)
      : { fields: [] };
    this.custom.replaceChildren(...fields.map((f) => field(f, `fv-${this.id}-f-${f.name}`)));
  }

  async load() {
    const rows = await get(`/api/conversations/${this.id}/visits`);
    this.list.replaceChildren(...(rows.length ? rows.map((v) => this.item(v))
      : [h("li", { class: "muted", text: "No visits ordered." })]));
  }

  item(v) {
    const who = this.names.get(v.technician_id) || `#${v.technician_id}`;
    const li = h("li", { class: v.late ? "late" : null, "data-status": v.status },
      h("strong", { text: `V-${v.id}` }), ` ${when(v.scheduled_at)} · ${v.duration_min} min · ${who}`,
      h("span", { class: "badge", "data-status": v.status, text: v.status }),
      v.late ? h("span", { class: "badge warn", text: "late" }) : null, " ", printLink(v),
      h("div", { class: "muted", text: v.address }),
      v.changes.length ? h("ul", { class: "changes", "aria-label": "Reschedulings" }, v.changes.map((ch) =>
        h("li", { text: `${when(ch.at)}: ${when(ch.old_at)} → ${when(ch.new_at)} by ${
          this.names.get(ch.by_id) || "someone"}: ${ch.why}` }))) : null,
      v.status === "done" ? h("p", { class: "visit-report",
        text: `${outcomeLabel(v.outcome)} · ${v.minutes} min: ${v.work_done}` }) : null,
      v.status === "cancelled" ? h("p", { class: "muted", text: `Cancelled: ${v.cancel_why}` }) : null);
    if (v.status === "scheduled") li.append(this.moveForm(v), this.doneForm(v));
    return li;
  }

  moveForm(v) {
    const at = h("input", { type: "datetime-local", "aria-label": `New start for V-${v.id}` });
    const why = h("input", { maxlength: 500, placeholder: "why", "aria-label": `Why V-${v.id} changes` });
    const form = h("form", { class: "tw-row" }, at, why, h("button", { type: "submit", text: "Reschedule" }),
      h("button", { type: "button", text: "Cancel visit", onclick: () => this.run(() =>
        patch(`/api/visits/${v.id}`, { status: "cancelled", why: why.value }), "Cancelled") }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run(() => patch(`/api/visits/${v.id}`, { scheduled_at: zoned(at.value), why: why.value }), "Rescheduled");
    });
    return form;
  }

  // Recorded by the visit's technician (or a supervisor): the server says so to anyone else.
  doneForm(v) {
    const work = h("textarea", { rows: 2, maxlength: 5000, "aria-label": `Work done on V-${v.id}` });
    const minutes = h("input", { type: "number", min: 1, max: 1440, step: 1,
      "aria-label": `Minutes spent on V-${v.id}` });
    const outcome = h("select", { "aria-label": `Outcome of V-${v.id}` },
      OUTCOMES.map(([k, t]) => h("option", { value: k, text: t })));
    const form = h("form", { class: "visit-done", "aria-label": `Complete V-${v.id}` },
      h("strong", { text: "Completion" }), work,
      h("div", { class: "tw-row" }, minutes, outcome, h("button", { type: "submit", text: "Record as done" })));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run(() => post(`/api/visits/${v.id}/complete`, { work_done: work.value,
        minutes: minutes.value === "" ? null : Number(minutes.value), outcome: outcome.value }), "Recorded as done");
    });
    return form;
  }

  body() {
    const fields = {};
    for (const el of this.custom.querySelectorAll("[data-field]")) {
      const value = read(el);
      if (value !== null && value !== false) fields[el.dataset.field] = value;
    }
    const text = (el) => el.value.trim() || null;
    return { address: this.address.value, contact_name: text(this.contact), contact_phone: text(this.phone),
      instructions: text(this.instructions), scheduled_at: zoned(this.start.value),
      duration_min: Number(this.duration.value || 60), technician_id: Number(this.technician.value), fields };
  }

  add() {
    this.run(async () => {
      const v = await post(`/api/conversations/${this.id}/visits`, this.body());
      this.form.reset();
      this.status.replaceChildren(`Visit V-${v.id} ordered. `, printLink(v));
    }, null);
  }

  async run(call, done) {
    try {
      await call();
      if (done) this.status.textContent = done;
      await this.load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.status.textContent = e.message;
    }
  }
}

// A date input's YYYY-MM-DD: the local day of ``d``; ``next``: the day after a YYYY-MM-DD.
const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const next = (ymd) => new Date(Date.parse(`${ymd}T00:00:00Z`) + 864e5).toISOString().slice(0, 10);

// The visits of a date range (from the first day to the last, inclusive), of one technician or
// all, soonest first; a number opens its case.
export class VisitList {
  constructor({ agents, me, open }) {
    this.open = open;
    this.names = new Map(agents.map((a) => [a.id, a.display_name]));
    const today = new Date();
    this.from = h("input", { id: "visits-from", type: "date", value: day(today) });
    this.to = h("input", { id: "visits-to", type: "date", value: day(new Date(today.getTime() + 6 * 864e5)) });
    this.technician = h("select", { id: "visits-technician" }, h("option", { value: "", text: "Anyone" }),
      h("option", { value: "me", text: "Me" }),
      agents.filter((a) => a.id !== me.id).map((a) => h("option", { value: a.id, text: a.display_name })));
    this.statusFilter = h("select", { id: "visits-status" }, h("option", { value: "", text: "Any status" }),
      ["scheduled", "done", "cancelled"].map((s) => h("option", { value: s, text: s })));
    this.note = h("p", { class: "muted", role: "status" });
    this.body = h("tbody");
    const row = (label, el) => h("div", {}, h("label", { for: el.id, text: label }), el);
    const form = h("form", { class: "visit-filters row", "aria-label": "Which visits" },
      row("From", this.from), row("To", this.to), row("Technician", this.technician),
      row("Status", this.statusFilter), h("button", { type: "submit", text: "Show" }));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.refresh(); });
    this.el = h("section", { class: "visit-list", "aria-labelledby": "visits-h" },
      h("h2", { id: "visits-h", text: "Field visits" }), form, this.note,
      h("table", { class: "visits-table" }, h("thead", {}, h("tr", {},
        ["When", "Case", "Customer", "Address", "Technician", "Status", "Order"].map((t) => h("th", { text: t })))),
      this.body));
  }

  async refresh() {
    // The API's ``to`` is exclusive: the day after the last one shown.
    const params = new URLSearchParams({ from: this.from.value, to: this.to.value ? next(this.to.value) : "",
      tz: ZONE });
    if (this.technician.value) params.set("technician_id", this.technician.value);
    if (this.statusFilter.value) params.set("status", this.statusFilter.value);
    try {
      const rows = await get(`/api/visits?${params}`);
      this.note.textContent = rows.length === 1 ? "1 visit" : rows.length ? `${rows.length} visits`
        : "No visits in this range.";
      this.body.replaceChildren(...rows.map((v) => h("tr", { "data-status": v.status, class: v.late ? "late" : null },
        h("td", { text: `${when(v.scheduled_at)} (${v.duration_min} min)` }),
        h("td", {}, h("button", { type: "button", class: "link", text: v.number,
          onclick: () => this.open(v.conversation_id, v.number) })),
        h("td", { text: v.customer || "" }), h("td", { class: "address", text: v.address }),
        h("td", { text: this.names.get(v.technician_id) || `#${v.technician_id}` }),
        h("td", {}, h("span", { class: "badge", "data-status": v.status, text: v.status }),
          v.late ? h("span", { class: "badge warn", text: "late" }) : null),
        h("td", {}, printLink(v)))));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.note.textContent = e.message;
    }
  }
}
