// Ticket search above the tickets list: words and "quoted phrases" over subjects and messages,
// with filters, over GET /api/conversations/search. Newest activity first, a page at a time:
// "More" asks for the page after the server's cursor.

import { get } from "./api.js";
import { h } from "./dom.js";

const STATUSES = ["queued", "offered", "active", "pending", "resolved", "closed", "noise"];
const PAGE = 25;

function field(id, label, input) {
  input.id = id;
  input.name = id;
  return h("span", { class: "field" }, h("label", { for: id, text: label }), input);
}

function choice(options) {
  return h("select", {}, options.map(([v, text]) => h("option", { value: v, text })));
}

export class TicketSearch {
  constructor({ groups, agents, open }) {
    this.groups = new Map(groups.map((g) => [g.id, g.name]));
    this.agents = new Map(agents.map((a) => [a.id, a.display_name]));
    this.open = open;
    this.asked = 0;
    this.q = h("input", { type: "search", maxlength: 500, placeholder: "Words or \"a phrase\"" });
    const text = (max) => h("input", { type: "text", maxlength: max });
    this.inputs = {
      q: this.q,
      email: h("input", { type: "email", maxlength: 254 }),
      contact: text(120), organisation: text(120),
      number: text(12),
      status: choice([["", "Any"], ...STATUSES.map((s) => [s, s])]),
      channel: choice([["", "Any"], ["email", "Email"], ["chat", "Chat"], ["portal", "Portal"], ["phone", "Phone"]]),
      priority: choice([["", "Any"], ...[1, 2, 3, 4].map((p) => [String(p), `P${p}`])]),
      group_id: choice([["", "All my groups"], ...groups.map((g) => [String(g.id), g.name])]),
      assignee_id: choice([["", "Anyone"], ["me", "Me"], ["none", "Nobody"],
        ...agents.map((a) => [String(a.id), a.display_name])]),
      from: h("input", { type: "date" }),
      to: h("input", { type: "date" }),
      field: h("input", { type: "text", maxlength: 320, placeholder: "name:value" }),
      tag: text(64),
    };
    const i = this.inputs;
    this.form = h("form", { class: "search", role: "search", "aria-label": "Search tickets" },
      h("div", { class: "filters" }, field("s-q", "Search", i.q),
        h("button", { type: "submit", class: "primary", text: "Search" }),
        h("button", { type: "button", text: "Clear", onclick: () => this.clear() })),
      h("details", {}, h("summary", { text: "More filters" }),
        h("div", { class: "filters" },
          field("s-email", "Email", i.email), field("s-contact", "Contact", i.contact),
          field("s-organisation", "Organisation", i.organisation),
          field("s-number", "Number", i.number), field("s-status", "Status", i.status),
          field("s-channel", "Channel", i.channel), field("s-priority", "Priority", i.priority),
          field("s-group", "Group", i.group_id), field("s-assignee", "Assignee", i.assignee_id),
          field("s-from", "Active from", i.from), field("s-to", "to", i.to),
          field("s-field", "Custom field", i.field), field("s-tag", "Tag", i.tag))));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    this.note = h("p", { class: "muted", role: "status" });
    this.body = h("tbody");
    this.more = h("button", { type: "button", hidden: true, text: "More results",
      onclick: () => this.run(this.cursor) });
    this.results = h("div", { class: "search-results", hidden: true },
      h("table", { class: "grid", "aria-label": "Search results" },
        h("thead", {}, h("tr", {}, ["Number", "Subject", "Contact", "Status", "Priority", "Group",
          "Assignee", "Updated"].map((t) => h("th", { scope: "col", text: t })))),
        this.body),
      this.more);
    this.el = h("section", { class: "ticket-search", "aria-label": "Ticket search" },
      this.form, this.note, this.results);
  }

  params(cursor) {
    const params = new URLSearchParams();
    for (const [key, input] of Object.entries(this.inputs)) {
      const v = input.value.trim();
      if (v) params.set(key, v);
    }
    params.set("limit", String(PAGE));
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  // A new search replaces the rows; "More" (a cursor) appends. Only the newest request's answer
  // is drawn: one still under way when the search changes is dropped when it lands.
  async run(cursor = null) {
    const asked = ++this.asked;
    this.note.textContent = "Searching…";
    try {
      const page = await get(`/api/conversations/search?${this.params(cursor)}`);
      if (asked !== this.asked) return;
      if (!cursor) this.body.replaceChildren();
      this.body.append(...page.items.map((c) => this.row(c)));
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.results.hidden = false;
      const n = this.body.children.length;
      this.note.textContent = n ? `${n} found${this.cursor ? ", more below" : ""}` : "Nothing found";
    } catch (e) {
      if (asked === this.asked) this.note.textContent = `Search failed: ${e.message}`;
    }
  }

  row(c) {
    return h("tr", {},
      h("td", {}, h("button", { class: "link", type: "button", text: c.number,
        onclick: () => this.open(c.id, c.number) })),
      h("td", { text: c.subject || "" }),
      h("td", { text: (c.contact && (c.contact.name || c.contact.email)) || "" }),
      h("td", {}, h("span", { class: "badge", "data-status": c.status, text: c.status })),
      h("td", { text: `P${c.priority}` }),
      h("td", { text: this.groups.get(c.group_id) || "" }),
      h("td", { text: this.agents.get(c.assignee_id) || (c.assignee_id ? `#${c.assignee_id}` : "—") }),
      h("td", { text: new Date(c.updated_at).toLocaleString() }));
  }

  clear() {
    this.asked++;
    this.form.reset();
    this.body.replaceChildren();
    this.results.hidden = true;
    this.note.textContent = "";
  }
}
