// Knowledge-base editor for agents and admins: a site's articles by topic, status, audience
// and language; one article open at a time (kb-article.js). Admins manage the topics. Same
// session and CSRF token as the console (login.js, api.js).

import { del, get, patch, post, put } from "./api.js";
import { announce, clear, h } from "./dom.js";
import { ArticleEditor } from "./kb-article.js";
import { KnowledgeReport } from "./kb-report.js";
import { logout, session } from "./login.js";

const root = document.getElementById("app");
const me = await session(root, "Switchboard — knowledge base");
const [sites, agents] = await Promise.all([get("/api/kb/sites"), get("/api/agents")]);
const names = new Map([...agents.map((a) => [a.id, a.display_name]), [me.id, me.display_name]]);
const admin = me.role === "admin";
const STATUSES = ["draft", "published", "archived"];

let site = sites[0] || null;
let topics = [];
let articles = [];
const filter = { topic: "all", status: "", audience: "", language: "", text: "" };

const notice = h("p", { class: "notice", role: "status" });
const topicList = h("ul", { class: "kb-topics", "aria-label": "Topics" });
const topicForm = admin ? newTopicForm() : null;
const listBox = h("section", { class: "kb-list", "aria-labelledby": "kb-list-h" });
const editor = new ArticleEditor({ site, topics, names, onChange: () => refresh(),
  onOpen: (target) => openArticle(target), onClose: () => showList() });
const report = new KnowledgeReport({ onWrite: (title) => openArticle({ title }),
  onOpen: (id) => openArticle(id), onClose: () => showList() });
const main = h("main", { id: "workspace", tabindex: "-1", class: "kb-main" }, notice, listBox,
  editor.el, report.el);

// One view at a time in the main area: the list (or the settings), an article, the report.
function view(which) {
  listBox.hidden = which !== listBox;
  editor.el.hidden = which !== editor.el;
  report.el.hidden = which !== report.el;
}

// --- topics ------------------------------------------------------------------------------------

function counted(pick) {
  return articles.filter(pick).length;
}

function topicItem(key, label, count, t) {
  const item = h("li", { "data-topic": key },
    h("button", { type: "button", class: "kb-topic", "aria-pressed": String(filter.topic === key),
      onclick: () => { filter.topic = key; showList(); } },
    h("span", { text: label }), h("span", { class: "count", text: String(count) })));
  if (admin && t) {
    item.append(h("span", { class: "kb-topic-tools" },
      h("button", { type: "button", class: "link", text: "Rename", "aria-label": `Rename ${t.name}`,
        onclick: () => renameForm(item, t) }),
      h("button", { type: "button", class: "link", text: "Delete", "aria-label": `Delete ${t.name}`,
        onclick: () => deleteTopic(t) })));
  }
  return item;
}

function showTopics() {
  clear(topicList).append(
    topicItem("all", "All articles", articles.length),
    ...topics.map((t) => topicItem(String(t.id), t.name, counted((a) => a.topic_id === t.id), t)),
    topicItem("none", "Without a topic", counted((a) => a.topic_id == null)));
}

function newTopicForm() {
  const name = h("input", { id: "kb-new-topic", maxlength: 120, required: true, placeholder: "New topic" });
  return h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    await attempt(async () => {
      await post("/api/kb/topics", { site_id: site.site_id, name: name.value, position: topics.length });
      name.value = "";
      await refresh();
      announce("Topic added");
    });
  } }, h("label", { for: "kb-new-topic", class: "sr-only", text: "New topic" }), name,
  h("button", { type: "submit", text: "Add" }));
}

function renameForm(item, t) {
  const name = h("input", { value: t.name, maxlength: 120, "aria-label": `New name for ${t.name}` });
  clear(item).append(h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    await attempt(async () => { await patch(`/api/kb/topics/${t.id}`, { name: name.value }); await refresh(); });
  } }, name, h("button", { type: "submit", text: "Save" }),
  h("button", { type: "button", class: "link", text: "Cancel", onclick: () => showTopics() })));
  name.focus();
}

