// Tickets: a filtered list (status, channel, group, assignee, priority) and a ticket view with
// reply and internal note, all over the HTTP API.

import { get, patch, post } from "./api.js";
import { AssistPanel } from "./assist.js";
import { languageBadge, messageItem, showLanguage } from "./chatpane.js";
import { clear, clientId, contactFacts, h } from "./dom.js";
import { uploader } from "./files.js";
import { STATUS_LABELS } from "./status.js";
import { TicketWork } from "./ticketwork.js";
import { CaseCommitments } from "./commitments.js";
import { CaseVisits } from "./visits.js";

// "noise": auto-replies and bulk mail, listed only when asked for (the API leaves them out).
const STATUSES = ["queued", "offered", "active", "pending", "resolved", "closed", "noise"];
const ENDED = ["resolved", "closed"];

function select(id, label, options, value = "") {
  const el = h("select", { id, name: id },
    options.map(([v, text]) => h("option", { value: v, text, selected: v === value })));
  return [h("label", { for: id, text: label }), el];
}

export class Tickets {
  constructor({ groups, agents, open }) {
    this.groups = new Map(groups.map((g) => [g.id, g.name]));
    this.agents = new Map(agents.map((a) => [a.id, a.display_name]));
    this.open = open;
    this.form = h("form", { class: "filters", "aria-label": "Ticket filters" },
      ...select("f-status", "Status", [["", "Any open"], ...STATUSES.map((s) => [s, STATUS_LABELS[s]])]),
      ...select("f-channel", "Channel", [["email", "Email"], ["portal", "Web (case page)"], ["chat", "Chat"], ["phone", "Phone call"],
        ["", "Any"]], "email"),
      ...select("f-group", "Group", [["", "All my groups"], ...groups.map((g) => [String(g.id), g.name])]),
      ...select("f-assignee", "Assignee", [["", "Anyone"], ["me", "Me"],
        ...agents.map((a) => [String(a.id), a.display_name])]),
      ...select("f-priority", "Priority", [["", "Any"], ...[1, 2, 3, 4].map((p) => [String(p), `P${p}`])]),
      h("button", { type: "submit", text: "Apply" }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.refresh(); });
    this.form.addEventListener("change", () => this.refresh());
    this.body = h("tbody");
    this.note = h("p", { class: "muted", role: "status" });
    this.el = h("section", { class: "tickets", "aria-labelledby": "tickets-title" },
      h("h2", { id: "tickets-title", text: "Tickets" }), this.form, this.note,
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["Number", "Subject", "Contact", "Status", "Priority", "Group",
          "Assignee", "Updated"].map((t) => h("th", { scope: "col", text: t })))),
        this.body));
  }

  // Only the newest request's answer is shown: a slower answer to an older filter (two filters
  // changed quickly) arrives late and is dropped, never drawn over the newer one.
  async refresh() {
    const asked = (this.asked = (this.asked || 0) + 1);
    const params = new URLSearchParams();
    for (const [key, id] of [["status", "f-status"], ["channel", "f-channel"], ["group_id", "f-group"],
      ["assignee_id", "f-assignee"], ["priority", "f-priority"]]) {
      const v = this.form.elements[id].value;
      if (v) params.set(key, v);
    }
    try {
      let rows = await get(`/api/conversations?${params}`);
      if (asked !== this.asked) return;
      if (!params.has("status")) rows = rows.filter((c) => c.status !== "closed" && c.status !== "resolved");
      this.note.textContent = `${rows.length} shown`;
      clear(this.body).append(...rows.map((c) => h("tr", {},
        h("td", {}, h("button", { class: "link", type: "button", text: c.number,
          onclick: () => this.open(c.id, c.number) })),
        h("td", { text: c.subject || "" }),
        h("td", { text: (c.contact && (c.contact.name || c.contact.email)) || "" }),
        h("td", {}, h("span", { class: "badge", "data-status": c.status, text: STATUS_LABELS[c.status] || c.status })),
        h("td", { text: `P${c.priority}` }),
        h("td", { text: this.groups.get(c.group_id) || "" }),
        h("td", { text: this.agents.get(c.assignee_id) || (c.assignee_id ? `#${c.assignee_id}` : "—") }),
        h("td", { text: new Date(c.updated_at).toLocaleString() }))));
    } catch (e) {
      if (asked === this.asked) this.note.textContent = `Could not load tickets: ${e.message}`;
    }
  }
}

