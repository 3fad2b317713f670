// The customer's case page (realtime/portal_http.py): one case from a mailed link, the list of
// a signed-in customer's cases, the passwordless sign-in, and the web new-case form.
//
// The link's token arrives in the URL (?t=); it is moved to sessionStorage at once and the
// address bar cleaned, so it does not stay in the history or travel anywhere as a referrer.
// Data only ever reaches the page as text (dom.js).

import { announce, clear, clientId, h, time } from "./dom.js";
import { language, load as loadWords, t } from "./i18n.js";

const app = document.getElementById("app");
const store = window.sessionStorage;
const SESSION = "sb.case.session";
const STATUS_ID = {
  queued: "case.status.queued", offered: "case.status.queued", active: "case.status.active",
  pending: "case.status.pending", resolved: "case.status.resolved", closed: "case.status.closed",
};
const statusText = (status) => (STATUS_ID[status] ? t(STATUS_ID[status]) : status);

class PortalError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(method, path, token, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const wait = r.headers.get("Retry-After");
    const msg = (data.error && data.error.message) || t("common.http_error", { status: r.status });
    throw new PortalError(r.status, wait && r.status === 429 ? `${msg}` : msg);
  }
  return data;
}

// A file of the case, fetched with the token (never put in a URL) as a blob URL of the page's own.
async function blobUrl(path, token) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, credentials: "omit" });
  if (!r.ok) throw new PortalError(r.status, t("common.http_error", { status: r.status }));
  return URL.createObjectURL(await r.blob());
}

const size = (n) => (n >= 1048576 ? t("common.size_mb", { n: (n / 1048576).toFixed(1) })
  : n >= 1024 ? t("common.size_kb", { n: Math.round(n / 1024) }) : t("common.size_bytes", { n }));

function takeToken(key) {
  const url = new URL(location.href);
  const t = url.searchParams.get("t");
  if (t) {
    store.setItem(key, t);
    url.searchParams.delete("t");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return store.getItem(key);
}

function page(...kids) {
  clear(app).append(...kids);
  app.focus();
}

function notice(text = "", error = false) {
  return h("p", { class: "notice" + (error ? " error" : ""), role: error ? "alert" : "status", text });
}

function refused(e) {
  page(h("section", { class: "card" }, h("h1", { text: t("case.bad_link") }),
    h("p", { text: e.message }), signInForm()));
}

// --- sign in -------------------------------------------------------------------------------

function signInForm() {
  const email = h("input", { id: "signin-email", type: "email", required: true, autocomplete: "email" });
  const said = notice();
  const button = h("button", { class: "primary", type: "submit", text: t("case.signin_button") });
  const form = h("form", { class: "signin", "aria-labelledby": "signin-h" },
    h("h2", { id: "signin-h", text: t("case.signin_heading") }),
    h("p", { class: "muted", text: t("case.signin_explain") }),
    h("label", { for: "signin-email", text: t("case.email") }), email,
    h("div", { class: "row" }, button), said);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await call("POST", "/api/portal/signin", null, { email: email.value });
      said.className = "notice"; said.textContent = t("case.signin_sent");
    } catch (err) {
      said.className = "notice error"; said.textContent = err.message;
    } finally { button.disabled = false; }
  });
  return form;
}

async function redeem() {
  const token = new URL(location.href).searchParams.get("t");
  history.replaceState(null, "", "/c/signin");
  const go = h("button", { class: "primary", type: "button", text: t("case.signin") });
  const said = notice();
  // A button, not an automatic redemption: a mail scanner opening the link spends nothing.
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      const r = await call("POST", "/api/portal/signin/redeem", null, { token });
      store.setItem(SESSION, r.token);
      location.assign("/c/");
    } catch (err) {
      said.className = "notice error"; said.textContent = err.message; go.disabled = false;
    }
  });
  page(h("section", { class: "card" }, h("h1", { text: t("case.signin_title") }),
    h("p", { class: "muted", text: t("case.link_once") }), go, said));
}

