// Team messaging: direct messages and rooms between agents, beside the chats. Each thread
// keeps its messages by seq; after every (re)connect, and on a seq past the next one, it asks
// ``team_resume`` after the last seq it holds in order, so nothing is lost or doubled. Sends go
// through the wire's outbox (same client_id until ``team_ack``). A conversation number in a
// message opens that conversation, if the server lets this agent see it.

import { get } from "./api.js";
import { announce, clear, clientId, h, time } from "./dom.js";

const NUMBER = /SB-\d{7}/g;

export class Team {
  // ``colleagues``: [{id, display_name}]; ``open(id, number)``: show a conversation.
  constructor({ wire, me, colleagues, open, onUnread }) {
    this.wire = wire;
    this.me = me;
    this.colleagues = colleagues;
    this.open = open;
    this.onUnread = onUnread || (() => {});
    this.threads = new Map(); // id -> { view, msgs: Map(seq -> msg), upto }
    this.current = null;
    this.list = h("ul", { class: "threads", "aria-label": "Team threads" });
    this.log = h("ol", { class: "log team-log", role: "log", "aria-live": "polite", "aria-label": "Team messages" });
    this.title = h("h3", { class: "thread-title", text: "Pick a thread" });
    this.input = h("textarea", { class: "compose", rows: 2, maxlength: 4000, disabled: true,
      "aria-label": "Message to the team", placeholder: "Message…" });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); }
    });
    this.note = h("p", { class: "notice", role: "status" });
    const who = h("select", { "aria-label": "Message a colleague" },
      h("option", { value: "", text: "Message a colleague…" }),
      colleagues.map((a) => h("option", { value: String(a.id), text: a.display_name })));
    who.addEventListener("change", () => {
      if (who.value) this.wire.send({ type: "team_open_dm", agent_id: Number(who.value) });
      who.value = "";
    });
    const roomName = h("input", { type: "text", maxlength: 80, "aria-label": "Room name", placeholder: "Room name" });
    const picks = h("fieldset", { class: "members" }, h("legend", { text: "Members" }),
      colleagues.map((a) => h("label", { class: "inline" },
        h("input", { type: "checkbox", value: String(a.id) }), ` ${a.display_name}`)));
    const roomForm = h("form", { class: "new-room" }, roomName, picks,
      h("button", { type: "submit", text: "Create room" }));
    roomForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const ids = [...picks.querySelectorAll("input:checked")].map((i) => Number(i.value));
      if (this.wire.send({ type: "team_create_room", name: roomName.value, member_ids: ids })) {
        roomName.value = "";
        for (const i of picks.querySelectorAll("input")) i.checked = false;
      }
    });
    this.el = h("section", { class: "team", "aria-labelledby": "team-h" },
      h("h2", { id: "team-h", text: "Team" }),
      h("div", { class: "team-grid" },
        h("div", { class: "team-side" }, who, this.list, h("details", {}, h("summary", { text: "New room" }), roomForm)),
        h("div", { class: "team-main" }, this.title, this.log, this.note,
          h("div", { class: "bar" }, this.input,
            h("button", { class: "primary", type: "button", text: "Send", onclick: () => this.submit() })))));
  }

  live() {
    this.wire.send({ type: "team_list" });
  }

  handle(f) {
    switch (f.type) {
      case "team_threads":
        for (const v of f.threads) this.upsert(v);
        this.drawList();
        return true;
      case "team_message":
        this.received(f);
        return true;
      case "team_ack":
        this.wire.outbox.delete(f.client_id);
        return true;
      case "error":
        if (!f.ref || !f.ref.startsWith("team_")) return false;
        this.note.textContent = `Not done: ${f.message}`;
        return true;
      default:
        return false;
    }
  }

  upsert(view) {
    let t = this.threads.get(view.thread_id);
    if (!t) {
      t = { view, msgs: new Map(), upto: 0 };
      this.threads.set(view.thread_id, t);
    }
    t.view = view;
    // Everything after what I hold in order: history the first time, the gap after a reconnect.
    if (view.last_seq > t.upto) this.wire.send({ type: "team_resume", thread_id: view.thread_id, after_seq: t.upto });
  }

  received(m) {
    const t = this.threads.get(m.thread_id);
    if (!t) { this.live(); return; } // a thread I do not know yet: the list brings it
    if (t.msgs.has(m.seq)) return;
    t.msgs.set(m.seq, m);
    while (t.msgs.has(t.upto + 1)) t.upto += 1;
    if (m.seq > t.upto) this.wire.send({ type: "team_resume", thread_id: m.thread_id, after_seq: t.upto });
    // Seqs up to the listed last_seq are history (the list counted their unread already).
    const fresh = m.seq > t.view.last_seq;
    t.view = { ...t.view, last_seq: Math.max(t.view.last_seq, m.seq) };
    if (m.author_id !== this.me.id) {
      if (this.current === m.thread_id && !this.el.closest("[hidden]")) this.read(t);
      else if (fresh) { t.view.unread = (t.view.unread || 0) + 1; announce(`Message from ${m.author_name}`); }
    }
    this.drawList();
    if (this.current === m.thread_id) this.drawLog();
  }

  read(t) {
    t.view.unread = 0;
    this.wire.send({ type: "team_read", thread_id: t.view.thread_id, seq: t.upto });
  }

  select(id) {
    this.current = id;
    const t = this.threads.get(id);
    this.title.textContent = t.view.kind === "room" ? `# ${t.view.name}` : t.view.name;
    this.input.disabled = false;
    this.read(t);
    this.drawList();
    this.drawLog();
    this.input.focus();
  }

  unread() {
    let n = 0;
    for (const t of this.threads.values()) n += t.view.unread || 0;
    return n;
  }

  drawList() {
    const items = [...this.threads.values()].sort((a, b) => b.view.last_seq - a.view.last_seq || b.view.thread_id - a.view.thread_id);
    clear(this.list).append(...items.map((t) => h("li", {},
      h("button", { type: "button", class: "thread", "data-thread": t.view.thread_id,
        "aria-current": t.view.thread_id === this.current ? "true" : null, onclick: () => this.select(t.view.thread_id) },
      h("span", { text: t.view.kind === "room" ? `# ${t.view.name}` : t.view.name }),
      t.view.unread ? h("span", { class: "count", text: String(t.view.unread) }) : null))));
    if (!items.length) this.list.append(h("li", { class: "muted", text: "No messages yet." }));
    this.onUnread(this.unread());
  }

  text(body) {
    // Plain text, with conversation numbers as buttons that open them.
    const parts = [];
    let at = 0;
    for (const m of body.matchAll(NUMBER)) {
      parts.push(body.slice(at, m.index));
      const number = m[0];
      parts.push(h("button", { type: "button", class: "link conv-link", text: number, onclick: () => this.openNumber(number) }));
      at = m.index + number.length;
    }
    parts.push(body.slice(at));
    return parts;
  }

  async openNumber(number) {
    try {
      const page = await get(`/api/conversations/search?number=${encodeURIComponent(number)}`);
      const c = page.items[0];
      if (c) this.open(c.id, c.number);
      else this.note.textContent = `${number}: not a conversation you can see.`;
    } catch (e) {
      this.note.textContent = `${number}: ${e.message}`;
    }
  }

  drawLog() {
    const t = this.threads.get(this.current);
    if (!t) return;
    const msgs = [...t.msgs.values()].sort((a, b) => a.seq - b.seq);
    clear(this.log).append(...msgs.map((m) => h("li", { class: `msg ${m.author_id === this.me.id ? "mine" : ""}`, "data-seq": m.seq },
      h("span", { class: "who", text: `${m.author_name} · ${time(m.created_at)}` }),
      h("span", { class: "body" }, ...this.text(m.text)))));
    this.log.scrollTop = this.log.scrollHeight;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.current == null) return;
    this.wire.reliable({ type: "team_send", thread_id: this.current, client_id: clientId(), text: text.slice(0, 4000) });
    this.input.value = "";
  }
}