async function deleteTopic(t) {
  const n = counted((a) => a.topic_id === t.id);
  if (n && !confirm(`Delete “${t.name}”? Its ${n} article(s) stay, without a topic.`)) return;
  await attempt(async () => { await del(`/api/kb/topics/${t.id}`); await refresh(); });
}

// --- the list ------------------------------------------------------------------------------------

function select(id, label, options, key) {
  const el = h("select", { id, "aria-label": label },
    h("option", { value: "", text: label }), options.map(([v, t]) => h("option", { value: v, text: t,
      selected: filter[key] === v })));
  el.addEventListener("change", () => { filter[key] = el.value; showRows(); });
  return el;
}

const rowsBox = h("tbody");

function shown() {
  const text = filter.text.trim().toLowerCase();
  return articles.filter((a) => (filter.topic === "all" || (filter.topic === "none" ? a.topic_id == null
    : a.topic_id === Number(filter.topic)))
    && (!filter.status || a.status === filter.status) && (!filter.audience || a.audience === filter.audience)
    && (!filter.language || a.language === filter.language)
    && (!text || a.title.toLowerCase().includes(text) || a.tags.some((t) => t.includes(text))));
}

function showRows() {
  const topicName = new Map(topics.map((t) => [t.id, t.name]));
  const rows = shown().map((a) => h("tr", { "data-article": a.id },
    h("td", {}, h("button", { type: "button", class: "link", text: a.title, onclick: () => openArticle(a.id) })),
    h("td", { text: a.language }),
    h("td", {}, h("span", { class: "badge", "data-status": a.status, text: a.status }),
      a.published_revision != null && a.revision !== a.published_revision
        ? h("span", { class: "badge waiting", text: "changes waiting" }) : null),
    h("td", {}, h("span", { class: "badge", "data-audience": a.audience, text: a.audience })),
    h("td", { text: topicName.get(a.topic_id) || "—" }),
    h("td", { class: "muted", text: a.updated_at ? new Date(a.updated_at).toLocaleDateString() : "" })));
  clear(rowsBox).append(...rows);
  if (!rows.length) rowsBox.append(h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No articles match." })));
}

function showList() {
  view(listBox);
  showTopics();
  const text = h("input", { type: "search", id: "kb-filter", placeholder: "Title or tag", value: filter.text,
    "aria-label": "Filter by title or tag" });
  text.addEventListener("input", () => { filter.text = text.value; showRows(); });
  const current = filter.topic === "all" ? "All articles" : filter.topic === "none" ? "Without a topic"
    : (topics.find((t) => String(t.id) === filter.topic) || {}).name;
  listBox.replaceChildren(
    h("div", { class: "row" }, h("h2", { id: "kb-list-h", text: current || "Articles" }), h("span", { class: "spacer" }),
      h("button", { type: "button", class: "primary", text: "New article", onclick: () => openArticle(null) })),
    h("div", { class: "filters" }, text,
      select("kb-f-status", "Any status", STATUSES.map((s) => [s, s]), "status"),
      select("kb-f-audience", "Any audience", [["public", "public"], ["internal", "internal"]], "audience"),
      select("kb-f-language", "Any language", site.languages.map((l) => [l, l]), "language")),
    h("table", { class: "grid kb-table" },
      h("thead", {}, h("tr", {}, ["Title", "Language", "Status", "Audience", "Topic", "Updated"].map((t) => h("th", { text: t })))),
      rowsBox));
  showRows();
}

// --- the site's settings (admins): languages, who publishes, synonyms ---------------------------

function settingsForm() {
  const langs = h("input", { id: "kb-s-languages", value: site.languages.join(", ") });
  const fallback = h("select", { id: "kb-s-default" }, site.languages.map((l) => h("option", {
    value: l, text: l, selected: l === site.default_language })));
  const agentsPublish = h("input", { type: "checkbox", id: "kb-s-publish", checked: site.agents_publish });
  const synonyms = h("textarea", { id: "kb-s-synonyms", rows: 8 });
  synonyms.value = site.synonyms.map((g) => g.join(", ")).join("\n");
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "kb-form kb-settings", "aria-labelledby": "kb-s-h", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const saved = await put(`/api/kb/sites/${site.site_id}`, {
        languages: langs.value.split(",").map((l) => l.trim().toLowerCase()).filter(Boolean),
        default_language: fallback.value, agents_publish: agentsPublish.checked,
        synonyms: synonyms.value.split("\n").map((line) => line.split(",").map((w) => w.trim())
          .filter(Boolean)).filter((g) => g.length) });
      Object.assign(site, saved);
      announce("Settings saved");
      showList();
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h("div", { class: "row" }, h("button", { type: "button", class: "link", text: "← All articles", onclick: () => showList() }),
    h("h2", { id: "kb-s-h", text: `Help centre settings: ${site.name}` })),
  h("div", { class: "kb-fields" },
    h("div", { class: "kb-field" }, h("label", { for: "kb-s-languages", text: "Languages" }), langs,
      h("span", { class: "hint", text: "comma-separated tags such as en, de, pt-br" })),
    h("div", { class: "kb-field" }, h("label", { for: "kb-s-default", text: "Default language (the fallback)" }), fallback)),
  h("label", { class: "inline", for: "kb-s-publish" }, agentsPublish,
    " Agents publish too (off: agents propose, admins publish)"),
  h("div", { class: "kb-field" }, h("label", { for: "kb-s-synonyms", text: "Synonyms" }), synonyms,
    h("span", { class: "hint", text: "one group per line, words or phrases that mean the same, comma-separated" })),
  error, h("div", { class: "row" }, h("button", { type: "submit", class: "primary", text: "Save settings" })));
  view(listBox);
  listBox.replaceChildren(form);
  langs.focus();
}

