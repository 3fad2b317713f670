// Agent console: status and active groups, offers with countdown, the queue of my groups with
// cherry-pick, several chats in tabs, and the tickets list and views.

import { get } from "./api.js";
import { CallLog } from "./calls.js";
import { MyCommitments } from "./commitments.js";
import { MyTasks } from "./tasks.js";
import { ChatPane } from "./chatpane.js";
import { ago, announce, clear, h } from "./dom.js";
import { logout, session } from "./login.js";
import { Tabs } from "./tabs.js";
import { withCustomer } from "./customer.js";
import { TicketSearch } from "./search.js";
import { Tickets, TicketView } from "./tickets.js";
import { Team } from "./team.js";
import { Visitors } from "./visitors.js";
import { VisitList } from "./visits.js";
import { explainRefusal, Wire } from "./wire.js";

const LIVE_EVERY_MS = 5000;
const root = document.getElementById("app");
const me = await session(root, "Switchboard — agent console");
const [groups, agents, canned] = await Promise.all([
  get("/api/groups"), get("/api/agents"), get("/api/canned")]);
const myGroups = groups.filter((g) => me.group_ids.includes(g.id));
const groupName = new Map(groups.map((g) => [g.id, g.name]));
const directory = { groups, agents: agents.filter((a) => a.id !== me.id && a.is_active) };

const panes = new Map(); // conversation id -> ChatPane
// Tickets (email, portal) taken here: they open in a ticket view, whose replies go over the
// HTTP API and by mail. The socket may still carry their messages; no chat tab is made of them.
const takenTickets = new Map(); // conversation id -> number
const offers = new Map(); // conversation id -> { el, timer }
const tabs = new Tabs("Conversations");
const connection = h("span", { class: "conn", role: "status", text: "Connecting…" });
const wire = new Wire("/ws/agent", { onFrame, onLive, onRefused: (n) => explainRefusal(wire, n, connection) });

// --- status and my active groups: they decide whether the router offers me chats -------------
// The server keeps both (the router's toggles are stored in the records): every connect brings
// an ``agent_state`` frame, and so does every change, from this console or another one of mine.
// The console sends ``presence`` / ``active_groups`` only when the agent changes something, and
// shows the server's answer, so what is ticked here is what the router uses.

const status = h("select", { id: "status", "aria-label": "My status", disabled: true },
  h("option", { value: "online", text: "Online" }), h("option", { value: "away", text: "Away" }));
status.addEventListener("change", () => change({ type: "presence", status: status.value }));

const groupList = h("ul", { class: "toggles" }, myGroups.map((g) => h("li", {},
  h("label", { class: "inline" }, h("input", { type: "checkbox", "data-group": g.id, disabled: true,
    onchange: () => change({ type: "active_groups", group_ids: activeGroups() }) }), ` ${g.name}`))));
const awayNote = h("p", { class: "muted away-note", hidden: true,
  text: "Away: no new chats are offered. Your groups come back on when you are online." });
let agentState = null; // the server's last word
let changing = 0; // my changes not yet confirmed: until then the page shows my choice

function activeGroups() {
  return [...groupList.querySelectorAll("input:checked")].map((i) => Number(i.dataset.group));
}

function change(frame) {
  delete groupList.dataset.applied;
  if (!wire.send(frame)) {
    announce("Not connected");
    showState();
    return;
  }
  changing += 1;
  refreshQueue();
}

function confirmed() {
  changing = Math.max(0, changing - 1);
  showState();
}

function showState(state = agentState) {
  if (state) agentState = state;
  if (!agentState || changing) return;
  status.value = agentState.status;
  status.disabled = false;
  awayNote.hidden = agentState.status !== "away";
  for (const box of groupList.querySelectorAll("input")) {
    box.checked = agentState.active_groups.includes(Number(box.dataset.group));
    box.disabled = false;
  }
  groupList.dataset.applied = agentState.active_groups.join(",");
  refreshQueue();
}