// Signed in by the host site (docs/identity.md): its link carries the identity its server
// signed in the fragment (#site=…&user_id=…&email=…&ts=…&hmac=…), which no server log or
// referrer sees; it is exchanged for a session at once and dropped from the address bar.
async function hostSignin() {
  const f = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", "/c/signin");
  const said = notice();
  page(h("section", { class: "card" }, h("h1", { text: t("case.signin_title") }), said));
  const identity = { user_id: f.get("user_id"), email: f.get("email") || "",
    ts: Number(f.get("ts")), hmac: f.get("hmac") };
  if (f.get("name")) identity.name = f.get("name");
  try {
    const r = await call("POST", "/api/portal/signin/identity", null, { site_key: f.get("site"), identity });
    store.setItem(SESSION, r.token);
    location.assign("/c/");
  } catch (err) {
    said.className = "notice error"; said.textContent = err.message;
  }
}

// --- the list of a signed-in customer's cases -------------------------------------------------

async function listCases() {
  const token = takeToken(SESSION);
  if (!token) {
    page(h("h1", { text: t("case.your_cases") }), h("section", { class: "card" }, signInForm()));
    return;
  }
  try {
    const r = await call("GET", "/api/portal/cases", token);
    page(h("header", { class: "head" }, h("h1", { text: t("case.your_cases") }),
      h("p", { class: "muted", text: [r.email, r.organisation].filter(Boolean).join(" · ") })),
    h("section", { class: "card" }, r.cases.length ? h("ul", { class: "cases" }, r.cases.map((c) =>
      h("li", { class: "row" }, h("a", { href: `/c/${encodeURIComponent(c.number)}`, class: "number", text: c.number }),
        h("span", { text: c.subject || c.topic || `(${c.channel})` }), h("span", { class: "spacer" }),
        h("span", { class: "badge", "data-status": c.status, text: statusText(c.status) }))))
      : h("p", { class: "muted", text: t("case.none") })),
    h("div", { class: "row" }, h("button", { type: "button", text: t("case.sign_out"), onclick: () => {
      store.removeItem(SESSION); location.assign("/c/");
    } })));
  } catch (e) {
    store.removeItem(SESSION);
    refused(e);
  }
}

// --- one case ----------------------------------------------------------------------------------

class CaseView {
  constructor(number) {
    this.number = number;
    this.key = `sb.case.${number}`;
    this.token = takeToken(this.key) || store.getItem(SESSION);
    this.seqs = new Set();
    this.status = h("span", { class: "badge" });
    this.agent = h("span", { class: "muted" });
    this.expected = h("p", { class: "expected", hidden: true });
    this.promised = h("section", { class: "card commitments", hidden: true, "aria-labelledby": "promised-h" });
    this.live = h("span", { class: "live muted", role: "status" });
    this.subject = h("p", { class: "muted" });
    this.thread = h("ol", { class: "thread", "aria-label": t("case.messages"), "aria-live": "polite" });
    this.said = notice();
    this.text = h("textarea", { id: "reply-text", rows: 4, maxlength: 10000, required: true });
    this.send = h("button", { class: "primary", type: "submit", text: t("case.send_reply") });
    this.picker = h("input", { type: "file", id: "reply-file", class: "sr-only", onchange: () => {
      const f = this.picker.files[0]; this.picker.value = ""; if (f) this.attach(f);
    } });
    this.progress = h("progress", { max: 100, value: 0, hidden: true, "aria-label": t("case.upload_progress") });
    this.attachBtn = h("button", { type: "button", text: t("case.attach"), onclick: () => this.picker.click() });
    this.reply = h("form", { class: "card reply", "aria-labelledby": "reply-h" },
      h("h2", { id: "reply-h", text: t("case.reply") }), h("label", { for: "reply-text", class: "sr-only", text: t("case.your_reply") }),
      this.text, h("div", { class: "row" }, this.attachBtn, this.picker, this.progress,
        h("span", { class: "spacer" }), this.send));
    this.reply.addEventListener("submit", (e) => { e.preventDefault(); this.post(); });
    this.toggle = h("button", { type: "button", onclick: () => this.setStatus() });
    this.survey = h("section", { id: "survey", class: "card", hidden: true, "aria-labelledby": "survey-h" });
  }

