// The customer 360 beside a conversation (GET /api/conversations/{id}/customer): who the
// contact is and whether that is proven, their organisation, their other conversations on
// every channel, linked tickets, contracts with hours, the time logged here, and how similar
// conversations were resolved (their resolution notes), and their field visits. The company's
// own data about the contact (the site's lookup provider, GET …/customer/lookup) loads on its
// own afterwards: a slow provider holds up nothing else, and its fields are shown as text only.

import { get, post } from "./api.js";
import { h } from "./dom.js";
import { orderLink } from "./visits.js";

function hours(v) {
  return v == null ? "—" : `${v} h`;
}

export class CustomerPanel {
  constructor(id, { open }) {
    this.id = id;
    this.open = open;
    this.body = h("div", { class: "c360-body" });
    this.company = h("div", { class: "c360-lookup", "aria-live": "polite" });
    this.minutes = h("input", { type: "number", min: 1, max: 1440, required: true,
      id: `c360-min-${id}`, name: "minutes" });
    this.note = h("input", { type: "text", maxlength: 1000, id: `c360-note-${id}`, name: "note" });
    this.status = h("p", { class: "muted", role: "status" });
    this.form = h("form", { class: "c360-time", "aria-label": "Log time" },
      h("label", { for: `c360-min-${id}`, text: "Minutes" }), this.minutes,
      h("label", { for: `c360-note-${id}`, text: "Note" }), this.note,
      h("button", { type: "submit", text: "Log time" }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.logTime(); });
    this.el = h("aside", { class: "c360", "aria-label": "Customer" },
      h("h3", { text: "Customer" }), this.body, this.company, this.form, this.status);
    this.load();
    this.lookup();
  }

  async load() {
    try {
      this.render(await get(`/api/conversations/${this.id}/customer`));
    } catch (e) {
      this.status.textContent = `Could not load the customer: ${e.message}`;
    }
  }

  async lookup() {
    let v;
    try {
      v = await get(`/api/conversations/${this.id}/customer/lookup`);
    } catch {
      v = { state: "unavailable" };
    }
    if (v.state === "none") return;
    const value = (x) => (x === true ? "yes" : x === false ? "no" : x == null ? "—" : String(x));
    this.company.replaceChildren(h("h4", { text: "Company data" }), v.state === "ok"
      ? h("dl", { class: "c360-fields" }, v.fields.flatMap(([label, x]) =>
        [h("dt", { text: label }), h("dd", { text: value(x) })]))
      : h("p", { class: "muted", text: "Company data unavailable" }));
  }

  list(title, items, row) {
    return items.length ? [h("h4", { text: title }), h("ul", { class: "c360-list" }, items.map(row))]
      : [];
  }

  conversation(c, extra = "") {
    return h("li", {}, h("button", { class: "link", type: "button", text: c.number,
      onclick: () => this.open(c) }),
    ` ${c.channel} · ${c.status}${c.rating != null ? ` · rated ${c.rating}` : ""}${extra}`,
    c.subject ? h("span", { class: "muted", text: ` — ${c.subject}` }) : null);
  }

  render(v) {
    const who = v.contact;
    const org = v.organisation;
    // replaceChildren would write a null as the text "null": parts left out are dropped first.
    this.body.replaceChildren(...[
      who ? h("p", {}, h("strong", { text: who.name || who.email || "Unnamed" }), " ",
        h("span", { class: "badge", "data-verified": String(who.verified),
          text: who.verified ? "verified" : "not verified" }),
        who.email ? h("br") : null, who.email || "", who.phone ? ` · ${who.phone}` : "")
        : h("p", { class: "muted", text: "No contact" }),
      org ? h("p", {}, h("span", { text: `Organisation: ${org.name}` }),
        h("br"), h("span", { class: "muted",
          text: [...org.domains, ...org.phones].join(", ") })) : null,
      ...(org ? this.list("Members", org.members, (m) => h("li", { text: m.email || m.name || "" })) : []),
      ...this.list("Previous resolutions", v.resolutions || [], (r) => h("li", { class: "resolution" },
        h("button", { class: "link", type: "button", text: r.number, onclick: () => this.open(r) }),
        r.subject ? h("span", { class: "muted", text: ` ${r.subject}` }) : null,
        h("br"), h("span", { text: r.note }))),
      ...this.list("Earlier conversations", v.history, (c) => this.conversation(c)),
      ...this.list("Field visits", v.visits || [], (x) => h("li", { "data-status": x.status },
        h("button", { class: "link", type: "button", text: x.number,
          onclick: () => this.open({ id: x.conversation_id, number: x.number }) }),
        ` V-${x.id} ${new Date(x.scheduled_at).toLocaleDateString()} · ${x.status} `,
        h("a", { href: orderLink(x.id), target: "_blank", rel: "noopener", text: "order" }))),
      ...this.list("Linked tickets", v.linked, (c) => this.conversation(c, ` (${c.relation})`)),
      ...this.list("Contracts", v.contracts, (k) => h("li", { "data-expired": String(k.expired) },
        `${k.name} (${k.kind}) ${k.starts_on} – ${k.ends_on || "open"} · `,
        `${hours(k.hours_used)} used of ${hours(k.hours_contracted)}`,
        k.expired ? h("span", { class: "badge", text: "expired" }) : null)),
      h("p", { class: "c360-total", text: `Time logged here: ${v.time.total_minutes} min` }),
    ].filter((part) => part != null));
  }

  async logTime() {
    const minutes = Number(this.minutes.value);
    try {
      const entry = await post(`/api/conversations/${this.id}/time`,
        { minutes, note: this.note.value.trim() || null });
      this.status.textContent = entry.contract_id ? `Logged ${minutes} min against the contract`
        : `Logged ${minutes} min (no contract in force)`;
      this.form.reset();
      await this.load();
    } catch (e) {
      this.status.textContent = `Not logged: ${e.message}`;
    }
  }
}

// A conversation's view with the customer panel beside it.
export function withCustomer(el, id, open) {
  return h("div", { class: "with-c360" }, el, new CustomerPanel(id, { open }).el);
}
