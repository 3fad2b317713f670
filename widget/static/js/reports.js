// Reports page: a date range in the viewer's zone, group/agent filters, figures that drill down
// to their conversations, charts (vendored uPlot) each with a table view, and CSV downloads of
// the very rows the charts draw. Everything comes from /api/reports/*; nothing is computed here
// beyond formatting.

import uPlot from "../vendor/uPlot.esm.js";
import { api, get, post } from "./api.js";
import { ago, announce, clear, h } from "./dom.js";
import { logout, session } from "./login.js";
import { STATUS_LABELS } from "./status.js";
import { Tabs } from "./tabs.js";

const root = document.getElementById("app");
const me = await session(root, "Switchboard — reports");
const supervisor = me.role !== "agent";
const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const orNone = (p) => p.catch(() => []);
const [groups, agents] = await Promise.all([orNone(get("/api/groups")), orNone(get("/api/agents"))]);
const COLORS = ["#2f5bea", "#1d7a46", "#c77700", "#8a5cf6", "#c62828"];

const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const addDays = (d, n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
const today = new Date();

function field(label, input) {
  return h("label", {}, label, input);
}
const from = h("input", { type: "date", id: "from", value: iso(addDays(today, -29)), required: true });
const to = h("input", { type: "date", id: "to", value: iso(today), required: true });
const grain = h("select", { id: "group_by" }, ["hour", "day", "week", "month"].map((g) =>
  h("option", { value: g, text: g, selected: g === "day" })));
const group = h("select", { id: "group" }, h("option", { value: "", text: "All groups" }),
  groups.map((g) => h("option", { value: g.id, text: g.name })));
const agent = h("select", { id: "agent" }, h("option", { value: "", text: "All agents" }),
  agents.map((a) => h("option", { value: a.id, text: a.display_name })));
const compare = h("input", { type: "checkbox", id: "compare" });
const status = h("p", { class: "report-note", role: "status" });

function preset(label, days, by) {
  return h("button", { type: "button", text: label, onclick: () => {
    from.value = iso(addDays(today, 1 - days));
    to.value = iso(today);
    grain.value = by;
    load();
  } });
}

// The range as the API reads it: dates are midnights in tz, `to` exclusive (the day after).
function params(extra = {}) {
  const q = new URLSearchParams({ from: from.value, to: iso(addDays(new Date(`${to.value}T00:00`), 1)),
    tz, group_by: grain.value });
  if (group.value) q.set("group_id", group.value);
  if (agent.value) q.set("agent_id", agent.value);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

// --- formatting ------------------------------------------------------------------------------
const dur = (s) => (s == null ? "—" : ago(s));
const pct = (x) => (x == null ? "—" : `${Math.round(x * 1000) / 10}%`);
const num = (x) => (x == null ? "—" : String(Math.round(x * 100) / 100));
const label = (iso8601) => {
  const d = new Date(iso8601);
  return grain.value === "hour" ? d.toLocaleString([], { timeZone: tz, weekday: "short", hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { timeZone: tz, month: "short", day: "numeric", year: grain.value === "month" ? "numeric" : undefined });
};

function grid(caption, heads, rows) {
  return h("table", { class: "grid" }, caption ? h("caption", { text: caption }) : null,
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, rows.length ? rows.map((cells) => h("tr", {}, cells.map((c, i) =>
      i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c))))
      : h("tr", {}, h("td", { colspan: heads.length, class: "muted", text: "No data in this range." }))));
}

// --- charts ------------------------------------------------------------------------------------
// One uPlot chart and, under it, the same figures as a table (screen readers, exact values).
function chart(title, xs, xLabels, series, { time = true, bars = false, fmt = num, xAxis = {} } = {}) {
  const box = h("div", { class: "plot", role: "img", "aria-label": `${title}: chart; the table view below has the figures` });
  const figure = h("section", { class: "chart", "aria-label": title }, h("h3", { text: title }), box,
    h("details", {}, h("summary", { text: "Table view" }),
      grid(null, ["", ...series.map((s) => s.label)], xLabels.map((x, i) => [x, ...series.map((s) => fmt(s.values[i]))]))));
  requestAnimationFrame(() => {
    const width = Math.max(320, (box.clientWidth || 560) - 4);
    const opts = {
      width, height: 220, legend: { live: false },
      scales: { x: { time } },
      axes: [{ stroke: "#5d6575", grid: { stroke: "#eef1f7" }, ...xAxis },
        { stroke: "#5d6575", grid: { stroke: "#eef1f7" }, size: 56, values: (u, ticks) => ticks.map((t) => fmt(t)) }],
      series: [{ value: (u, v, i, idx) => (idx == null ? "" : xLabels[idx] ?? "") }, ...series.map((s, i) => ({
        label: s.label, stroke: s.color || COLORS[i], width: 2, value: (u, v) => fmt(v),
        fill: bars ? `${s.color || COLORS[i]}cc` : undefined,
        paths: bars ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined,
        points: { show: xs.length < 60 } }))],
    };
    if (time) opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), tz);
    new uPlot(opts, [xs, ...series.map((s) => s.values.map((v) => (v == null ? null : v)))], box);
  });
  return figure;
}