// --- alerts for offers (opt-in): a short tone and a desktop notification --------------------
// Off until the agent ticks it (kept in this browser); ticking asks the browser's permission
// for notifications. Without that permission the tone still plays.

const ALERTS_KEY = "sb-offer-alerts";
const alertsBox = h("input", { type: "checkbox", id: "offer-alerts",
  checked: localStorage.getItem(ALERTS_KEY) === "on" });
const alertsNote = h("span", { class: "hint" });
alertsBox.addEventListener("change", async () => {
  localStorage.setItem(ALERTS_KEY, alertsBox.checked ? "on" : "off");
  if (alertsBox.checked && "Notification" in window && Notification.permission === "default") {
    await Notification.requestPermission();
  }
  showAlertsNote();
});

function showAlertsNote() {
  const blocked = alertsBox.checked && (!("Notification" in window) || Notification.permission === "denied");
  alertsNote.textContent = blocked ? "Desktop notifications are blocked by the browser; the tone still plays." : "";
}

function tone() {
  try {
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
    osc.onended = () => audio.close();
  } catch {
    // no audio output: the notification and the card remain
  }
}

function alertOffer(title, body, id) {
  if (!alertsBox.checked) return;
  tone();
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const n = new Notification(title, { body, tag: `offer-${id}` });
  n.onclick = () => { window.focus(); n.close(); };
}

// --- offers -----------------------------------------------------------------------------------

const offerList = h("ul", { class: "offers", "aria-label": "Incoming offers" });

function offer(f) {
  dropOffer(f.conversation_id);
  const deadline = Date.now() + f.expires_in_s * 1000;
  const meter = h("progress", { max: Math.round(f.expires_in_s * 10), value: Math.round(f.expires_in_s * 10),
    "aria-label": "Time left" });
  const left = h("span", { class: "left" });
  const el = h("li", { class: "offer card", "data-conversation": f.conversation_id },
    h("strong", { text: f.number }), h("span", { class: "muted", text: f.topic || "" }),
    f.channel && f.channel !== "chat" ? h("span", { class: "badge", text: `${f.channel} ticket` }) : null,
    meter, left,
    h("div", { class: "row" },
      h("button", { class: "primary", type: "button", text: "Accept",
        onclick: () => take(f.conversation_id, f.number, f.channel) }),
      h("button", { type: "button", text: "Decline", onclick: () => {
        wire.send({ type: "decline", conversation_id: f.conversation_id });
        dropOffer(f.conversation_id);
      } })));
  const tick = () => {
    const ms = deadline - Date.now();
    if (ms <= 0) { dropOffer(f.conversation_id); announce(`Offer ${f.number} expired`); return; }
    meter.value = Math.round(ms / 100);
    left.textContent = `${Math.ceil(ms / 1000)} s left`;
  };
  tick();
  offers.set(f.conversation_id, { el, timer: setInterval(tick, 250) });
  offerList.append(el);
  const said = f.channel && f.channel !== "chat" ? `New ticket offered: ${f.number}`
    : `New chat offered: ${f.number}`;
  announce(said);
  alertOffer(said, f.topic || "", f.conversation_id);
}

function dropOffer(id) {
  const o = offers.get(id);
  if (!o) return;
  clearInterval(o.timer);
  o.el.remove();
  offers.delete(id);
}

// Accept an offer or cherry-pick from the queue: the hub grants the chat, which opens its tab;
// a ticket opens in its ticket view once the server confirms (``done``).
function take(id, number, channel = "chat") {
  if (!wire.send({ type: "accept", conversation_id: id })) { announce("Not connected"); return; }
  dropOffer(id);
  board = board.filter((c) => c.conversation_id !== id);
  refreshQueue();
  if (channel === "chat") openChat(id, number, { now: false }, true);
  else takenTickets.set(id, number);
}

// --- queue of my groups: chats and tickets -----------------------------------------------------
// Tickets (email, portal) wait beside the chats, with their kind, age and SLA due time. "Take"
// asks the router (which checks group, capacity and skills); it is disabled, saying why, while
// my load is at capacity for that kind. A ticket can also be given to a colleague of its group.