async function showReport() {
  notice.textContent = "";
  await attempt(async () => {
    await report.show(site);
    view(report.el);
    main.focus();
  });
}

async function openArticle(target) {
  notice.textContent = "";
  await attempt(async () => {
    if (target == null) editor.create({});
    else if (typeof target === "object") editor.create(target);
    else await editor.open(target);
    view(editor.el);
    main.focus();
  });
}

// --- loading -------------------------------------------------------------------------------------

async function attempt(work) {
  try {
    await work();
  } catch (e) {
    notice.textContent = e.message;
  }
}

async function refresh() {
  [topics, articles] = await Promise.all([get(`/api/kb/topics?site_id=${site.site_id}`),
    get(`/api/kb/articles?site_id=${site.site_id}&limit=500`)]);
  editor.topics = topics;
  showTopics();
  if (!listBox.hidden) showList();
}

async function chooseSite(id) {
  site = sites.find((s) => s.site_id === id);
  editor.site = site;
  filter.topic = "all";
  await refresh();
  showList();
}

const siteSelect = h("select", { id: "kb-site", "aria-label": "Site" },
  sites.map((s) => h("option", { value: String(s.site_id), text: s.name })));
siteSelect.addEventListener("change", () => chooseSite(Number(siteSelect.value)));

root.replaceChildren(
  h("header", { class: "top" },
    h("h1", { text: "Switchboard" }), h("span", { class: "muted", text: "Knowledge base" }),
    sites.length > 1 ? siteSelect : null,
    h("span", { class: "spacer" }),
    h("a", { href: "/static/console.html", text: "Agent console" }),
    h("span", { class: "me", text: me.display_name }),
    h("button", { type: "button", text: "Log out", onclick: logout })),
  site ? h("div", { class: "layout" },
    h("aside", { class: "side", "aria-label": "Topics" },
      h("section", { "aria-labelledby": "kb-topics-h" }, h("h2", { id: "kb-topics-h", text: "Topics" }),
        topicList, topicForm),
      h("p", { class: "hint", text: site.may_publish ? "You publish on this site."
        : "Your edits of published articles are proposals; an admin publishes them." }),
      h("div", { class: "kb-side-tools" },
        h("button", { type: "button", text: "Knowledge report", onclick: () => showReport() }),
        admin ? h("button", { type: "button", text: "Help centre settings", onclick: () => settingsForm() }) : null)),
    main) : h("main", { class: "center" }, h("p", { text: "No site yet: an admin creates one first." })),
  h("span", { id: "app-ready", hidden: true }));
if (site) await chooseSite(site.site_id);
