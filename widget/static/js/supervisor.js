// Supervisor view: live board of agents and queues, live chats to monitor (silently), whisper to
// the agent or join visibly, and the routing decision log of any conversation.

import { get } from "./api.js";
import { ChatPane } from "./chatpane.js";
import { ago, announce, clear, h } from "./dom.js";
import { logout, session } from "./login.js";
import { Tabs } from "./tabs.js";
import { Wire } from "./wire.js";

const LIVE_EVERY_MS = 3000;
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
const presence = new Map(); // agent id -> online | away (presence events between two boards)
const panes = new Map();
let live = [];
let board = null; // the hub's `board` frame: agents (status, load, active groups) and queues

const tabs = new Tabs("Board and conversations");
const connection = h("span", { class: "conn", role: "status", text: "Connecting…" });
const wire = new Wire("/ws/supervisor", { onFrame, onLive });
const agentRows = h("tbody");
const queueRows = h("tbody");
const chatRows = h("tbody");

function table(caption, heads, body) {
  return h("table", { class: "grid" }, h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col", text: t })))), body);
}

const names = (ids) => ids.map((g) => groupName.get(g) || `#${g}`).join(", ") || "none";

// Rows from the hub's board when it has answered, else from the records and the live list.
function agentView() {
  if (board) {
    return board.agents.map((a) => ({ id: a.agent_id, name: a.name,
      status: presence.get(a.agent_id) && a.status !== "offline" ? presence.get(a.agent_id) : a.status,
      load: `${a.chats} / ${a.max_chats} chats, ${a.tickets} / ${a.max_tickets} tickets`,
      groups: names(a.active_groups) }));
  }
  return agents.filter((a) => a.role !== "admin" && a.is_active).map((a) => ({
    id: a.id, name: a.display_name, status: presence.get(a.id) || "—",
    load: `${live.filter((c) => c.agent_name === a.display_name && c.status !== "queued").length} / ${a.chat_capacity} chats`,
    groups: names(a.group_ids) }));
}

function queueView() {
  if (board) {
    return board.queues.map((q) => ({ id: q.group_id, length: q.length,
      oldest: q.oldest_wait_s == null ? null : q.oldest_wait_s }));
  }
  return groups.map((g) => {
    const waiting = live.filter((c) => c.group_id === g.id && c.status === "queued");
    return { id: g.id, length: waiting.length,
      oldest: waiting.length ? Math.max(...waiting.map((c) => c.waiting_s)) : null };
  });
}

function render() {
  clear(agentRows).append(...agentView().map((a) => h("tr", { "data-agent": a.id },
    h("th", { scope: "row", text: a.name }),
    h("td", {}, h("span", { class: "badge", "data-status": a.status, text: a.status })),
    h("td", { text: a.load }), h("td", { text: a.groups }))));
  const policy = new Map(groups.map((g) => [g.id, g.policy]));
  clear(queueRows).append(...queueView().map((q) => h("tr", { "data-group": q.id },
    h("th", { scope: "row", text: groupName.get(q.id) || `#${q.id}` }),
    h("td", { text: String(q.length) }), h("td", { text: q.oldest == null ? "—" : ago(q.oldest) }),
    h("td", { text: policy.get(q.id) || "" }))));
  clear(chatRows).append(...live.map((c) => h("tr", { "data-conversation": c.conversation_id },
    h("th", { scope: "row", text: c.number }),
    h("td", { text: groupName.get(c.group_id) || "" }),
    h("td", { text: c.agent_name || "—" }),
    h("td", {}, h("span", { class: "badge", "data-status": c.status, text: c.status })),
    h("td", { text: ago(c.waiting_s) }),
    h("td", { class: "row" },
      h("button", { type: "button", text: "Monitor", "aria-label": `Monitor ${c.number}`,
        onclick: () => monitor(c.conversation_id, c.number) }),
      h("button", { type: "button", text: "Routing log", "aria-label": `Routing log of ${c.number}`,
        onclick: () => decisions(c.conversation_id, c.number) })))));
  if (!live.length) chatRows.append(h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No live chats." })));
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
  wire.send({ type: "board" });
}

function onFrame(f) {
  switch (f.type) {
    case "live": live = f.conversations; render(); return;
    case "board": board = f; presence.clear(); render(); return;
    case "presence": presence.set(f.agent_id, f.status); render(); return;
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

tabs.add("board", "Live board", h("div", { class: "board" },
  table("Agents", ["Agent", "Status", "Load", "Active groups"], agentRows),
  table("Queues", ["Group", "Waiting", "Oldest wait", "Policy"], queueRows),
  table("Live chats", ["Number", "Group", "Agent", "Status", "Age", "Actions"], chatRows)), { select: true });
root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Supervisor view" }),
    h("span", { class: "spacer" }), connection, h("span", { class: "me", text: me.display_name }),
    h("a", { href: "/static/console.html", text: "Agent console" }),
    h("button", { type: "button", text: "Log out", onclick: logout })),
  h("main", { id: "workspace", class: "wide", tabindex: "-1" }, tabs.el),
  h("span", { id: "app-ready", hidden: true }));
render();
wire.connect();
setInterval(refresh, LIVE_EVERY_MS);