const queueList = h("ul", { class: "queue", "aria-label": "Waiting chats and tickets" });
let board = [];
let capacity = null; // the router's view of my load (live frame)
const KIND = { chat: "chat", email: "email ticket", portal: "web ticket", phone: "call" };

function full(channel) {
  if (!capacity) return null;
  const [load, max, word] = channel === "chat" ? [capacity.chats, capacity.max_chats, "chats"]
    : [capacity.tickets, capacity.max_tickets, "tickets"];
  return load >= max ? `At capacity: ${load} / ${max} ${word}` : null;
}

function due(iso) {
  if (!iso) return null;
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  return s >= 0 ? { text: `SLA due in ${ago(s)}`, late: false } : { text: `SLA overdue by ${ago(-s)}`, late: true };
}

function colleagues(groupId) {
  return directory.agents.filter((a) => (a.group_ids || []).includes(groupId));
}

function assignForm(c) {
  const who = h("select", { "aria-label": `Assign ${c.number} to` },
    h("option", { value: String(me.id), text: "Me" }),
    colleagues(c.group_id).map((a) => h("option", { value: String(a.id), text: a.display_name })));
  return h("span", { class: "assign row" }, who, h("button", { type: "button", text: "Assign",
    "aria-label": `Assign ${c.number}`, onclick: () => assign(c, Number(who.value)) }));
}

function assign(c, agentId) {
  if (agentId === me.id) { take(c.conversation_id, c.number, c.channel); return; }
  if (!wire.send({ type: "assign", conversation_id: c.conversation_id, agent_id: agentId })) {
    announce("Not connected");
    return;
  }
  board = board.filter((x) => x.conversation_id !== c.conversation_id);
  refreshQueue();
}

function queueItem(c) {
  const kind = c.channel || "chat";
  const reason = full(kind);
  const sla = due(c.sla_due);
  return h("li", { class: "card", "data-conversation": c.conversation_id, "data-channel": kind },
    h("strong", { text: c.number }),
    h("span", { class: "badge", "data-kind": kind, text: KIND[kind] || kind }),
    h("span", { class: "muted", text: ` ${groupName.get(c.group_id) || ""} · waiting ${ago(c.waiting_s)}` }),
    c.subject && kind !== "chat" ? h("span", { class: "subject", text: c.subject }) : null,
    sla ? h("span", { class: sla.late ? "sla late" : "sla", text: sla.text }) : null,
    h("button", { type: "button", text: "Take", "aria-label": `Take ${c.number}`, disabled: !!reason,
      title: reason || null, onclick: () => take(c.conversation_id, c.number, kind) }),
    reason ? h("span", { class: "hint full", text: reason }) : null,
    kind !== "chat" ? assignForm(c) : null);
}

function refreshQueue() {
  const active = new Set(activeGroups());
  // Chats follow my group toggles (they are offered to me only there); tickets of all my
  // groups are listed, since anyone may take or assign one.
  const waiting = board.filter((c) => c.status === "queued" &&
    ((c.channel || "chat") !== "chat" || active.has(c.group_id)));
  clear(queueList).append(...waiting.map(queueItem));
  if (!waiting.length) queueList.append(h("li", { class: "muted", text: "Nobody is waiting." }));
}

// --- chats in tabs -----------------------------------------------------------------------------

// ``select``: bring the tab forward (the agent asked for it); chats arriving by themselves
// (reconnect, transfer, invitation) open in the background and show a count instead.
function openChat(id, number, watch, select = false) {
  if (panes.has(id)) return panes.get(id);
  const pane = new ChatPane({ id, number, wire, mode: "agent", canned, directory, me, watch,
    onGone: () => tabs.remove(`c${id}`), onNumber: (n) => tabs.rename(`c${id}`, n) });
  panes.set(id, pane);
  tabs.add(`c${id}`, number || `Chat #${id}`, withCustomer(pane.el, id, openEarlier), { select, closable: true, onClose: () => {
    wire.unwatch(id);
    panes.delete(id);
  } });
  return pane;
}