// --- drill-down ------------------------------------------------------------------------------
const tabs = new Tabs("Reports");

async function drill(url, what) {
  tabs.remove("drill");
  const note = h("p", { class: "muted", role: "status", text: "Loading…" });
  const body = h("div");
  tabs.add("drill", `Conversations: ${what}`, h("section", { "aria-label": `Conversations behind ${what}` },
    h("h2", { text: `The conversations behind “${what}”` }), note, body), { closable: true });
  try {
    const r = await get(url);
    note.textContent = `${r.items.length}${r.truncated ? "+ (the first 1000)" : ""} conversations`;
    const gname = new Map(groups.map((g) => [g.id, g.name]));
    const aname = new Map(agents.map((a) => [a.id, a.display_name]));
    body.append(grid(null, ["Number", "Status", "Channel", "Group", "Agent", "When", "Facts"],
      r.items.map((c) => [c.number, STATUS_LABELS[c.status] || c.status, c.channel,
        gname.get(c.group_id) || "", aname.get(c.assignee_id) || "—",
        new Date(c.at).toLocaleString([], { timeZone: tz }), String(c.facts)])));
    announce(`${r.items.length} conversations`);
  } catch (e) {
    note.textContent = `Could not load them: ${e.message}`;
  }
}

// A figure that opens its conversations (when the report gave a link for it).
function figure(text, links, kind, what) {
  const url = links && links[kind];
  return url ? h("button", { type: "button", class: "count", text, "aria-label": `${text} ${what}: show the conversations`,
    onclick: () => drill(url, what) }) : text;
}

const downloads = (...links) => h("div", { class: "downloads" }, links.map(([text, href]) =>
  h("a", { href, download: "", text })));

// --- the reports -----------------------------------------------------------------------------
const KPIS = [
  ["Created", "created", (t) => num(t.created), "created"],
  ["Resolved", "resolved", (t) => num(t.resolved), "resolved"],
  ["Abandoned in queue", "abandoned", (t) => num(t.abandoned), "abandoned"],
  ["Median wait", "assigned", (t) => dur(t.wait_median), "wait_median"],
  ["Median first response", "first_response", (t) => dur(t.first_response_median), "first_response_median"],
  ["90% first response within", "first_response", (t) => dur(t.first_response_p90), "first_response_p90"],
  ["Median resolution", "resolved", (t) => dur(t.resolution_median), "resolution_median"],
  ["SLA met", "sla_met", (t) => pct(t.sla_pct_met), "sla_pct_met"],
  ["CSAT (1-5)", "rating", (t) => num(t.csat_mean), "csat_mean"],
];

