// Supervisor view: live board of agents and queues with today's figures, live chats to monitor
// (silently), whisper to the agent or join visibly, and the routing decision log of any
// conversation.

import { get } from "./api.js";
import { ChatPane } from "./chatpane.js";
import { ago, announce, clear, h } from "./dom.js";
import { logout, session } from "./login.js";
import { STATUS_LABELS } from "./status.js";
import { Tabs } from "./tabs.js";
import { explainRefusal, Wire } from "./wire.js";

// The hub pushes a fresh board whenever routing moves (we follow it) and the view asks again on
// every agent's presence change; the poll only catches what no event tells (an agent's console
// closing on another process). Waits age on the page between boards.
const LIVE_EVERY_MS = 5000;
const TICK_MS = 1000;
const root = document.getElementById("app");
const me = await session(root, "Switchboard — supervisor view");
if (me.role === "agent") {
  root.replaceChildren(h("main", { class: "center" }, h("p", { role: "alert",
    text: "The supervisor view is for supervisors and admins. " }),
  h("a", { href: "/static/console.html", text: "Open the agent console" })));
  throw new Error("not a supervisor");
}
const [groups, agents] = await Promise.all([get("/api/groups"), get("/api/agents")]);
const groupName = new Map(groups.map((g) => [g.id, g.name]));
const agentName = new Map(agents.map((a) => [a.id, a.display_name]));
const panes = new Map();
let live = [];
let liveAt = 0; // when `live` arrived (its waits age from there)
let board = null; // the hub's `board` frame: agents (status, load, active groups) and queues
let boardAt = 0;
let asked = 0; // when a board request went out (0: none on its way)
let askAgain = false; // something changed while one was on its way

const tabs = new Tabs("Board and conversations");
const connection = h("span", { class: "conn", role: "status", text: "Connecting…" });
const wire = new Wire("/ws/supervisor", { onFrame, onLive, onRefused: (n) => explainRefusal(wire, n, connection) });
const kpis = h("div", { class: "kpis live-kpis", role: "group", "aria-label": "Today" });
const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
let today = null; // /api/reports/today: the day's figures so far
let todayDue = 0; // a fetch is scheduled
const agentRows = h("tbody");
const queueRows = h("tbody");
const chatRows = h("tbody");

function table(caption, heads, body) {
  return h("table", { class: "grid" }, h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col", text: t })))), body);
}

const names = (ids) => ids.map((g) => groupName.get(g) || `#${g}`).join(", ") || "none";

const policy = new Map(groups.map((g) => [g.id, g.policy]));
const since = (at) => (Date.now() - at) / 1000;

function loading(body, cols) {
  clear(body).append(h("tr", {}, h("td", { colspan: cols, class: "muted", text: "Loading…" })));
}

// Agents and queues come only from the hub's board (the router's live state), never guessed.
function renderBoard() {
  if (!board) { loading(agentRows, 4); loading(queueRows, 4); return; }
  clear(agentRows).append(...board.agents.map((a) => h("tr", { "data-agent": a.agent_id },
    h("th", { scope: "row", text: a.name }),
    h("td", {}, h("span", { class: "badge", "data-status": a.status, text: a.status })),
    h("td", { class: "load", text: `${a.chats} / ${a.max_chats} chats, ${a.tickets} / ${a.max_tickets} tickets` }),
    h("td", { text: names(a.active_groups) }))));
  if (!board.agents.length) agentRows.append(h("tr", {}, h("td", { colspan: 4, class: "muted", text: "No agents in your groups." })));
  clear(queueRows).append(...board.queues.map((q) => h("tr", { "data-group": q.group_id },
    h("th", { scope: "row", text: groupName.get(q.group_id) || `#${q.group_id}` }),
    h("td", { class: "length", text: String(q.length) }),
    h("td", { class: "oldest", "data-wait": q.oldest_wait_s ?? "",
      text: q.oldest_wait_s == null ? "—" : ago(q.oldest_wait_s + since(boardAt)) }),
    h("td", { text: policy.get(q.group_id) || "" }))));
}

// Waiting now, the longest wait and the agents with room come from the router's board; the
// day's figures from the reports, fetched again after each board (routing moved, so did they).
function askToday() {
  if (todayDue) return;
  todayDue = setTimeout(async () => {
    try { today = await get(`/api/reports/today?tz=${encodeURIComponent(tz)}`); } catch { /* the next board asks again */ }
    todayDue = 0;
    renderKpis();
  }, 300);
}

function renderKpis() {
  const queues = board ? board.queues : [];
  const oldest = Math.max(-1, ...queues.map((q) => (q.oldest_wait_s == null ? -1 : q.oldest_wait_s)));
  const free = board ? board.agents.filter((a) => a.status === "online" && a.chats < a.max_chats).length : null;
  const t = today || {};
  const pct = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);
  const dur = (x) => (x == null ? "—" : ago(x));
  const cards = [
    ["waiting", "Waiting now", board ? String(queues.reduce((n, q) => n + q.length, 0)) : "…"],
    ["longest", "Longest wait", oldest < 0 ? "—" : ago(oldest + since(boardAt))],
    ["available", "Available agents", free == null ? "…" : String(free)],
    ["handled", "Handled today", today ? String(t.handled) : "…"],
    ["wait", "Median wait today", dur(t.wait_median)],
    ["first_response", "Median first response today", dur(t.first_response_median)],
    ["sla", "SLA met today", pct(t.sla_pct_met)],
    ["csat", "CSAT today", t.csat_mean == null ? "—" : String(Math.round(t.csat_mean * 10) / 10)],
    ["abandoned", "Abandoned today", today ? String(t.abandoned) : "…"],
  ];
  clear(kpis).append(...cards.map(([key, name, value]) => h("div", { class: "kpi", "data-kpi": key },
    h("span", { class: "label", text: name }), h("span", { class: "value", text: value }))));
}