const ticketViews = new Map(); // conversation id -> open TicketView
const agentNames = new Map([...agents.map((a) => [a.id, a.display_name]), [me.id, me.display_name]]);

// A conversation named in a customer panel (history, linked tickets): read in a ticket view.
function openEarlier(c) {
  if (panes.has(c.id)) tabs.select(`c${c.id}`);
  else if (ticketViews.has(c.id)) tabs.select(`t${c.id}`);
  else openTicket(c.id, c.number);
}

function openEarlierById(id, number) {
  openEarlier({ id, number });
}

function openTicket(id, number) {
  const view = new TicketView(id, { agents: agentNames, me: me.id,
    // A merge's survivor or a split's new ticket: shown as it is now, open already or not.
    open: (other, otherNumber) => {
      const shown = ticketViews.get(other);
      openEarlier({ id: other, number: otherNumber });
      if (shown) shown.load();
    } });
  ticketViews.set(id, view);
  tabs.add(`t${id}`, number, withCustomer(view.box, id, openEarlier), { closable: true, select: true,
    onClose: () => ticketViews.delete(id) });
}

// --- frames --------------------------------------------------------------------------------------

function onLive(live) {
  connection.textContent = live ? "Connected" : "Reconnecting…";
  connection.dataset.live = String(live);
  changing = 0; // unanswered changes died with the old socket; the next agent_state decides
  // A reminder pushed while the socket was down is in the task list: read it again.
  if (live) { wire.send({ type: "list_live" }); visitors.live(); team.live(); myTasks.refresh().catch(() => {}); }
}

function onFrame(f) {
  if (visitors.handle(f) || team.handle(f)) return;
  switch (f.type) {
    case "welcome":
      for (const id of f.conversations) openChat(id, null, { now: true });
      return;
    case "agent_state": showState(f); return;
    case "offer": offer(f); return;
    case "offer_revoked": dropOffer(f.conversation_id); return;
    case "notification": notified(f); return;
    case "task_reminder": myTasks.pushed(f).catch(() => {}); return;
    case "live": board = f.conversations; capacity = f.capacity || null; refreshQueue(); return;
    case "released": // resolved, closed, merged or pending: out of the queue now, not at the next poll
      board = board.filter((c) => c.conversation_id !== f.conversation_id);
      refreshQueue();
      break; // an open ticket view or chat tab may want it too
    case "reload": location.reload(); return;
    case "closed":
      root.replaceChildren(h("main", { class: "center" }, h("p", { role: "alert",
        text: "Your session ended. Reload the page to log in again." })));
      return;
    case "done":
      if (f.op === "accept" && takenTickets.has(f.conversation_id)) {
        openTicket(f.conversation_id, takenTickets.get(f.conversation_id));
        announce("Ticket accepted");
        return;
      }
      if (f.op === "accept" && f.conversation_id) announce("Chat accepted");
      if (f.op === "assign") { notice.textContent = "Ticket assigned."; wire.send({ type: "list_live" }); return; }
      if (f.op === "active_groups" || f.op === "presence") { confirmed(); return; }
      break;
    case "error":
      if (f.ref === "active_groups" || f.ref === "presence") {
        notice.textContent = `Could not change that: ${f.message}`;
        confirmed();
        return;
      }
      if (f.ref === "assign") {
        notice.textContent = `Could not assign it: ${f.message}`;
        wire.send({ type: "list_live" });
        return;
      }
      if (f.ref === "accept") {
        tabs.remove(`c${f.conversation_id}`);
        takenTickets.delete(f.conversation_id);
        announce(`Could not take it: ${f.message}`);
        notice.textContent = `Could not take the chat: ${f.message}`;
        return;
      }
      break;
  }
  const id = f.conversation_id;
  if (id != null && ticketViews.has(id)) ticketViews.get(id).handle(f);
  if (id == null || takenTickets.has(id)) return;
  // A message for a conversation without a tab: the hub granted it (accept, transfer, invite).
  if (!panes.has(id) && f.type === "message") {
    openChat(id, null, { now: false });
    announce("A chat was handed to you");
  }
  const pane = panes.get(id);
  if (pane) {
    pane.handle(f);
    if (f.type === "message" && f.author_kind === "contact") tabs.ping(`c${id}`);
  }
}