async function overview(panel) {
  const r = await get(`/api/reports/overview?${params(compare.checked ? { compare: "previous" } : {})}`);
  const t = r.totals;
  const prev = r.previous && r.previous.totals;
  const xs = r.series.map((p) => new Date(p.start).getTime() / 1000);
  const xl = r.series.map((p) => label(p.start));
  const col = (k, scale = 1) => r.series.map((p) => (p[k] == null ? null : p[k] / scale));
  clear(panel).append(
    h("div", { class: "kpis" }, KPIS.filter(([, kind]) => supervisor || kind !== "rating").map(([name, kind, show, key]) => {
      const value = show(t);
      const inner = [h("span", { class: "label", text: name }), h("span", { class: "value", text: value }),
        prev ? h("span", { class: "prev", text: `previous: ${show(prev)}` }) : null];
      const url = t.drilldown[kind];
      return url ? h("button", { type: "button", class: "kpi", "data-kpi": key, "aria-label": `${name} ${value}: show the conversations`,
        onclick: () => drill(url, name) }, inner) : h("div", { class: "kpi", "data-kpi": key }, inner);
    })),
    h("div", { class: "charts" },
      chart(`Conversations per ${grain.value}`, xs, xl, [
        { label: "Created", values: col("created") }, { label: "Resolved", values: col("resolved") },
        { label: "Abandoned", values: col("abandoned"), color: "#c62828" }]),
      chart(`First response (minutes) per ${grain.value}`, xs, xl, [
        { label: "Median", values: col("first_response_median", 60) },
        { label: "90th percentile", values: col("first_response_p90", 60), color: "#c77700" }]),
      chart(`Queue wait (minutes) per ${grain.value}`, xs, xl, [
        { label: "Median", values: col("wait_median", 60) },
        { label: "90th percentile", values: col("wait_p90", 60), color: "#c77700" }]),
      chart(`Resolution (hours) per ${grain.value}`, xs, xl, [
        { label: "Median", values: col("resolution_median", 3600) },
        { label: "90th percentile", values: col("resolution_p90", 3600), color: "#c77700" }])),
    downloads([`Download this chart's rows (CSV)`, `/api/reports/overview?${params({ format: "csv", table: "series" })}`],
      ["Export every conversation of the range (CSV)", `/api/reports/conversations.csv?${params()}`]));
}

const DIMENSIONS = {
  agents: ["Agent", (x) => x.agent || (x.agent_id == null ? "Unassigned" : `#${x.agent_id}`)],
  groups: ["Group", (x) => x.group || (x.group_id == null ? "No group" : `#${x.group_id}`)],
  channels: ["Channel", (x) => x.channel],
  topics: ["Topic", (x) => x.topic || "No topic"],
  organisations: ["Organisation", (x) => x.organisation || "No organisation"],
};

async function dimension(panel, name) {
  const r = await get(`/api/reports/${name}?${params()}`);
  const [head, who] = DIMENSIONS[name];
  const heads = [head, "Created", "Assigned", "Resolved", "Median wait", "Median first response",
    "90% first response", "Median resolution", "SLA met", ...(supervisor ? ["CSAT"] : [])];
  clear(panel).append(grid(`Per ${head.toLowerCase()}`, heads, r.rows.map((x) => [
    who(x), figure(num(x.created), x.drilldown, "created", `${who(x)}: created`),
    figure(num(x.assigned), x.drilldown, "assigned", `${who(x)}: assigned`),
    figure(num(x.resolved), x.drilldown, "resolved", `${who(x)}: resolved`),
    dur(x.wait_median), dur(x.first_response_median), dur(x.first_response_p90), dur(x.resolution_median),
    pct(x.sla_pct_met), ...(supervisor ? [num(x.csat_mean)] : [])])),
  downloads(["Download this table (CSV)", `/api/reports/${name}?${params({ format: "csv", table: "rows" })}`]));
}

