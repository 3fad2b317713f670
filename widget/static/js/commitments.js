// Commitments: what an agent committed to doing on a case (type, owner, due time, shown to the
// customer or not). On a ticket: the list with every due-date change, a form to commit, and per
// pending one "Move" (a new time and why) and "Done". Beside the queue: my pending ones, the
// overdue ones marked. The server checks every time (desk.commitments) and its message is shown.

import { ApiError, get, patch, post } from "./api.js";
import { h } from "./dom.js";

const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
// A datetime-local input's value is the agent's local time; the API wants its zone.
const zoned = (value) => (value ? new Date(value).toISOString() : "");

export class CaseCommitments {
  // ``agents``: [{id, display_name}] to pick an owner from; ``me``: the agent's id.
  constructor(id, { agents, me }) {
    this.id = id;
    this.names = new Map(agents.map((a) => [a.id, a.display_name]));
    const p = `cm-${id}`;
    this.list = h("ul", { class: "commitments", "aria-label": "Commitments" });
    this.kind = h("input", { id: `${p}-kind`, maxlength: 120, required: true, placeholder: "Call back" });
    this.due = h("input", { id: `${p}-due`, type: "datetime-local", required: true });
    this.owner = h("select", { id: `${p}-owner` },
      agents.map((a) => h("option", { value: a.id, text: a.display_name, selected: a.id === me })));
    this.public = h("input", { id: `${p}-public`, type: "checkbox" });
    this.status = h("p", { class: "muted", role: "status" });
    const form = h("form", { class: "tw-row", "aria-label": "Commit to an action" },
      h("label", { for: `${p}-kind`, text: "Commit to" }), this.kind,
      h("label", { for: `${p}-due`, text: "Due" }), this.due,
      h("label", { for: `${p}-owner`, text: "Owner" }), this.owner,
      h("label", { class: "inline", for: `${p}-public` }, this.public, " Customer sees it"),
      h("button", { type: "submit", text: "Commit" }));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.add(form); });
    this.el = h("details", { class: "ticket-commitments", open: true },
      h("summary", { text: "Commitments" }), this.list, form, this.status);
    this.load();
  }

  async load() {
    const rows = await get(`/api/conversations/${this.id}/commitments`);
    this.list.replaceChildren(...rows.map((c) => this.item(c)));
  }

  item(c) {
    const owner = this.names.get(c.owner_id) || `#${c.owner_id}`;
    const li = h("li", { class: c.overdue ? "overdue" : null, "data-status": c.status },
      h("strong", { text: c.kind }), ` — ${owner}, due ${when(c.due_at)}`,
      c.overdue ? h("span", { class: "badge warn", text: "overdue" }) : null,
      c.public ? h("span", { class: "badge", text: "public" }) : null,
      c.status !== "pending" ? h("span", { class: "badge", text: c.status }) : null,
      c.changes.length ? h("ul", { class: "changes", "aria-label": "Date changes" }, c.changes.map((ch) =>
        h("li", { text: `${when(ch.at)}: ${when(ch.old_due)} → ${when(ch.new_due)} by ${
          this.names.get(ch.by_id) || "someone"}: ${ch.why}` }))) : null);
    if (c.status === "pending") {
      const due = h("input", { type: "datetime-local", "aria-label": `New due time for ${c.kind}` });
      const why = h("input", { maxlength: 500, "aria-label": `Why ${c.kind} moves`, placeholder: "why" });
      const move = h("form", { class: "tw-row" }, due, why, h("button", { type: "submit", text: "Move" }),
        h("button", { type: "button", text: "Done",
          onclick: () => this.run(() => patch(`/api/commitments/${c.id}`, { status: "done" }), "Done") }));
      move.addEventListener("submit", (e) => {
        e.preventDefault();
        this.run(() => patch(`/api/commitments/${c.id}`, { due_at: zoned(due.value), why: why.value }), "Moved");
      });
      li.append(move);
    }
    return li;
  }

  add(form) {
    this.run(async () => {
      await post(`/api/conversations/${this.id}/commitments`, { kind: this.kind.value,
        due_at: zoned(this.due.value), owner_id: Number(this.owner.value), public: this.public.checked });
      form.reset();
    }, "Committed");
  }

  async run(call, done) {
    try {
      await call();
      this.status.textContent = done;
      await this.load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.status.textContent = e.message;
    }
  }
}

// My pending commitments, soonest first, the overdue ones marked; a number opens its case.
export class MyCommitments {
  constructor({ open }) {
    this.open = open;
    this.list = h("ul", { class: "my-commitments" });
    this.el = h("section", { "aria-labelledby": "mine-h" },
      h("h2", { id: "mine-h", text: "My commitments" }), this.list);
  }

  async refresh() {
    const rows = await get("/api/commitments?owner_id=me");
    this.list.replaceChildren(...(rows.length ? rows.map((c) => h("li", { class: c.overdue ? "overdue" : null },
      h("button", { type: "button", class: "link", text: c.number, onclick: () => this.open(c.conversation_id, c.number) }),
      ` ${c.kind}, ${when(c.due_at)}`, c.overdue ? h("span", { class: "badge warn", text: "overdue" }) : null))
      : [h("li", { class: "muted", text: "Nothing promised." })]));
  }
}