// Between two boards the oldest waits keep counting (text only: no control is replaced).
function tick() {
  for (const cell of queueRows.querySelectorAll("td.oldest[data-wait]")) {
    if (cell.dataset.wait !== "") cell.textContent = ago(Number(cell.dataset.wait) + since(boardAt));
  }
  for (const cell of chatRows.querySelectorAll("td.age[data-age]")) {
    cell.textContent = ago(Number(cell.dataset.age) + since(liveAt));
  }
  const longest = kpis.querySelector('[data-kpi="longest"] .value');
  const oldest = board ? Math.max(-1, ...board.queues.map((q) => (q.oldest_wait_s == null ? -1 : q.oldest_wait_s))) : -1;
  if (longest && oldest >= 0) longest.textContent = ago(oldest + since(boardAt));
}

const KIND = { chat: "chat", email: "email ticket", portal: "web ticket", phone: "call" };

function slaText(iso) {
  if (!iso) return "—";
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  return s >= 0 ? `due in ${ago(s)}` : `overdue by ${ago(-s)}`;
}

// Chats and tickets being routed or worked, side by side; only a chat can be monitored live.
function renderLive() {
  clear(chatRows).append(...live.map((c) => h("tr", { "data-conversation": c.conversation_id,
    "data-channel": c.channel || "chat" },
    h("th", { scope: "row", text: c.number }),
    h("td", {}, h("span", { class: "badge", "data-kind": c.channel || "chat", text: KIND[c.channel] || "chat" })),
    h("td", { text: groupName.get(c.group_id) || "" }),
    h("td", { text: c.agent_name || "—" }),
    h("td", {}, h("span", { class: "badge", "data-status": c.status, text: STATUS_LABELS[c.status] || c.status })),
    h("td", { class: "age", "data-age": c.waiting_s, text: ago(c.waiting_s + since(liveAt)) }),
    h("td", { class: c.sla_due && new Date(c.sla_due) < new Date() ? "sla late" : "sla", text: slaText(c.sla_due) }),
    h("td", { class: "row" },
      (c.channel || "chat") === "chat" ? h("button", { type: "button", text: "Monitor",
        "aria-label": `Monitor ${c.number}`, onclick: () => monitor(c.conversation_id, c.number) }) : null,
      h("button", { type: "button", text: "Routing log", "aria-label": `Routing log of ${c.number}`,
        onclick: () => decisions(c.conversation_id, c.number) })))));
  if (!live.length) chatRows.append(h("tr", {}, h("td", { colspan: 8, class: "muted", text: "No live chats or tickets." })));
}

// Silent monitoring is not stored, so after a reconnect the pane monitors again; conversations
// I joined are resumed like an agent's.
function monitor(id, number, watch = { rejoin: () => ({ type: "monitor", conversation_id: id }), now: true }) {
  if (panes.has(id)) { tabs.select(`c${id}`); return; }
  const pane = new ChatPane({ id, number, wire, mode: "supervisor", watch,
    onGone: () => tabs.remove(`c${id}`), onNumber: (n) => tabs.rename(`c${id}`, `Monitoring ${n}`) });
  panes.set(id, pane);
  tabs.add(`c${id}`, `Monitoring ${number}`, pane.el, { closable: true, onClose: () => {
    wire.send({ type: "unmonitor", conversation_id: id });
    wire.unwatch(id);
    panes.delete(id);
  } });
}