async function csat(panel) {
  const r = await get(`/api/reports/csat?${params()}`);
  const by = r.distribution.by_rating;
  const ratings = ["1", "2", "3", "4", "5"];
  clear(panel).append(
    h("div", { class: "charts" }, chart("Ratings", [1, 2, 3, 4, 5], ratings.map((k) => `${k} ★`),
      [{ label: "Conversations", values: ratings.map((k) => by[k]) }],
      { time: false, bars: true, xAxis: { splits: () => [1, 2, 3, 4, 5], values: (u, t) => t.map((v) => `${v} ★`) } })),
    h("p", { text: `${r.distribution.count} rated, mean ${num(r.distribution.mean)}, satisfied (4-5) ${pct(r.distribution.satisfied)}` }),
    grid("Comments", ["Rating", "Comment", "When"], r.comments.map((c) => [String(c.rating), c.comment,
      new Date(c.at).toLocaleString([], { timeZone: tz })])));
}

async function sla(panel) {
  const r = await get(`/api/reports/sla?${params()}`);
  clear(panel).append(grid("Service-level targets", ["Target", "Met in time", "Breached", "% met"],
    r.targets.map((x) => [x.target.replace("_", " "), String(x.met),
      figure(String(x.breached), r.totals.drilldown, "sla_breached", `${x.target} breaches`), pct(x.pct_met)])),
  downloads(["Download (CSV)", `/api/reports/sla?${params({ format: "csv", table: "targets" })}`]));
}

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

async function forecast(panel) {
  const q = new URLSearchParams({ tz, weeks: "4", handle_s: "300", target_wait_s: "30", level: "80" });
  if (group.value) q.set("group_id", group.value);
  const r = await get(`/api/reports/forecast?${q}`);
  const xl = r.hours.map((x) => `${DAYS[Math.floor(x.hour_of_week / 24)]} ${String(x.hour).padStart(2, "0")}:00`);
  // One tick per day, at its midnight.
  const xAxis = { splits: () => [0, 24, 48, 72, 96, 120, 144], values: (u, t) => t.map((v) => DAYS[v / 24] || "") };
  clear(panel).append(
    h("p", { class: "report-note", text: `Expected arrivals per hour of next week: the mean of the last ${r.weeks} weeks (${r.arrivals} arrivals). Agents needed so that ${r.level}% wait at most ${r.target_wait_s}s at ${Math.round(r.handle_s / 60)} min per contact (Erlang C).` }),
    h("div", { class: "charts" },
      chart("Expected arrivals per hour", r.hours.map((x) => x.hour_of_week), xl,
        [{ label: "Expected arrivals", values: r.hours.map((x) => x.expected) }], { time: false, bars: true, xAxis }),
      chart("Agents needed per hour", r.hours.map((x) => x.hour_of_week), xl,
        [{ label: "Agents", values: r.hours.map((x) => x.agents), color: "#1d7a46" }], { time: false, xAxis })));
}

async function desks(panel) {
  const r = await get("/api/reports/desks");
  clear(panel).append(grid("Open now, per responsible and status", ["Responsible", ...r.statuses.map((s) => STATUS_LABELS[s] || s), "Total"],
    r.rows.map((x) => [x.agent || "Unassigned", ...r.statuses.map((s) => String(x[s])), String(x.total)])));
}

async function contracts(panel) {
  const r = await get(`/api/reports/contracts?${new URLSearchParams({ tz, days: "30" })}`);
  const row = (x) => [x.name, x.organisation, x.kind, `${x.starts_on} – ${x.ends_on || "open"}`,
    x.hours_contracted == null ? "—" : num(x.hours_contracted), num(x.hours_used),
    x.hours_left == null ? "—" : num(x.hours_left)];
  const heads = ["Contract", "Organisation", "Kind", "Runs", "Hours contracted", "Hours used", "Hours left"];
  clear(panel).append(grid(`Ending within ${r.days} days`, heads, r.expiring.map(row)),
    grid("All contracts", heads, r.rows.map(row)));
}

