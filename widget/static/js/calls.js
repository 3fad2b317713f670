// Log a call: a phone contact the agent took or made, on the department's call form (its
// custom fields, required ones marked *). The server checks everything (desk.calls) and
// answers with the new case's number; what it refuses is shown beside the field it names.

import { ApiError, get, post } from "./api.js";
import { h } from "./dom.js";
import { field, read } from "./ticketwork.js";

export class CallLog {
  // ``groups``: the agent's groups (each names its department); ``open``: open a case (id, number).
  constructor({ groups, open }) {
    this.open = open;
    this.group = h("select", { id: "call-group" },
      groups.map((g) => h("option", { value: g.id, text: g.name, "data-department": g.department_id })));
    this.group.addEventListener("change", () => this.loadForm());
    this.direction = h("select", { id: "call-direction" },
      h("option", { value: "inbound", text: "Inbound (they called)" }),
      h("option", { value: "outbound", text: "Outbound (we called)" }));
    this.phone = h("input", { id: "call-phone", type: "tel", maxlength: 32, required: true,
      placeholder: "+49 30 1234567" });
    this.minutes = h("input", { id: "call-minutes", type: "number", min: 0, max: 1440, step: 1, value: 0 });
    this.name = h("input", { id: "call-name", maxlength: 120 });
    this.email = h("input", { id: "call-email", type: "email", maxlength: 254 });
    this.notes = h("textarea", { id: "call-notes", rows: 4, maxlength: 10000 });
    this.resolution = h("input", { id: "call-resolution", maxlength: 500,
      placeholder: "Leave empty when the case goes on" });
    this.custom = h("div", { class: "call-fields", "aria-label": "Call form" });
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.done = h("p", { class: "notice", role: "status" });
    const row = (label, input) => h("div", { class: "tw-field" },
      h("label", { for: input.id, text: label }), input);
    this.form = h("form", { class: "call-form", "aria-label": "Log a call" },
      row("Group", this.group), row("Direction", this.direction), row("Phone number *", this.phone),
      row("Duration (minutes)", this.minutes), row("Caller's name", this.name),
      row("Caller's email", this.email), this.custom, row("Notes", this.notes),
      row("Resolution", this.resolution), this.error,
      h("button", { type: "submit", text: "Log the call" }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    this.el = h("section", { "aria-labelledby": "calls-h" },
      h("h2", { id: "calls-h", text: "Log a call" }), this.form, this.done);
    this.loadForm();
  }

  department() {
    return Number(this.group.selectedOptions[0]?.dataset.department);
  }

  async loadForm() {
    const id = this.department();
    if (!id) return;
    const { fields } = await get(`/api/departments/${id}/call-fields`);
    this.custom.replaceChildren(...fields.map((f) => field(f, `call-f-${f.name}`)));
  }

  body() {
    const fields = {};
    for (const input of this.custom.querySelectorAll("[data-field]")) {
      const v = read(input);
      if (v !== null && v !== false) fields[input.dataset.field] = v;
    }
    const text = (input) => input.value.trim() || undefined;
    return { department_id: this.department(), group_id: Number(this.group.value),
      direction: this.direction.value, phone: this.phone.value,
      duration_s: Math.round(Number(this.minutes.value || 0) * 60), name: text(this.name),
      email: text(this.email), notes: text(this.notes), resolution: text(this.resolution), fields };
  }

  async submit() {
    this.error.hidden = true;
    for (const el of this.form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    try {
      const c = await post("/api/calls", this.body());
      this.done.replaceChildren(`Call logged as ${c.number}. `,
        h("button", { type: "button", class: "link", text: `Open ${c.number}`,
          onclick: () => this.open(c.id, c.number) }));
      this.form.reset();
      this.loadForm();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.error.textContent = e.message;
      this.error.hidden = false;
      const name = e.field?.startsWith("fields.") ? `call-f-${e.field.slice(7)}`
        : { phone: "call-phone", duration_s: "call-minutes", email: "call-email",
          direction: "call-direction", group_id: "call-group" }[e.field];
      document.getElementById(name)?.setAttribute("aria-invalid", "true");
    }
  }
}