// --- rule notices: an automation rule's word for this agent, newest first ---------------------

const NOTICES_MAX = 20;
const noticeList = h("ul", { class: "notices", "aria-label": "Notifications" });
function notified(f) {
  noticeList.prepend(h("li", { class: "rule-notice" },
    h("button", { type: "button", class: "link", text: f.number,
      onclick: () => openTicket(f.conversation_id, f.number) }),
    " ", h("span", { text: f.text })));
  while (noticeList.children.length > NOTICES_MAX) noticeList.lastChild.remove();
  notice.textContent = `${f.number}: ${f.text}`;
}

// --- layout ----------------------------------------------------------------------------------------

const notice = h("p", { class: "notice", role: "status" });
const tickets = new Tickets({ groups: myGroups, agents: directory.agents.concat([me].map((m) => ({
  id: m.id, display_name: m.display_name }))), open: openTicket });
const ticketSearch = new TicketSearch({ groups: myGroups, agents: directory.agents.concat([{
  id: me.id, display_name: me.display_name }]), open: openTicket });
tickets.el.querySelector("h2").after(ticketSearch.el);
tabs.add("tickets", "Tickets", tickets.el, { select: true });
const visitors = new Visitors({ wire, onAccepted: (id) => openChat(id, null, { now: true }, true) });
tabs.add("visitors", "Visitors", visitors.el, { select: false });
const team = new Team({ wire, me, colleagues: directory.agents, open: openEarlierById,
  onUnread: (n) => tabs.count("team", n) });
tabs.add("team", "Team", team.el, { select: false });
const callLog = new CallLog({ groups: myGroups, open: openTicket });
const myCommitments = new MyCommitments({ open: openTicket });
const myTasks = new MyTasks({ open: openTicket, notice });
tabs.add("phone", "Log a call", callLog.el, { select: false });
const visitList = new VisitList({ agents: [...directory.agents, me], me, open: openTicket });
tabs.add("visits", "Field visits", visitList.el, { select: false });
root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Agent console" }),
    h("span", { class: "spacer" }), connection,
    h("a", { href: "/static/kb-editor.html", target: "_blank", text: "Knowledge base" }),
    h("span", { class: "me", text: me.display_name }), status,
    me.role === "admin" ? h("a", { href: "/static/admin.html", text: "Administration" }) : null,
    h("button", { type: "button", text: "Log out", onclick: logout })),
  h("p", { id: "refused", class: "refused", role: "alert", hidden: true }),
  h("div", { class: "layout" },
    h("aside", { class: "side", "aria-label": "Routing" },
      h("section", { "aria-labelledby": "groups-h" }, h("h2", { id: "groups-h", text: "My active groups" }),
        groupList, awayNote),
      h("section", { "aria-labelledby": "offers-h" }, h("h2", { id: "offers-h", text: "Offers" }),
        h("label", { class: "inline", for: "offer-alerts" }, alertsBox, " Sound and desktop alert"),
        alertsNote, offerList),
      h("section", { "aria-labelledby": "queue-h" }, h("h2", { id: "queue-h", text: "Queue" }), queueList),
      myCommitments.el, myTasks.el,
      h("section", { "aria-labelledby": "notices-h" },
        h("h2", { id: "notices-h", text: "Notifications" }), noticeList)),
    h("main", { id: "workspace", tabindex: "-1" }, notice, tabs.el)),
  h("span", { id: "app-ready", hidden: true }));
refreshQueue();
showAlertsNote();
tickets.refresh();
myCommitments.refresh();
myTasks.refresh();
visitList.refresh();
wire.connect();
setInterval(() => wire.send({ type: "list_live" }), LIVE_EVERY_MS);
setInterval(() => myCommitments.refresh().catch(() => {}), 60_000);