// My scheduled mails: the worker sends the overview of each past day or week (my scope).
async function mails(panel) {
  const rows = await get("/api/reports/schedules");
  const error = h("p", { class: "error", role: "alert" });
  const period = h("select", { id: "mail-period" }, h("option", { value: "daily", text: "daily (yesterday)" }),
    h("option", { value: "weekly", text: "weekly (last Monday to Sunday)" }));
  const to = h("input", { id: "mail-to", type: "text", size: 40, placeholder: "boss@example.com, team@example.com" });
  const add = h("form", { class: "filters", "aria-label": "Mail this report", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await post("/api/reports/schedules", { period: period.value, tz,
        recipients: to.value.split(/[,\s]+/).filter(Boolean), ...(group.value ? { group_id: Number(group.value) } : {}) });
      await mails(panel);
    } catch (err) { error.textContent = err.message; }
  } }, field("Every", period), field("To", to), h("button", { class: "primary", type: "submit", text: "Mail this report" }));
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  clear(panel).append(h("p", { class: "report-note", text: `The overview of each past day or week in ${tz}, as you may see it, mailed by the desk.` }),
    add, error, grid("My scheduled mails", ["Every", "To", "Group", "Last sent for", ""], rows.map((x) => [
      x.period, x.recipients.join(", "), groupName.get(x.group_id) || "all", x.last_period || "not yet",
      h("button", { type: "button", text: "Stop", "aria-label": `Stop the ${x.period} mail to ${x.recipients.join(", ")}`,
        onclick: async () => { await api("DELETE", `/api/reports/schedules/${x.id}`); await mails(panel); } })])));
}

const SECTIONS = [
  ["overview", "Overview", overview], ...Object.keys(DIMENSIONS).map((n) => [n, n[0].toUpperCase() + n.slice(1), (p) => dimension(p, n)]),
  ...(supervisor ? [["csat", "CSAT", csat]] : []), ["sla", "SLA", sla],
  ...(supervisor ? [["forecast", "Staffing forecast", forecast]] : []), ["desks", "Help desks", desks],
  ...(supervisor ? [["contracts", "Contracts", contracts]] : []), ["mails", "Scheduled mails", mails],
];
const panels = new Map(SECTIONS.map(([id, name]) => [id, h("div", { class: "report", "data-report": id, "aria-label": name })]));
for (const [id, name] of SECTIONS) tabs.add(id, name, panels.get(id), { select: id === "overview" });

let loads = 0;
async function load() {
  const mine = ++loads;
  status.textContent = "Loading…";
  const failed = [];
  await Promise.all(SECTIONS.map(([id, name, render]) => render(panels.get(id)).catch((e) => {
    failed.push(name);
    clear(panels.get(id)).append(h("p", { class: "error", role: "alert", text: `Could not load: ${e.message}` }));
  })));
  if (mine !== loads) return;
  status.textContent = failed.length ? `Could not load ${failed.join(", ")}.`
    : `${from.value} to ${to.value} (${tz}), by ${grain.value}.`;
  document.getElementById("workspace").dataset.loaded = String(mine);
}

const form = h("form", { class: "range", "aria-label": "Date range and filters", onsubmit: (e) => { e.preventDefault(); load(); } },
  field("From", from), field("To (inclusive)", to), field("Group by", grain), field("Group", group),
  supervisor ? field("Agent", agent) : null,
  h("label", { class: "check" }, compare, "Compare with the previous period"),
  h("button", { class: "primary", type: "submit", text: "Show" }),
  h("span", { class: "presets" }, preset("Today", 1, "hour"), preset("7 days", 7, "day"), preset("30 days", 30, "day")));

root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Reports" }),
    h("span", { class: "spacer" }), h("span", { class: "me", text: me.display_name }),
    supervisor ? h("a", { href: "/static/supervisor.html", text: "Supervisor view" }) : null,
    h("a", { href: "/static/console.html", text: "Agent console" }),
    h("button", { type: "button", text: "Log out", onclick: logout })),
  form,
  h("main", { id: "workspace", class: "wide", tabindex: "-1" }, status, tabs.el),
  h("span", { id: "app-ready", hidden: true }));
await load();