  async start() {
    if (!this.token) { refused(new Error(t("case.no_token"))); return; }
    try {
      await this.load();
    } catch (e) { refused(e); return; }
    page(h("header", { class: "head" },
      h("div", { class: "row" }, h("h1", { class: "number", text: this.number }), this.status,
        h("span", { class: "spacer" }), this.live),
      this.subject, this.agent, this.expected),
    this.said, this.promised, h("section", { class: "card" }, this.thread), this.reply, this.survey,
    h("div", { class: "row" }, this.toggle, h("span", { class: "spacer" }),
      h("a", { href: "/c/", text: t("case.all") })));
    if (location.hash === "#survey" && !this.survey.hidden) this.survey.scrollIntoView();
    this.connect();
  }

  // What the desk committed to doing for this case (the commitments staff marked public).
  showPromised(list) {
    this.promised.hidden = !list.length;
    const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    this.promised.replaceChildren(h("h2", { id: "promised-h", text: t("case.committed") }),
      h("ul", {}, list.map((p) => h("li", { "data-status": p.status },
        p.status === "done" ? t("case.commitment_done", { kind: p.kind })
          : t("case.commitment_due", { kind: p.kind, when: when(p.due_at) })))));
  }

  async load() {
    const c = await call("GET", `/api/portal/cases/${encodeURIComponent(this.number)}`, this.token);
    this.data = c;
    this.status.dataset.status = c.status;
    this.status.textContent = statusText(c.status);
    this.subject.textContent = c.subject || c.topic || "";
    this.agent.textContent = c.assignee_name ? t("case.handled_by", { name: c.assignee_name }) : t("case.unassigned");
    this.expected.hidden = !c.expected_response;
    this.expected.textContent = c.expected_response ? t("case.will_answer", { expected: c.expected_response }) : "";
    this.showPromised(c.commitments || []);
    this.seqs.clear();
    clear(this.thread).append(...c.messages.map((m) => this.item(m)));
    this.toggle.textContent = t(c.closed ? "case.reopen" : "case.close");
    this.send.textContent = t(c.closed ? "case.send_reopen" : "case.send_reply");
    this.renderSurvey();
  }

  item(m) {
    this.seqs.add(m.seq);
    const who = m.author_kind === "contact" ? t("case.you") : (m.author_name || (m.author_kind === "system" ? "" : t("case.support")));
    const files = m.files || [];
    return h("li", { class: "msg", "data-author": m.author_kind, "data-seq": m.seq },
      who ? h("div", { class: "who", text: `${who} · ${time(m.created_at)}` }) : null,
      // A file's message says only its name: the file list shows it.
      files.length === 1 && files[0].name === m.text ? null : h("div", { class: "text", text: m.text }),
      files.length ? h("ul", { class: "files", "aria-label": t("case.attachments") }, files.map((f) => this.file(f))) : null);
  }

  // Downloads and previews (only for what the server found to be a real PNG/JPEG/GIF/WebP).
  file(f) {
    const path = `/api/portal/cases/${encodeURIComponent(this.number)}/attachments/${Number(f.id)}`;
    const link = h("a", { href: "#", class: "file", text: `${f.name} (${size(f.size)})`, onclick: async (e) => {
      e.preventDefault();
      try {
        const a = h("a", { href: await blobUrl(path, this.token), download: f.name });
        document.body.append(a); a.click(); a.remove();
      } catch (err) { this.said.className = "notice error"; this.said.textContent = t("case.download_failed", { error: err.message }); }
    } });
    const img = f.preview ? h("img", { class: "preview", alt: f.name }) : null;
    if (img) blobUrl(`${path}?preview=1`, this.token).then((src) => { img.src = src; }, () => img.remove());
    return h("li", {}, img, link);
  }