// One audit event as a person reads it; unknown actions show as recorded.
function describe(e, agents) {
  const d = e.data || {};
  const who = (id) => agents.get(id) || `agent #${id}`;
  const label = (s) => STATUS_LABELS[s] || s;
  switch (e.action) {
    case "conversation.status": return `Status ${label(d.old)} → ${label(d.new)}`;
    case "conversation.promoted": return "Promoted to a ticket";
    case "routing.accepted": return `Accepted by ${who(d.agent_id)}`;
    case "routing.active": return `Assigned to ${who(d.agent_id)}`;
    case "routing.transferred": return d.agent_id ? `Transferred to ${who(d.agent_id)}` : "Transferred";
    case "sla.met": return "SLA met";
    case "sla.breached_then_met": return "SLA met after a breach";
    case "rule.fired": return `Rule ${d.rule} fired`;
    case "conversation.tags": return `Tags ${[...(d.added || []).map((t) => `+${t}`), ...(d.removed || []).map((t) => `−${t}`)].join(" ")}`;
    case "conversation.fields": return `Fields set: ${Object.keys(d.values || {}).join(", ")}`;
    case "conversation.cc": return d.cc && d.cc.length ? `Copies: ${d.cc.join(", ")}` : "Copies removed";
    case "conversation.forwarded": return `Forwarded to ${d.to}`;
    case "conversation.merged": return `Merged into ${d.into}`;
    case "conversation.merged_in": return `${d.source} merged in (${d.messages} messages)`;
    case "conversation.split": return `Split into ${d.into} from message ${d.seq}`;
    case "conversation.split_from": return `Split from ${d.source}`;
    case "visit.scheduled": return `Field visit V-${d.visit} ordered for ${new Date(d.at_time).toLocaleString()}, ${who(d.technician_id)}`;
    case "visit.moved": return `Field visit V-${d.visit} rescheduled to ${new Date(d.new).toLocaleString()}`;
    case "visit.reassigned": return `Field visit V-${d.visit} handed to ${who(d.technician_id)}`;
    case "visit.cancelled": return `Field visit V-${d.visit} cancelled`;
    case "visit.done": return `Field visit V-${d.visit} done (${d.minutes} min)`;
    case "time.logged": return `${d.minutes} min logged`;
    default: return e.action;
  }
}

export class TicketView {
  // ``agents``: id -> display name, for the timeline's "who"; ``open(id, number)``: open
  // another ticket (a merge's survivor, a split's new ticket).
  constructor(id, { agents = new Map(), open = () => {}, me = null } = {}) {
    this.id = id;
    this.agents = agents;
    this.work = new TicketWork(id, { reload: () => this.load(), open });
    const people = [...agents].map(([agentId, name]) => ({ id: agentId, display_name: name }));
    this.commitments = new CaseCommitments(id, { me, agents: people });
    this.visits = new CaseVisits(id, { me, agents: people });
    this.timeline = h("ol", { class: "timeline", "aria-label": "Timeline" });
    this.title = h("h2", { text: `#${id}` });
    this.language = languageBadge();
    // The statuses the server's rules allow from here (status_options), the current one first.
    this.status = h("select", { "aria-label": "Status" });
    this.status.addEventListener("change", () => this.setStatus());
    this.promoteButton = h("button", { type: "button", hidden: true,
      text: "Promote to a ticket", onclick: () => this.promote() });
    this.facts = h("dl", { class: "facts" });
    this.log = h("ol", { class: "log", "aria-label": "Messages" });
    this.notice = h("p", { class: "notice", role: "status" });
    this.text = h("textarea", { rows: 4, "aria-label": "Reply text", maxlength: 10000 });
    this.internal = h("input", { type: "checkbox", id: `tnote-${id}` });
    const form = this.form = h("form", { class: "composer" }, this.text,
      h("div", { class: "row" }, h("label", { class: "inline", for: `tnote-${id}` }, this.internal,
        " Internal note"), uploader({ conversationId: id, internal: () => this.internal.checked,
        done: () => this.load() }), h("button", { class: "primary", type: "submit", text: "Send" })));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    this.ended = h("p", { class: "muted ended", hidden: true });
    // Agent assist beside the reply box, as in a chat: its insertions go into this reply.
    this.assist = new AssistPanel(id, { input: this.text });
    this.el = h("section", { class: "chat ticket", "data-ticket": id },
      h("header", { class: "chat-head" }, this.title, this.status, this.language, this.promoteButton),
      this.facts,
      this.notice, this.log, this.ended, form, this.assist.el,
      h("details", { class: "timeline-box" }, h("summary", { text: "Timeline" }), this.timeline));
    // The ticket with its work box under it (what the console shows in the tab).
    this.box = h("div", { class: "ticket-box" }, this.el, this.work.el, this.commitments.el,
      this.visits.el);
    this.load();
  }

