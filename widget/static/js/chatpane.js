// One live conversation in a tab: history (with internal notes and whispers), the visitor's
// live draft, a composer with canned responses (type /shortcut, then Tab or Enter), and the
// actions of the viewer's role. Used by the agent console and the supervisor view.

import { get } from "./api.js";
import { AssistPanel } from "./assist.js";
import { expandCanned } from "./canned.js";
import { announce, clientId, contactFacts, h, time } from "./dom.js";
import { fileList, uploader } from "./files.js";
import { STATUS_LABELS } from "./status.js";

const LABELS = { internal: "Internal note", whisper: "Whisper" };
const DONE = { transfer: "Transferred.", invite: "Invitation sent.", join: "You joined the chat.",
  leave: "You left the chat.", monitor: "Monitoring silently: the visitor does not see you.",
  end: "Chat closed." };

// ``contactName``: the customer's name (or address) from the conversation, for their messages;
// "Visitor" only when the customer never gave one.
export function messageItem(m, contactName) {
  const text = m.text ?? m.body ?? "";
  // A contact's message may carry the name they had when it was stored ("Visitor" before the
  // pre-chat form named them): the conversation's contact says who they are now.
  const who = m.author_kind === "contact" ? contactName || m.author_name || "Visitor"
    : m.author_name || m.author_kind;
  const li = h("li", { class: `msg ${m.author_kind} ${m.visibility || "public"}` },
    h("div", { class: "meta" },
      h("span", { class: "who", text: who,
        "data-fallback": m.author_kind === "contact" && !contactName }),
      h("time", { text: time(m.created_at) }),
      LABELS[m.visibility] ? h("span", { class: "tag", text: LABELS[m.visibility] }) : null),
    // A file's message says only its name: the file list shows it.
    m.files && m.files.length === 1 && m.files[0].name === text ? null : h("p", { class: "body", text }),
    fileList(m.files));
  if (m.seq != null) li.dataset.seq = m.seq;
  if (m.client_id) li.dataset.cid = m.client_id;
  return li;
}

// The language the customer reads (the widget's or form's): a small badge, its name on hover.
const LANGUAGE_NAMES = new Intl.DisplayNames(["en"], { type: "language" });
export const languageBadge = () => h("span", { class: "badge lang", hidden: true });
export function showLanguage(badge, language) {
  badge.hidden = !language;
  if (!language) return;
  badge.textContent = language.toUpperCase();
  const name = LANGUAGE_NAMES.of(language) || language;
  badge.title = `The customer reads ${name}`;
  badge.setAttribute("aria-label", `Language: ${name}`);
}

export class ChatPane {
  constructor({ id, number, wire, mode, canned = [], directory = { agents: [], groups: [] },
    me = null, onGone = () => {}, onNumber = () => {}, watch = {} }) {
    this.id = id;
    this.me = me; // the agent at this console, for canned responses' {{agent.name}}
    this.number = number; // and the conversation's (load() brings the contact too)
    this.wire = wire;
    this.mode = mode; // "agent" | "supervisor"
    this.canned = canned;
    this.directory = directory;
    this.onGone = onGone;
    this.onNumber = onNumber;
    this.joined = false;
    this.draftAt = 0;
    this.log = h("ol", { class: "log", "aria-label": "Messages", role: "log" });
    this.draft = h("p", { class: "draft", "aria-live": "off" });
    this.status = h("span", { class: "badge" });
    this.language = languageBadge();
    this.title = h("h2", { text: number || `#${id}` });
    this.facts = h("dl", { class: "facts" });
    this.notice = h("p", { class: "notice", role: "status" });
    this.el = h("section", { class: "chat", "data-conversation": id },
      h("header", { class: "chat-head" }, this.title, this.status, this.language, this.actions()),
      this.facts, this.notice, this.log, this.draft, this.composer(), this.over);
    this.assist = mode === "agent" ? new AssistPanel(id, this) : null;
    if (this.assist) this.el.append(this.assist.el);
    this.load();
    wire.watch(id, watch);
  }