  attach(file) {
    const lim = this.data.attachments;
    if (lim && file.size > lim.max_file_bytes) {
      this.said.className = "notice error";
      this.said.textContent = t("common.too_big", { name: file.name, size: size(file.size), max: size(lim.max_file_bytes) });
      return;
    }
    const xhr = new XMLHttpRequest();
    const params = new URLSearchParams({ name: file.name, client_id: clientId() });
    xhr.open("POST", `/api/portal/cases/${encodeURIComponent(this.number)}/attachments?${params}`);
    xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) this.progress.value = Math.round((e.loaded / e.total) * 100); };
    const finish = (ok, text) => {
      this.progress.hidden = true; this.attachBtn.disabled = false;
      this.said.className = "notice" + (ok ? "" : " error"); this.said.textContent = text;
    };
    xhr.onload = async () => {
      let m = {};
      try { m = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        finish(true, t("case.sent_file", { name: file.name }));
        this.add(m);
        if (this.data.closed) await this.load();
      } else finish(false, t("case.not_sent", { error: (m.error && m.error.message) || t("common.http_error", { status: xhr.status }) }));
    };
    xhr.onerror = () => finish(false, t("case.upload_failed", { name: file.name }));
    this.progress.value = 0; this.progress.hidden = false; this.attachBtn.disabled = true;
    this.said.className = "notice"; this.said.textContent = t("case.uploading", { name: file.name });
    xhr.send(file);
  }

  add(m) {
    if (this.seqs.has(m.seq)) return;
    const el = this.item(m);
    const after = [...this.thread.children].find((li) => Number(li.dataset.seq) > m.seq);
    this.thread.insertBefore(el, after || null);
    if (m.author_kind !== "contact") announce(t("case.new_message", { name: m.author_name || t("case.support") }));
  }

  renderSurvey() {
    const c = this.data;
    this.survey.hidden = !c.closed || c.rating === undefined;
    if (this.survey.hidden) { this.surveyShown = null; return; }
    // A live update re-reads the case (load); an open form keeps what the customer has picked.
    const shown = c.rating ? `rated:${c.rating}` : "form";
    if (shown === this.surveyShown) return;
    this.surveyShown = shown;
    if (c.rating) {
      this.survey.replaceChildren(h("h2", { id: "survey-h", text: t("case.thanks_rating") }),
        h("p", { text: t("case.rated", { rating: c.rating }) }),
        c.rating_comment ? h("p", { class: "muted", text: c.rating_comment }) : null);
      return;
    }
    const stars = h("fieldset", { class: "stars" }, h("legend", { class: "sr-only", text: t("case.rating") }),
      [1, 2, 3, 4, 5].map((n) => h("label", {}, h("input", { type: "radio", name: "rating", value: n, required: true }),
        n === 1 ? t("case.poor", { n }) : n === 5 ? t("case.excellent", { n }) : String(n))));
    const comment = h("textarea", { id: "survey-comment", rows: 3, maxlength: 2000 });
    const said = notice();
    const form = h("form", {}, stars, h("label", { for: "survey-comment", text: t("case.anything_to_add") }),
      comment, h("div", { class: "row" }, h("button", { class: "primary", type: "submit", text: t("case.send_rating") })), said);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const picked = form.querySelector("input[name=rating]:checked");
      if (!picked) return;
      try {
        await call("POST", `/api/portal/cases/${encodeURIComponent(this.number)}/rating`, this.token,
          { rating: Number(picked.value), comment: comment.value.trim() || null });
        await this.load();
      } catch (err) { said.className = "notice error"; said.textContent = err.message; }
    });
    this.survey.replaceChildren(h("h2", { id: "survey-h", text: t("case.how_did_we_do") }), form);
  }

  async post() {
    const text = this.text.value.trim();
    if (!text) return;
    this.send.disabled = true;
    // The same client_id until it is stored: a retry after a lost answer is stored once.
    this.cid = this.cid || clientId();
    try {
      const m = await call("POST", `/api/portal/cases/${encodeURIComponent(this.number)}/messages`,
        this.token, { text, client_id: this.cid });
      this.cid = null;
      this.text.value = "";
      this.add(m);
      this.said.className = "notice"; this.said.textContent = t("case.reply_sent");
      if (this.data.closed) await this.load();
    } catch (e) {
      this.said.className = "notice error"; this.said.textContent = t("case.not_sent", { error: e.message });
    } finally { this.send.disabled = false; }
  }

  async setStatus() {
    const status = this.data.closed ? "open" : "closed";
    try {
      await call("POST", `/api/portal/cases/${encodeURIComponent(this.number)}/status`, this.token, { status });
      await this.load();
      this.said.className = "notice";
      this.said.textContent = t(status === "closed" ? "case.closed_done" : "case.reopened");
      if (status === "closed") this.survey.scrollIntoView();
    } catch (e) { this.said.className = "notice error"; this.said.textContent = e.message; }
  }

  // Live: the visitor socket, authenticated with the case's socket token, follows this case.
  connect() {
    const url = new URL("/ws/visitor?case=1", location.href).href.replace(/^http/, "ws");
    const ws = new WebSocket(url);
    const show = (on) => { this.live.dataset.live = String(on); this.live.textContent = t(on ? "case.live" : "case.reconnecting"); };
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: this.data.socket_token }));
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      switch (f.type) {
        case "welcome":
          show(true);
          ws.send(JSON.stringify({ type: "resume", conversation_id: this.data.conversation_id,
            after_seq: Math.max(0, ...this.seqs) }));
          this.ping = setInterval(() => ws.send(JSON.stringify({ type: "ping" })), 20000);
          break;
        case "message":
          if (f.visibility !== "public") break;
          this.add({ ...f });
          // An answer may keep or settle the promised time: the server says which.
          if (f.author_kind !== "contact" && !this.expected.hidden) this.load().catch(() => {});
          break;
        case "state": case "ended": case "assigned":
          this.load().catch(() => {});
          break;
      }
    };
    ws.onclose = (e) => {
      clearInterval(this.ping);
      show(false);
      if (e.code === 4401 || e.code === 4403) return; // the token went stale: a reload mends it
      setTimeout(() => this.load().then(() => this.connect(), () => this.connect()), 3000);
    };
  }
}