  async load() {
    try {
      const c = await get(`/api/conversations/${this.id}`);
      this.title.textContent = `${c.number} — ${c.subject || "(no subject)"}`;
      this.showStatus(c);
      showLanguage(this.language, c.language);
      this.email = c.contact && c.contact.email;
      this.promoteButton.hidden = c.status !== "noise";
      const rows = [["Contact", c.contact && c.contact.name], ...contactFacts(c.contact),
        ["Topic", c.topic], ["Channel", c.channel], ["Priority", `P${c.priority}`],
        ["Resolution", c.resolution_note],
        ...(c.answers || []).map((a) => [a.label, a.value])];
      this.facts.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) =>
        [h("dt", { text: k }), h("dd", { text: String(v) })]));
      // A chat that ended cannot be answered: no composer, only what happened.
      const over = c.channel === "chat" && ENDED.includes(c.status);
      this.form.hidden = over;
      this.ended.hidden = !over;
      this.ended.textContent = over ? `This chat is ${c.status}; it can no longer be answered.` : "";
      const name = c.contact && (c.contact.name || c.contact.email);
      this.log.replaceChildren(...c.messages.map((m) => messageItem(m, name)));
      this.work.render(c);
      this.visits.render(c);
      this.facts.append(...(c.rating ? [h("dt", { text: "Rating" }),
        h("dd", { text: `${c.rating} of 5${c.rating_comment ? ` — ${c.rating_comment}` : ""}` })] : []));
    } catch (e) {
      this.notice.textContent = `Could not load: ${e.message}`;
    }
    this.loadTimeline();
  }

  // The audit trail (status changes, assignments, transfers, SLA, rule firings), oldest first.
  async loadTimeline() {
    try {
      const events = await get(`/api/conversations/${this.id}/timeline`);
      this.timeline.replaceChildren(...events.map((e) => h("li", { "data-action": e.action },
        h("time", { text: new Date(e.at).toLocaleString() }), " ",
        h("strong", { text: describe(e, this.agents) }),
        e.actor_id ? h("span", { class: "muted", text: ` by ${this.agents.get(e.actor_id) || `#${e.actor_id}`}` }) : null,
        e.why ? h("span", { class: "muted", text: ` — ${e.why}` }) : null)));
      if (!events.length) this.timeline.append(h("li", { class: "muted", text: "Nothing recorded yet." }));
    } catch (e) {
      this.timeline.replaceChildren(h("li", { class: "error", text: `Could not load the timeline: ${e.message}` }));
    }
  }

  // A live frame of this ticket (the console's socket holds it once taken): a message the
  // customer wrote on the case page or by mail shows at once, in seq order.
  handle(f) {
    if (f.type !== "message" || this.log.querySelector(`[data-seq="${Number(f.seq)}"]`)) return;
    const later = [...this.log.children].find((li) => Number(li.dataset.seq) > f.seq);
    this.log.insertBefore(messageItem(f), later || null);
    this.assist.update();
  }

  async send() {
    const body = this.text.value.trim();
    if (!body) return;
    const fields = this.form.querySelectorAll("textarea,input,button");
    fields.forEach((el) => { el.disabled = true; });
    try {
      // The same client_id until it succeeds: a retry after a lost answer is stored once.
      this.cid = this.cid || clientId();
      const sent = await post(`/api/conversations/${this.id}/messages`, { body, client_id: this.cid,
        visibility: this.internal.checked ? "internal" : "public" });
      this.cid = null;
      this.text.value = "";
      this.notice.textContent = this.internal.checked ? "Note added"
        : sent.mailed ? `Reply sent by email${this.email ? ` to ${this.email}` : ""}` : "Reply sent";
      await this.load();
    } catch (e) {
      this.notice.textContent = `Not sent: ${e.message}`;
    } finally {
      fields.forEach((el) => { el.disabled = false; });
    }
  }

  async promote() {
    try {
      await post(`/api/conversations/${this.id}/promote`, {});
      this.notice.textContent = "Promoted: routed to an agent";
      await this.load();
    } catch (e) {
      this.notice.textContent = `Could not promote: ${e.message}`;
    }
  }

  showStatus(c) {
    const label = (s) => (s === "queued" && c.status !== "queued" ? "reopen (back to the queue)"
      : STATUS_LABELS[s] || s);
    this.status.replaceChildren(h("option", { value: c.status, text: STATUS_LABELS[c.status] || c.status }),
      ...(c.status_options || []).map((s) => h("option", { value: s, text: label(s) })));
    this.status.value = c.status;
    this.status.disabled = !(c.status_options || []).length;
    this.current = c.status;
  }

  async setStatus() {
    const target = this.status.value;
    if (target === this.current) return;
    try {
      const c = await patch(`/api/conversations/${this.id}`, { status: target });
      this.notice.textContent = `Status set to ${STATUS_LABELS[c.status] || c.status}`;
      await this.load();
    } catch (e) {
      this.status.value = this.current;
      this.notice.textContent = `Could not change status: ${e.message}`;
    }
  }
}