  async load() {
    try {
      const c = await get(`/api/conversations/${this.id}`);
      this.title.textContent = c.number;
      this.onNumber(c.number);
      this.department = c.department_id;
      showLanguage(this.language, c.language);
      if (!this.status.dataset.status) this.setStatus(c.status); // frames are fresher
      this.contactName = c.contact && (c.contact.name || c.contact.email);
      this.contact = c.contact;
      this.number = c.number;
      this.renameContact();
      // Pre-chat answers come labelled from the site's form (the server reads it).
      const rows = [["Visitor", this.contactName],
        ...contactFacts(c.contact), ["Topic", c.topic], ["Channel", c.channel],
        ...(c.answers || []).map((a) => [a.label, a.value])];
      this.facts.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) =>
        [h("dt", { text: k }), h("dd", { text: String(v) })]));
    } catch (e) {
      this.notice.textContent = `Could not load details: ${e.message}`;
    }
  }

  setStatus(status) {
    this.status.textContent = STATUS_LABELS[status] || status;
    this.status.dataset.status = status;
    // An ended chat cannot be answered: the composer goes, the reason shows.
    const over = status === "resolved" || status === "closed";
    this.composerEl.hidden = over;
    this.over.hidden = !over;
    this.over.textContent = over ? `This chat is ${status}; it can no longer be answered.` : "";
  }

  // Messages drawn before the conversation's details arrived said "Visitor".
  renameContact() {
    if (!this.contactName) return;
    for (const who of this.log.querySelectorAll(".msg.contact .who[data-fallback]")) {
      who.textContent = this.contactName;
    }
  }

  // --- frames from the hub -------------------------------------------------------------------

  handle(f) {
    switch (f.type) {
      case "message": this.add(f); break;
      case "ack": this.confirm(f.client_id, f.seq); break;
      case "typing": this.typing(f); break;
      case "state": this.setStatus(f.status); break;
      case "assigned": this.setStatus("active"); this.system(`Assigned to ${f.agent_name}`); break;
      case "participant_joined": this.system(`${f.name} joined (${f.role})`); break;
      case "participant_left": this.system(`${f.name} left`); break;
      case "ended":
        this.setStatus("resolved");
        this.system(`Chat ended by ${f.by}`);
        this.draft.textContent = "";
        break;
      case "conversation_removed": // my rights to it ended: the tab goes, and says why
        announce(`Chat ${this.id} was taken from you: ${f.reason}`);
        this.gone();
        break;
      case "error":
        if (f.client_id) this.fail(f.client_id, f.message);
        else this.notice.textContent = f.message;
        break;
      case "done":
        this.notice.textContent = DONE[f.op] || "";
        if (f.op === "accept") this.setStatus("active");
        break;
    }
  }

  add(m) {
    if (this.log.querySelector(`[data-seq="${m.seq}"]`)) return;
    const pending = m.client_id && this.log.querySelector(`[data-cid="${CSS.escape(m.client_id)}"]`);
    if (pending) pending.remove();
    this.place(messageItem(m, this.contactName), m.seq);
    if (m.author_kind === "contact") this.draft.textContent = "";
    this.log.scrollTop = this.log.scrollHeight;
    if (this.assist) this.assist.update();
  }

  confirm(cid, seq) {
    const li = this.log.querySelector(`[data-cid="${CSS.escape(cid)}"]`);
    if (li) { li.classList.remove("pending"); this.place(li, seq); }
  }

  // Stored messages sit in seq order, before any still unacknowledged ones.
  place(li, seq) {
    li.dataset.seq = seq;
    const next = [...this.log.children].find((el) => el !== li &&
      (el.classList.contains("pending") || Number(el.dataset.seq) > seq));
    this.log.insertBefore(li, next || null);
  }

  fail(cid, why) {
    const li = this.log.querySelector(`[data-cid="${CSS.escape(cid)}"]`);
    if (li) { li.classList.add("failed"); li.append(h("p", { class: "error", text: `Not sent: ${why}` })); }
  }

  system(text) {
    this.log.append(h("li", { class: "msg system" }, h("p", { class: "body", text })));
  }

  typing(f) {
    clearTimeout(this.draftTimer);
    if (!f.active) { this.draft.textContent = ""; return; }
    const who = f.author_name || (f.author_kind === "contact" ? this.contactName || "Visitor" : "Someone");
    this.draft.replaceChildren(h("span", { class: "who", text: `${who} is typing` }),
      f.draft ? h("span", { class: "live-draft", text: f.draft }) : "\u2026");
    this.draftTimer = setTimeout(() => { this.draft.textContent = ""; }, 10000);
  }

  // --- composing ------------------------------------------------------------------------------

  composer() {
    this.input = h("textarea", { rows: 3, "aria-label": "Message", class: "compose",
      placeholder: this.mode === "agent" ? "Reply… (/ for canned responses, Enter to send)"
        : "Whisper to the agent… (Enter to send)" });
    this.suggest = h("ul", { class: "suggest", role: "listbox", "aria-label": "Canned responses",
      hidden: true });
    this.note = h("input", { type: "checkbox", id: `note-${this.id}` });
    const kind = this.mode === "agent"
      ? h("label", { class: "inline", for: `note-${this.id}` }, this.note, " Internal note")
      : h("span", { class: "hint", text: "Before joining, your messages are whispers: only the agent sees them." });
    this.input.addEventListener("keydown", (e) => this.keydown(e));
    this.input.addEventListener("input", () => { this.suggestions(); this.sendDraft(); });
    // Late enough for a click on a suggestion to land; not if focus came straight back.
    this.input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== this.input) this.suggest.hidden = true;
    }, 150));
    this.over = h("p", { class: "muted ended", hidden: true });
    this.composerEl = h("div", { class: "composer" }, this.suggest, this.input,
      h("div", { class: "row" }, kind, this.mode === "agent" ? uploader({ conversationId: this.id,
        internal: () => this.note.checked, done: (m) => this.add(m) }) : null,
        h("button", { class: "primary", type: "button", text: "Send", onclick: () => this.submit() })));
    return this.composerEl;
  }

  keydown(e) {
    const open = !this.suggest.hidden;
    const items = [...this.suggest.children];
    const at = items.findIndex((li) => li.getAttribute("aria-selected") === "true");
    if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      const next = (at + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach((li, i) => li.setAttribute("aria-selected", String(i === next)));
    } else if (open && (e.key === "Tab" || e.key === "Enter")) {
      e.preventDefault();
      this.insert(this.matches[Math.max(0, at)]);
    } else if (open && e.key === "Escape") {
      e.stopPropagation();
      this.suggest.hidden = true;
    } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  suggestions() {
    const m = /(?:^|\s)\/([\w-]*)$/.exec(this.input.value);
    const mine = this.canned.filter((c) => this.department == null || c.department_id === this.department);
    this.matches = m ? mine.filter((c) => c.shortcut.startsWith(m[1].toLowerCase())) : [];
    this.suggest.hidden = !this.matches.length;
    this.suggest.replaceChildren(...this.matches.map((c, i) => h("li", { role: "option",
      "aria-selected": String(i === 0), onmousedown: (e) => { e.preventDefault(); this.insert(c); } },
    h("strong", { text: `/${c.shortcut}` }), ` ${c.title}`)));
  }

  // A canned response's body with its variables filled in for this conversation.
  cannedText(c) {
    return expandCanned(c.body, { contact: this.contact, agent: this.me,
      conversation: { number: this.number } });
  }

  insert(c) {
    this.input.value = this.input.value.replace(/\/[\w-]*$/, () => this.cannedText(c));
    this.suggest.hidden = true;
    this.input.focus();
  }

  sendDraft() {
    clearTimeout(this.draftSend);
    const go = () => {
      this.draftAt = Date.now();
      this.wire.send({ type: "typing", conversation_id: this.id,
        draft: this.input.value.slice(0, 2000), note: this.mode !== "agent" || this.note.checked });
    };
    const wait = 300 - (Date.now() - this.draftAt);
    if (!this.input.value || wait <= 0) go(); else this.draftSend = setTimeout(go, wait);
  }

  submit() {
    const text = this.input.value.trim();
    if (!text) return;
    const whisper = this.mode === "supervisor" && !this.joined;
    const frame = whisper
      ? { type: "whisper", conversation_id: this.id, client_id: clientId(), text }
      : { type: "message", conversation_id: this.id, client_id: clientId(), text,
        internal: this.mode === "agent" && this.note.checked };
    const li = messageItem({ client_id: frame.client_id, text, author_kind: this.mode,
      author_name: "You", visibility: whisper ? "whisper" : frame.internal ? "internal" : "public" });
    li.classList.add("pending");
    this.log.append(li);
    this.wire.reliable(frame);
    this.input.value = "";
    this.sendDraft();
  }

  // --- actions ---------------------------------------------------------------------------------

  actions() {
    const bar = h("div", { class: "actions" });
    const act = (label, fn) => h("button", { type: "button", text: label, onclick: fn });
    if (this.mode === "agent") {
      this.form = h("div", { class: "inline-form", hidden: true });
      bar.append(act("Transfer", () => this.transferForm()), act("Invite", () => this.inviteForm()),
        act("Close chat", () => this.command({ type: "close", conversation_id: this.id }, "Chat closed")),
        act("Close tab", () => this.gone()), this.form);
    } else {
      const join = act("Join chat", () => {
        const leaving = this.joined;
        if (this.command({ type: leaving ? "leave" : "join", conversation_id: this.id })) {
          this.joined = !leaving;
          join.textContent = this.joined ? "Leave chat" : "Join chat";
          this.input.placeholder = this.joined ? "Message to the visitor…" : "Whisper to the agent… (Enter to send)";
        }
      });
      bar.append(join, act("Stop monitoring", () => {
        this.command({ type: "unmonitor", conversation_id: this.id });
        this.gone();
      }));
    }
    return bar;
  }

  command(frame, message) {
    const ok = this.wire.send(frame);
    this.notice.textContent = ok ? (message || "") : "Not connected; try again in a moment.";
    return ok;
  }

  gone() {
    this.wire.unwatch(this.id);
    this.onGone(this.id);
  }

  transferForm() {
    const target = h("select", { "aria-label": "Transfer to" },
      h("optgroup", { label: "Groups" }, this.directory.groups.map((g) =>
        h("option", { value: `g${g.id}`, text: g.name }))),
      h("optgroup", { label: "Agents" }, this.directory.agents.map((a) =>
        h("option", { value: `a${a.id}`, text: a.display_name }))));
    const note = h("input", { type: "text", "aria-label": "Note for the receiver", placeholder: "Note", maxlength: 2000 });
    this.showForm(target, note, "Transfer", () => {
      const id = Number(target.value.slice(1));
      const frame = { type: "transfer", conversation_id: this.id, note: note.value.trim() };
      frame[target.value[0] === "g" ? "group_id" : "agent_id"] = id;
      if (this.command(frame, "Transfer requested")) announce("Transfer requested");
    });
  }

  inviteForm() {
    const agent = h("select", { "aria-label": "Invite agent" }, this.directory.agents.map((a) =>
      h("option", { value: String(a.id), text: a.display_name })));
    this.showForm(agent, null, "Invite", () => this.command({ type: "invite",
      conversation_id: this.id, agent_id: Number(agent.value) }, "Invitation sent"));
  }

  showForm(...[a, b, label, fn]) {
    this.form.hidden = false;
    this.form.replaceChildren(a, b || "", h("button", { type: "button", class: "primary", text: label,
      onclick: () => { fn(); this.form.hidden = true; } }),
    h("button", { type: "button", text: "Cancel", onclick: () => { this.form.hidden = true; } }));
    a.focus();
  }
}