// --- a new case from the web (the site's form; the one check is desk/site_form.py) -------------

function field(f, prefix) {
  const id = `${prefix}-${f.name}`;
  return [h("label", { for: id, text: `${f.label || f.name}${f.required ? " *" : ""}` }),
    h("input", { id, "data-answer": f.name, required: !!f.required, maxlength: f.max_length || 1000 })];
}

// The help centre's suggestions while the customer types (widget-kb.js, the widget's own:
// debounced, in the browser's language, each article opened with the reading session). A case
// filed after opening one carries the session, so it is not counted as deflected; leaving
// without filing is.
function helpArticles(key) {
  return new Promise((resolve) => {
    const script = h("script", { src: "/static/widget-kb.js" });
    script.addEventListener("load", () => resolve(window.__switchboardKb
      ? window.__switchboardKb({ site: key, base: `${location.origin}/`, h, t, css: false }) : null));
    script.addEventListener("error", () => resolve(null));
    document.head.append(script);
  });
}

async function newCase() {
  const key = new URL(location.href).searchParams.get("site");
  const kb = helpArticles(key || "");
  let form;
  try {
    form = await call("GET", `/api/public/sites/${encodeURIComponent(key || "")}`);
  } catch (e) {
    page(h("section", { class: "card" }, h("h1", { text: t("case.no_form") }), h("p", { text: e.message })));
    return;
  }
  // Topics down to one without sub-topics, offered for the chosen department (or for any).
  const leaves = [];
  const walk = (topics, trail) => (topics || []).forEach((t) => {
    const path = [...trail, t];
    if (t.children && t.children.length) walk(t.children, path);
    else leaves.push(path);
  });
  walk(form.topics, []);
  const ownDept = (p) => [...p].reverse().map((t) => t.department_id).find((d) => d != null);
  const dept = h("select", { id: "nc-dept" }, form.departments.map((d) => h("option", { value: d.id, text: d.name })));
  const topic = h("select", { id: "nc-topic" });
  const topicRow = h("div", {}, h("label", { for: "nc-topic", text: t("case.topic") }), topic);
  const extra = h("div", { class: "fields" });
  const common = (form.fields || []).filter((f) => f.name !== "name" && f.name !== "email");
  const nameRequired = (form.fields || []).some((f) => f.name === "name" && f.required);
  const name = h("input", { id: "nc-name", autocomplete: "name", required: nameRequired, maxlength: 120 });
  const email = h("input", { id: "nc-email", type: "email", autocomplete: "email", required: true });
  const text = h("textarea", { id: "nc-text", rows: 6, required: true, maxlength: 10000 });
  const said = notice();
  const suggestAt = h("span", { class: "kb-anchor" });
  const button = h("button", { class: "primary", type: "submit", text: t("case.send") });
  const offered = () => leaves.filter((p) => [undefined, Number(dept.value)].includes(ownDept(p)));
  const showTopics = () => {
    const paths = offered();
    topic.replaceChildren(...paths.map((p) => h("option", { value: p[p.length - 1].id,
      text: p.map((t) => t.label).join(" › ") })));
    topicRow.hidden = !paths.length;
    showFields();
  };
  const showFields = () => {
    const path = leaves.find((p) => p[p.length - 1].id === topic.value) || [];
    clear(extra).append(...common.flatMap((f) => field(f, "nc-c")),
      ...path.flatMap((t) => t.fields || []).flatMap((f) => field(f, "nc-f")));
  };
  dept.addEventListener("change", showTopics);
  topic.addEventListener("change", showFields);
  const el = h("form", { class: "card", "aria-labelledby": "nc-h" },
    h("h1", { id: "nc-h", text: t("case.open_case") }),
    form.departments.length > 1 ? [h("label", { for: "nc-dept", text: t("case.department") }), dept] : null,
    topicRow, extra,
    h("label", { for: "nc-name", text: t("case.name") + (nameRequired ? " *" : "") }), name,
    h("label", { for: "nc-email", text: t("case.email_required") }), email,
    h("label", { for: "nc-text", text: t("case.how_can_we_help") }), text, suggestAt,
    h("div", { class: "row" }, button), said);
  showTopics();
  let help = null;
  kb.then((found) => {
    help = found;
    if (help) help.form({ text, before: suggestAt });
  });
  const cid = clientId();
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    const answers = Object.fromEntries([...extra.querySelectorAll("[data-answer]")]
      .map((i) => [i.dataset.answer, i.value.trim()]).filter(([, v]) => v));
    try {
      const r = await call("POST", `/api/public/sites/${encodeURIComponent(key)}/messages`, null, {
        department_id: form.departments.length ? Number(dept.value) : null,
        topic: topicRow.hidden ? null : topic.value, answers, name: name.value.trim() || null,
        email: email.value.trim(), text: text.value, client_id: cid, channel: "portal",
        kb_session: help ? help.read() : null, language });
      page(h("section", { class: "card done", "aria-labelledby": "done-h" },
        h("h1", { id: "done-h", text: t("case.opened") }),
        h("p", {}, ...numbered(t("case.number_is"), r.number)),
        r.expected_response ? h("p", { class: "expected", text: t("case.will_answer", { expected: r.expected_response }) }) : null,
        r.notice ? h("p", { class: "site-notice", text: r.notice }) : null,
        h("p", { class: "muted", text: t("case.confirmation") })));
    } catch (err) {
      said.className = "notice error"; said.textContent = err.message; button.disabled = false;
    }
  });
  page(el);
}

// The number set in bold inside its sentence, wherever the language puts it.
function numbered(sentence, number) {
  const [before, after = ""] = sentence.split("{number}");
  return [before, h("strong", { class: "number", text: number }), after];
}

// --- which view ------------------------------------------------------------------------------

await loadWords();
document.title = t("case.title");
const path = decodeURIComponent(location.pathname.replace(/^\/c\/?/, ""));
if (path === "signin") (location.hash.length > 1 ? hostSignin : redeem)();
else if (path === "new") newCase();
else if (path) new CaseView(path).start();
else listCases();
