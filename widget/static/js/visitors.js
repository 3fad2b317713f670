// Who's On: the site's visitors now, newest arrival first, one page at a time. The server
// sends the page (``visitors``) and then only what changed on it (``visitors_delta``, at most
// once per interval); this panel keeps the rows and redraws the page. Everything a visitor
// sent is shown as text; only an http(s) address becomes a link.

import { ago, announce, clear, h } from "./dom.js";

const PAGE = 50;

function safeLink(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

export class Visitors {
  // ``onAccepted(conversation id)``: my invitation became my chat (it has no message yet).
  constructor({ wire, onAccepted }) {
    this.wire = wire;
    this.onAccepted = onAccepted;
    this.rows = new Map(); // visitor id -> row
    this.order = [];
    this.site = null;
    this.offset = 0;
    this.total = 0;
    this.skew = 0; // server clock minus ours
    this.sites = h("select", { "aria-label": "Site", hidden: true,
      onchange: () => this.watch(Number(this.sites.value), 0) });
    this.count = h("p", { class: "muted", role: "status", text: "Loading…" });
    this.note = h("p", { class: "notice", role: "status" });
    this.message = h("input", { type: "text", maxlength: 300, value: "Hello! Can I help you?",
      "aria-label": "Invitation message", class: "invite-text" });
    this.list = h("table", { class: "grid visitors" },
      h("thead", {}, h("tr", {}, ["Visitor", "Page", "On page", "Pages", "Referrer", "Language", ""]
        .map((t) => h("th", { scope: "col", text: t })))), this.body = h("tbody"));
    this.prev = h("button", { type: "button", text: "Newer", onclick: () => this.watch(this.site, this.offset - PAGE) });
    this.next = h("button", { type: "button", text: "Older", onclick: () => this.watch(this.site, this.offset + PAGE) });
    this.el = h("section", { class: "visitors-panel", "aria-labelledby": "visitors-h" },
      h("h2", { id: "visitors-h", text: "Visitors on the site" }),
      h("div", { class: "row" }, this.sites, this.count, this.prev, this.next),
      h("label", { class: "inline" }, "Invitation message ", this.message), this.note, this.list);
    setInterval(() => this.draw(), 1000); // times on page
  }

  watch(site, offset = 0) {
    this.offset = Math.max(0, offset);
    this.wire.send({ type: "watch_visitors", site_id: site ?? undefined, offset: this.offset, limit: PAGE });
  }

  // After every (re)connect: follow the same page again.
  live() { this.watch(this.site, this.offset); }

  handle(f) {
    switch (f.type) {
      case "visitors":
        this.site = f.site_id;
        this.skew = f.now - Date.now();
        this.rows = new Map(f.rows.map((r) => [r.visitor_id, r]));
        this.order = f.rows.map((r) => r.visitor_id);
        this.total = f.total;
        if (f.sites.length) {
          clear(this.sites).append(...f.sites.map((s) => h("option", { value: String(s.id), text: s.name })));
          this.sites.value = String(f.site_id);
          this.sites.hidden = f.sites.length < 2;
        }
        break;
      case "visitors_delta":
        if (f.site_id !== this.site) return true;
        this.skew = f.now - Date.now();
        for (const r of f.upserts) this.rows.set(r.visitor_id, r);
        for (const id of f.removed) this.rows.delete(id);
        if (f.order) this.order = f.order;
        this.total = f.total;
        break;
      case "invitation_outcome":
        this.note.textContent = f.outcome === "accepted" ? "Your invitation was accepted: the chat is yours."
          : `Your invitation was ${f.outcome}.`;
        announce(this.note.textContent);
        if (f.outcome === "accepted" && f.conversation_id) this.onAccepted(f.conversation_id);
        return true;
      case "done":
        if (f.op !== "invite_visitor") return false;
        this.note.textContent = "Invitation sent.";
        return true;
      case "error":
        if (f.ref !== "invite_visitor" && f.ref !== "watch_visitors") return false;
        this.note.textContent = f.ref === "invite_visitor" ? `Not invited: ${f.message}` : f.message;
        return true;
      default:
        return false;
    }
    this.draw();
    return true;
  }

  invite(row) {
    if (!this.wire.send({ type: "invite_visitor", site_id: this.site, visitor_id: row.visitor_id,
      text: this.message.value.trim().slice(0, 300) })) this.note.textContent = "Not connected";
  }

  draw() {
    const now = Date.now() + this.skew;
    const shown = this.order.filter((id) => this.rows.has(id));
    const end = this.offset + shown.length;
    this.count.textContent = this.total ? `${this.offset + 1}–${end} of ${this.total} on the site now`
      : "Nobody is on the site now.";
    this.prev.disabled = this.offset === 0;
    this.next.disabled = end >= this.total;
    clear(this.body).append(...shown.map((id) => {
      const r = this.rows.get(id);
      const link = safeLink(r.url);
      const page = link ? h("a", { href: link, target: "_blank", rel: "noopener noreferrer", text: r.title || r.url })
        : h("span", { class: "unsafe", text: r.title || r.url });
      const who = r.name || `Visitor ${r.visitor_id}`;
      return h("tr", { "data-visitor": r.visitor_id },
        h("td", {}, h("strong", { text: who }),
          h("span", { class: "badge", text: r.returning ? "returning" : "new" }),
          r.chatted ? h("span", { class: "badge", text: "chatted before" }) : null,
          r.chatting ? h("span", { class: "badge live", text: "in chat" }) : null),
        h("td", { class: "page" }, page, h("span", { class: "muted url", text: r.url })),
        h("td", { text: ago((now - r.page_since) / 1000) }),
        h("td", { text: String(r.pages) }),
        h("td", { class: "muted", text: r.referrer || "—" }),
        h("td", { text: r.lang || "—" }),
        h("td", {}, h("button", { type: "button", text: "Invite", disabled: r.chatting,
          "aria-label": `Invite ${who}`, onclick: () => this.invite(r) })));
    }));
  }
}