async function decisions(id, number) {
  const list = h("ol", { class: "decisions" });
  const note = h("p", { class: "muted", role: "status", text: "Loading…" });
  tabs.add(`d${id}`, `Routing ${number}`, h("section", { "aria-label": `Routing decisions for ${number}` },
    h("h2", { text: `Why did ${number} go where it went?` }), note, list), { closable: true });
  try {
    const rows = await get(`/api/conversations/${id}/decisions`);
    note.textContent = rows.length ? "" : "No routing decisions recorded yet.";
    list.append(...rows.map((d) => {
      const c = d.candidates || {};
      const cands = Array.isArray(c.candidates) ? c.candidates : [];
      return h("li", { class: "card" },
        h("p", {}, h("strong", { text: d.action }), ` ${new Date(d.created_at).toLocaleTimeString()} → `,
          h("span", { text: d.agent_id ? agentName.get(d.agent_id) || `#${d.agent_id}` : "nobody" })),
        h("p", { text: d.reason }),
        c.policy ? h("p", { class: "muted", text: `Policy: ${c.policy}` }) : null,
        cands.length ? table("Candidates", ["Agent", "Eligible", "Why", "Load"], h("tbody", {},
          cands.map((x) => h("tr", {}, h("th", { scope: "row", text: agentName.get(x.agent_id) || `#${x.agent_id}` }),
            h("td", { text: x.eligible ? "yes" : "no" }), h("td", { text: `${x.reason}${x.detail ? ` (${x.detail})` : ""}` }),
            h("td", { text: `${x.load} / ${x.capacity}` }))))) : null);
    }));
  } catch (e) {
    note.textContent = `Could not load decisions: ${e.message}`;
  }
}

function onLive(up) {
  connection.textContent = up ? "Connected" : "Reconnecting…";
  connection.dataset.live = String(up);
  if (up) refresh();
}

function refresh() {
  wire.send({ type: "list_live" });
  askBoard();
}

// One request at a time: a burst of presence changes costs at most two boards.
function askBoard() {
  if (asked && Date.now() - asked < LIVE_EVERY_MS) { askAgain = true; return; }
  askAgain = false;
  if (wire.send({ type: "board", follow: true })) asked = Date.now();
}

function onFrame(f) {
  switch (f.type) {
    case "live": live = f.conversations; liveAt = Date.now(); renderLive(); return;
    case "released": live = live.filter((c) => c.conversation_id !== f.conversation_id); renderLive(); return;
    case "board":
      // A board nobody asked for was pushed because routing moved: so did the live chats.
      if (!asked) wire.send({ type: "list_live" });
      board = f;
      boardAt = Date.now();
      asked = 0;
      renderBoard();
      renderKpis();
      askToday();
      if (askAgain) askBoard();
      return;
    case "presence": askBoard(); return;
    case "reload": location.reload(); return;
    case "closed":
      root.replaceChildren(h("main", { class: "center" }, h("p", { role: "alert",
        text: "Your session ended. Reload the page to log in again." })));
      return;
    case "welcome":
      // Conversations I joined or was invited to before this connection: follow them again.
      for (const id of f.conversations) if (!panes.has(id)) monitor(id, `#${id}`, { now: true });
      return;
  }
  const pane = panes.get(f.conversation_id);
  if (pane) {
    pane.handle(f);
    if (f.type === "done" && f.op === "join") announce("Joined the chat");
  }
}

tabs.add("board", "Live board", h("div", { class: "board" }, kpis,
  table("Agents", ["Agent", "Status", "Load", "Active groups"], agentRows),
  table("Queues", ["Group", "Waiting", "Oldest wait", "Policy"], queueRows),
  table("Live chats and tickets", ["Number", "Kind", "Group", "Agent", "Status", "Age", "SLA", "Actions"],
    chatRows)), { select: true });
root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Supervisor view" }),
    h("span", { class: "spacer" }), connection, h("span", { class: "me", text: me.display_name }),
    h("a", { href: "/static/reports.html", text: "Reports" }),
    h("a", { href: "/static/console.html", text: "Agent console" }),
    h("button", { type: "button", text: "Log out", onclick: logout })),
  h("p", { id: "refused", class: "refused", role: "alert", hidden: true }),
  h("main", { id: "workspace", class: "wide", tabindex: "-1" }, tabs.el),
  h("span", { id: "app-ready", hidden: true }));
renderBoard();
renderKpis();
renderLive();
wire.connect();
setInterval(refresh, LIVE_EVERY_MS);
setInterval(tick, TICK_MS);
