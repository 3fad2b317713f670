/* Switchboard chat widget.
 *
 * Embed with one tag:  <script src="https://desk.example/static/widget.js" data-site="KEY" async>
 * One classic script with no imports, so a foreign host page needs no CORS for modules; the UI
 * lives in an open shadow root (host CSS cannot reach it) and every piece of data is inserted as
 * text (textContent / Text nodes), never as markup.
 *
 * Words: every text a visitor reads comes from the server's message catalogue (desk/locale/*.po,
 * served as JSON by /api/public/i18n) through t(); the language is the site's, or the browser's
 * first shipped one (navigator.languages) where the site lets it choose. Nothing is drawn
 * before the catalogue is here (tests/desk/test_widget_strings.py keeps literals out).
 *
 * Delivery: each send carries a client_id and stays in an outbox (persisted in localStorage)
 * until the server acknowledges it; after any reconnect the widget resumes with after_seq and
 * drops anything it already shows, so no message is lost or doubled.
 *
 * Who's On: when the site has tracking on, the widget reports the page (address, title, referrer,
 * language) with a beacon as soon as it has a token, then opens its socket, which reports the
 * pages after it — never when the browser sends Do Not Track or
 * Global Privacy Control, nor when the host page sets window.SwitchboardTracking = false before
 * the tag (its consent hook; window.Switchboard.track(true|false) changes it later). An agent's
 * or a rule's invitation opens the panel with Accept / No thanks.
 */
(async () => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__switchboard) return;
  window.__switchboard = true;
  const SITE = script.dataset.site || "";
  const BASE = new URL("../", script.src); // the script is served from <server>/static/
  const url = (path) => new URL(path, BASE).href;
  const WS_URL = url("ws/visitor?site=" + encodeURIComponent(SITE)).replace(/^http/, "ws");
  const CFG_URL = url("api/public/sites/" + encodeURIComponent(SITE));
  const INPUT_TYPES = { email: "email", checkbox: "checkbox", number: "number", date: "date" };
  const TOKEN_URL = url("api/visitor/session");
  const BEACON_URL = url("api/visitor/page-view");
  const I18N_URL = url("api/public/i18n");
  const KEY = "switchboard:" + SITE;
  const PING_MS = 20000;
  const RETRY_MS = 4000;

  // The host's signed-in user, signed by the host's server (docs/identity.md): the tag's
  // data-user-* attributes, or window.SwitchboardIdentity set before the tag; none: anonymous.
  const ds = script.dataset, given = window.SwitchboardIdentity;
  const ID = given && given.user_id ? { user_id: String(given.user_id), email: given.email || null,
    name: given.name || null, hmac: given.hmac || "" }
    : ds.userId ? { user_id: ds.userId, email: ds.userEmail || null,
      name: ds.userName || null, hmac: ds.userHmac || "" } : null;
  const WHO = ID ? ID.user_id : null;

  /* ---- state, persisted so a reload or a dropped connection loses nothing ---------------- */
  const fresh = () => ({ token: null, conv: null, number: null, out: {}, ended: false,
    agent: null, open: false, who: WHO });
  let st = fresh();
  try { st = Object.assign(st, JSON.parse(localStorage.getItem(KEY) || "{}")); } catch (e) { /* private mode */ }
  // Another user signed in (or out) on the host: nothing of the previous one's session stays.
  if ((st.who || null) !== WHO) st = Object.assign(fresh(), { open: st.open });
  const save = () => { try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* quota */ } };
  // The id the server gave this browser: it brings back the browser's anonymous contact.
  const VKEY = KEY + ":visitor";
  const visitorId = () => { try { return localStorage.getItem(VKEY) || null; } catch (e) { return null; } };
  const keepVisitor = (data) => { try { if (data.visitor_id) localStorage.setItem(VKEY, data.visitor_id); } catch (e) { /* private mode */ } };
  const shown = new Set(); // seqs on screen
  // Highest seq received on this page: reconnects resume after it; a reload replays everything.
  let seen = 0;
  const cid = () => Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);

  /* ---- DOM helpers: text only --------------------------------------------------------------- */
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
    return el;
  }
  const clear = (el) => { el.replaceChildren(); return el; };

  /* ---- words: the catalogue of the visitor's language; {name} placeholders as desk.i18n.fill */
  let MSG = {}, LANG = "en";
  const t = (id, params) => (MSG[id] || id).replace(/\{([a-z_]+)\}/g,
    (m, k) => (params && params[k] != null ? String(params[k]) : m));
  async function words() {
    const r = await fetch(CFG_URL, { credentials: "omit", cache: "no-store" });
    if (!r.ok) throw new Error("config " + r.status);
    const site = await r.json();
    const wanted = [...(site.browser_language ? navigator.languages || [navigator.language] : []),
      site.language || "en"];
    const c = await fetch(I18N_URL + "?lang=" + encodeURIComponent(wanted.filter(Boolean).join(",")),
      { credentials: "omit" });
    if (!c.ok) throw new Error("catalogue " + c.status);
    const doc = await c.json();
    MSG = doc.messages || {}; LANG = doc.language || "en";
  }
  // The server may be restarting: try again, slower each time, and only then draw anything.
  for (let wait = 2000; ; wait = Math.min(wait * 2, 60000)) {
    try { await words(); break; } catch (e) { await new Promise((ok) => setTimeout(ok, wait)); }
  }

  /* ---- knowledge base (widget-kb.js, loaded beside this script): articles for the question
   * being typed; a hook that is called before it has loaded is replayed once it has ---------- */
  let kbApi = null, kbForm = null;
  const kbHook = (name, ctx) => { if (name === "form") kbForm = ctx; if (kbApi) kbApi[name](ctx); };
  const kbScript = h("script", { src: url("static/widget-kb.js"), async: true });
  kbScript.addEventListener("load", () => {
    if (!window.__switchboardKb) return;
    kbApi = window.__switchboardKb({ site: SITE, base: BASE.href, h, t });
    if (kbForm && kbForm.text.isConnected) kbApi.form(kbForm);
  });
  document.head.append(kbScript);

  /* ---- shell ---------------------------------------------------------------------------------- */
  const host = h("switchboard-widget", { lang: LANG });
  for (const [p, v] of [["all", "initial"], ["display", "block"], ["position", "fixed"],
    ["z-index", "2147483647"], ["right", "0"], ["bottom", "0"], ["width", "0"], ["height", "0"],
    ["visibility", "visible"], ["opacity", "1"], ["transform", "none"]]) {
    host.style.setProperty(p, v, "important"); // inline !important beats any host stylesheet
  }
  const root = host.attachShadow({ mode: "open" });
  root.append(h("style", { text: CSS() }));
  const launcher = h("button", { class: "launch", type: "button", "aria-label": t("widget.open"),
    "aria-expanded": "false", "aria-controls": "sb-panel", onclick: () => toggle() },
  h("span", { class: "bubble", "aria-hidden": "true" }));
  const title = h("h2", { class: "title", id: "sb-title", text: t("widget.title") });
  const closeBtn = h("button", { class: "icon", type: "button", "aria-label": t("widget.minimise"),
    text: "\u2013", onclick: () => toggle(false) });
  const endBtn = h("button", { class: "link", type: "button", text: t("widget.end"), hidden: true,
    onclick: () => endChat() });
  const conn = h("p", { class: "conn", role: "status", hidden: true, text: t("widget.reconnecting") });
  const body = h("div", { class: "body" });
  const panel = h("section", { class: "panel", id: "sb-panel", role: "dialog",
    "aria-labelledby": "sb-title", hidden: true },
  h("header", {}, title, endBtn, closeBtn), conn, body);
  root.append(h("div", { class: "sb" }, panel, launcher));
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) { e.preventDefault(); toggle(false); }
  });

  function toggle(show = panel.hidden) {
    panel.hidden = !show;
    st.open = show; save();
    launcher.setAttribute("aria-expanded", String(show));
    launcher.setAttribute("aria-label", t(show ? "widget.close" : "widget.open"));
    if (show) {
      if (!body.firstChild) route();
      focusFirst();
    } else launcher.focus();
  }
  function focusFirst() {
    if (panel.hidden) return;
    const target = body.querySelector("[data-autofocus]:not(:disabled)") ||
      body.querySelector("textarea:not(:disabled),input,select,button");
    if (target) target.focus();
  }

  /* ---- views ----------------------------------------------------------------------------------- */
  let cfg = null, cfgAt = 0;
  async function loadConfig() {
    if (cfg) return cfg;
    const r = await fetch(CFG_URL, { credentials: "omit" });
    if (!r.ok) throw new Error("config " + r.status);
    cfg = await r.json();
    cfgAt = Date.now();
    title.textContent = cfg.title || t("widget.title");
    if (cfg.color) host.style.setProperty("--sb-brand", cfg.color);
    if (cfg.logo_url) title.prepend(h("img", { class: "logo", src: cfg.logo_url, alt: "" }));
    return cfg;
  }

  async function route() {
    if (st.conv || Object.keys(st.out).length) { chatView(); if (!st.ended) connect(); return; }
    clear(body).append(h("p", { class: "muted", text: t("widget.loading") }));
    try { await loadConfig(); } catch (e) {
      clear(body).append(h("p", { class: "error", role: "alert",
        text: t("widget.unavailable") }));
      return;
    }
    formView();
  }

  /* Pre-chat form driven by the site's configuration: department, a topic tree, per-topic
   * questionnaire fields and the common fields. When nobody is online to take a chat in the
   * chosen department (asked again whenever the department changes) it becomes "leave a
   * message", which files a ticket instead of starting a chat that nobody would answer. */
  function formView() {
    const form = h("form", { class: "form", novalidate: true });
    const errors = h("p", { class: "error", role: "alert" });
    const topicBox = h("div", {});
    const fieldBox = h("div", {});
    const depts = cfg.departments || [];
    let dept = depts.length === 1 ? depts[0].id : null;
    let path = [];
    const leaf = () => (function find(list) {
      for (const t of list || []) { if (t.id === path[path.length - 1]) return t; const c = find(t.children); if (c) return c; }
    })(cfg.topics);
    const department = () => dept || (leaf() && leaf().department_id) || null;
    const offline = () => {
      const d = department();
      return d == null ? cfg.online === false : !(cfg.online_departments || []).some((x) => String(x) === String(d));
    };
    const note = h("p", { class: "muted note", role: "status" });
    const submitBtn = h("button", { class: "primary", type: "submit" });
    const emails = [];
    // Chat or leave-a-message: the notice, the button and the email field (needed for a reply).
    const mode = () => {
      const off = offline();
      const d = depts.find((x) => String(x.id) === String(department()));
      note.hidden = !off;
      note.textContent = d ? t("widget.offline_in", { department: d.label || d.name }) : t("widget.offline");
      submitBtn.textContent = t(off ? "widget.send_message" : "widget.start_chat");
      for (const [f, input, label] of emails) {
        const need = !!f.required || off;
        input.required = need;
        input.setAttribute("aria-required", String(need));
        label.textContent = (f.label || f.name) + (need ? " *" : "");
      }
    };
    const recheck = async () => {
      try {
        const r = await fetch(CFG_URL, { credentials: "omit", cache: "no-store" });
        if (r.ok) { const c = await r.json(); cfg.online = c.online; cfg.online_departments = c.online_departments; cfgAt = Date.now(); }
      } catch (e) { /* keep what we knew */ }
      if (form.isConnected) mode();
    };
    const control = (f, prefix) => {
      const id = "sb-f-" + prefix + f.name;
      const attrs = { id, name: prefix + f.name, required: !!f.required,
        "aria-required": f.required ? "true" : null, maxlength: f.max_length || 500,
        autocomplete: f.type === "email" ? "email" : f.name === "name" ? "name" : null };
      // The site's field types (desk/site_config.py FIELD_TYPES); a ticked box answers "yes".
      const input = f.type === "textarea" ? h("textarea", attrs)
        : f.type === "select" ? h("select", attrs, h("option", { value: "", text: t("widget.choose") }),
          (f.options || []).map((o) => h("option", { value: o, text: o })))
        : h("input", Object.assign(attrs, { type: INPUT_TYPES[f.type] || "text" },
          f.type === "checkbox" ? { value: "yes", maxlength: null } : {}));
      input.dataset.label = f.label || f.name;
      const label = h("label", { for: id, text: (f.label || f.name) + (f.required ? " *" : "") });
      return h("div", { class: "field" + (f.type === "checkbox" ? " check" : "") },
        f.type === "checkbox" ? [input, label] : [label, input]);
    };
    const select = (id, label, options, value, onchange) => {
      const sel = h("select", { id, required: true, "aria-required": "true", onchange },
        h("option", { value: "", text: t("widget.choose") }),
        options.map((o) => h("option", { value: String(o.id), text: o.label || o.name,
          selected: String(o.id) === String(value) })));
      sel.dataset.label = label;
      return h("div", { class: "field" }, h("label", { for: id, text: label + " *" }), sel);
    };
    const topics = () => (cfg.topics || []).filter((t) => dept == null || t.department_id == null ||
      String(t.department_id) === String(dept));
    const drawTopics = () => {
      clear(topicBox); clear(fieldBox);
      let level = topics();
      const chosen = [];
      for (let i = 0; level.length; i++) {
        const cur = level.find((t) => t.id === path[i]);
        topicBox.append(select("sb-topic-" + i, t(i ? "widget.subtopic" : "widget.topic"), level, cur && cur.id,
          (e) => { path = path.slice(0, i).concat(e.target.value ? [e.target.value] : []); drawTopics(); }));
        if (!cur) break;
        chosen.push(cur);
        level = cur.children || [];
      }
      for (const t of chosen) for (const f of t.fields || []) fieldBox.append(control(f, "q-"));
      mode();
    };
    if (depts.length > 1) {
      form.append(select("sb-dept", t("widget.department"), depts, dept, (e) => {
        dept = e.target.value || null; path = []; drawTopics(); recheck();
      }));
    }
    form.append(cfg.greeting ? h("p", { class: "greeting", text: cfg.greeting }) : "", note, topicBox, fieldBox);
    for (const f of cfg.fields || []) {
      const box = control(f, "");
      if (f.type === "email") emails.push([f, box.querySelector("input"), box.querySelector("label")]);
      form.append(box);
    }
    const text = h("textarea", { id: "sb-f-text", name: "text", required: true, rows: 3,
      "aria-required": "true", maxlength: 10000 });
    text.dataset.label = t("widget.message");
    form.append(h("div", { class: "field" }, h("label", { for: "sb-f-text", text: t("widget.message") + " *" }), text),
      errors, submitBtn);
    kbHook("form", { text, before: errors });
    drawTopics();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      errors.textContent = "";
      const bad = [...form.elements].find((el) => {
        const v = (el.value || "").trim();
        const wrong = (el.required && (el.type === "checkbox" ? !el.checked : !v)) || (el.type === "email" && v && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v));
        if (el.name || el.tagName === "SELECT") el.setAttribute("aria-invalid", String(!!wrong));
        return wrong;
      });
      if (bad) { errors.textContent = t("widget.fill_in", { field: bad.dataset.label }); bad.focus(); return; }
      const val = (n) => (form.elements[n] ? form.elements[n].value.trim() : "");
      // Topic questions ("q-" inputs) and the common fields other than name and email are
      // answers: the server checks them all against the same form (desk/site_form.py).
      const answers = {};
      const common = new Set((cfg.fields || []).map((f) => f.name).filter((n) => n !== "name" && n !== "email"));
      for (const el of form.elements) {
        if (!el.name || !el.value.trim() || (el.type === "checkbox" && !el.checked)) continue;
        if (el.name.slice(0, 2) === "q-") answers[el.name.slice(2)] = el.value.trim();
        else if (common.has(el.name)) answers[el.name] = el.value.trim();
      }
      const start = { type: "start_chat", client_id: cid(), text: val("text"),
        department_id: Number(department()) || null, topic: path[path.length - 1] || null,
        answers, name: val("name") || null, email: val("email") || null, language: LANG };
      if (offline()) return leaveMessage(start, form, errors);
      st = Object.assign(fresh(), { token: st.token, open: true, email: start.email });
      st.out[start.client_id] = start;
      save();
      chatView();
      connect();
    });
    clear(body).append(form);
    if (Date.now() - cfgAt > 10000) recheck(); // who is online may have changed since
    const first = form.querySelector("select,input,textarea");
    if (first) first.dataset.autofocus = "";
    focusFirst();
  }

  async function leaveMessage(start, form, errors) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const r = await fetch(CFG_URL + "/messages", { method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({
          client_id: start.client_id, text: start.text, department_id: start.department_id,
          topic: start.topic, answers: start.answers, name: start.name, email: start.email,
          language: start.language, token: st.token, visitor_id: visitorId(), identity: ID,
          kb_session: kbApi ? kbApi.read() : null }) });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error((data.error && data.error.message) || t("widget.send_failed"));
      keepVisitor(data);
      clear(body).append(h("div", { class: "done", role: "status", tabindex: "-1", "data-autofocus": "" },
        h("h3", { text: t("widget.thanks_title") }),
        h("p", { text: data.expected_response
          ? t("widget.thanks_number_expected", { number: data.number, expected: data.expected_response })
          : t("widget.thanks_number", { number: data.number }) })));
      body.querySelector(".done").focus();
    } catch (err) {
      errors.textContent = t("widget.failed", { error: err.message });
      button.disabled = false;
    }
  }

  /* ---- chat view ------------------------------------------------------------------------------ */
  let log, statusLine, typingLine, composer, typingTimer = 0, picker, attachBtn, upLine;
  function chatView() {
    shown.clear(); seen = 0;
    statusLine = h("p", { class: "status", role: "status", text: st.agent ? t("widget.chatting_with", { name: st.agent }) : t("widget.connecting") });
    log = h("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("widget.messages") });
    typingLine = h("p", { class: "typing", "aria-live": "polite" });
    composer = h("textarea", { class: "compose", rows: 2, "aria-label": t("widget.type_label"),
      placeholder: t("widget.type_placeholder"), maxlength: 10000, "data-autofocus": "" });
    const send = h("button", { class: "primary send", type: "button", text: t("widget.send"), onclick: () => submit() });
    composer.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    composer.addEventListener("input", () => typing(composer.value));
    endBtn.hidden = false;
    picker = h("input", { type: "file", hidden: true, tabindex: "-1", "aria-hidden": "true",
      onchange: () => { const f = picker.files[0]; picker.value = ""; if (f) attach(f); } });
    attachBtn = h("button", { class: "attach", type: "button", "aria-label": t("widget.attach"),
      title: t("widget.attach"), text: "+", onclick: () => picker.click() });
    upLine = h("p", { class: "muted up", role: "status" });
    clear(body).append(statusLine, log, typingLine, upLine,
      h("div", { class: "bar" }, attachBtn, picker, composer, send));
    for (const f of Object.values(st.out)) {
      if (f.text) bubble({ client_id: f.client_id, text: f.text, author_kind: "contact" }, true);
    }
    if (st.ended) endedView();
    focusFirst();
  }

  function bubble(m, pending) {
    if (m.seq != null && shown.has(m.seq)) return;
    const mine = m.author_kind === "contact";
    const existing = m.client_id && log.querySelector('[data-cid="' + CSS_escape(m.client_id) + '"]');
    if (existing) {
      existing.classList.remove("pending"); existing.removeAttribute("aria-busy");
      if (m.seq != null) { shown.add(m.seq); place(existing, m.seq); }
      return;
    }
    if (m.text == null) return;
    const li = h("li", { class: "msg " + (m.author_kind === "system" ? "sys" : mine ? "me" : "them") + (pending ? " pending" : ""),
      "aria-busy": pending ? "true" : null },
    mine || m.author_kind === "system" ? null : h("span", { class: "who", text: m.author_name || t("widget.agent") }),
    m.files && m.files.length ? null : h("p", { text: m.text }),
    (m.files || []).map(fileItem));
    if (m.client_id) li.dataset.cid = m.client_id;
    if (m.seq != null) { shown.add(m.seq); place(li, m.seq); } else log.append(li);
    log.scrollTop = log.scrollHeight;
  }
  // Stored messages sit in seq order, before any still unacknowledged ones.
  function place(li, seq) {
    li.dataset.seq = seq;
    const next = [...log.children].find((el) => el !== li &&
      (el.classList.contains("pending") || Number(el.dataset.seq) > seq));
    log.insertBefore(li, next || null);
  }
  const CSS_escape = (s) => String(s).replace(/["\\]/g, "\\$&");

  /* ---- files: downloads fetched with the token (never in a URL), previews only for what the
   * server found to be a real PNG/JPEG/GIF/WebP, uploads with progress and a size check first */
  const FILE_URL = (id, preview) => url("api/visitor/attachments/" + Number(id) + (preview ? "?preview=1" : ""));
  const size = (n) => (n >= 1048576 ? t("common.size_mb", { n: (n / 1048576).toFixed(1) })
    : n >= 1024 ? t("common.size_kb", { n: Math.round(n / 1024) }) : t("common.size_bytes", { n }));
  async function blobOf(id, preview) {
    const r = await fetch(FILE_URL(id, preview), { credentials: "omit", headers: { Authorization: "Bearer " + st.token } });
    if (!r.ok) throw new Error(t("common.http_error", { status: r.status }));
    return URL.createObjectURL(await r.blob());
  }
  function fileItem(f) {
    const a = h("a", { class: "file", href: "#", text: f.name + " (" + size(f.size) + ")",
      onclick: async (e) => {
        e.preventDefault();
        try {
          const link = h("a", { href: await blobOf(f.id, false), download: f.name });
          root.append(link); link.click(); link.remove();
        } catch (err) { a.textContent = f.name + ": " + err.message; }
      } });
    if (!f.preview) return a;
    const img = h("img", { class: "thumb", alt: f.name });
    blobOf(f.id, true).then((src) => { img.src = src; }, () => img.remove());
    return h("span", { class: "fileset" }, img, a);
  }
  async function attach(file) {
    if (!st.conv || st.ended) { upLine.textContent = t("widget.attach_first"); return; }
    if (!cfg) { try { await loadConfig(); } catch (e) { /* the server checks anyway */ } }
    const lim = cfg && cfg.attachments;
    if (lim && file.size > lim.max_file_bytes) {
      upLine.textContent = t("common.too_big", { name: file.name, size: size(file.size), max: size(lim.max_file_bytes) });
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url("api/visitor/conversations/" + Number(st.conv) + "/attachments?name=" +
      encodeURIComponent(file.name) + "&client_id=" + cid()));
    xhr.setRequestHeader("Authorization", "Bearer " + st.token);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) upLine.textContent = t("widget.uploading_pct", { name: file.name, percent: Math.round(e.loaded / e.total * 100) });
    };
    const finish = (text) => { attachBtn.disabled = false; upLine.textContent = text; };
    xhr.onload = () => {
      let m = {};
      try { m = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        finish("");
        bubble({ seq: m.seq, author_kind: "contact", text: m.body, files: m.files });
      } else finish(t("widget.not_sent", { error: (m.error && m.error.message) || t("common.http_error", { status: xhr.status }) }));
    };
    xhr.onerror = () => finish(t("widget.upload_failed"));
    attachBtn.disabled = true;
    upLine.textContent = t("widget.uploading", { name: file.name });
    xhr.send(file);
  }
  const system = (text) => bubble({ author_kind: "system", text });

  function submit() {
    const text = composer.value.trim();
    if (!text || st.ended) return;
    // Before "started" the conversation id is unknown: the frame waits in the outbox for it.
    const f = { type: "message", conversation_id: st.conv, client_id: cid(), text };
    st.out[f.client_id] = f; save();
    bubble({ client_id: f.client_id, text, author_kind: "contact" }, true);
    composer.value = "";
    typing("");
    send(f);
  }

  let lastDraft = "", draftTimer = 0, draftAt = 0;
  function typing(draft) {
    if (!st.conv || st.ended) return;
    lastDraft = draft.slice(0, 2000);
    clearTimeout(draftTimer);
    const go = () => { draftAt = Date.now(); send({ type: "typing", conversation_id: st.conv, draft: lastDraft }); };
    const wait = 250 - (Date.now() - draftAt);
    if (!draft || wait <= 0) go(); else draftTimer = setTimeout(go, wait);
  }

  function endChat() {
    if (st.conv && !st.ended) send({ type: "end", conversation_id: st.conv });
    ended("you");
  }

  function ended(by) {
    if (st.ended && body.querySelector(".survey")) return;
    st.ended = true; save();
    if (by !== "you") system(t("widget.ended"));
    endedView();
  }

  /* After the chat: transcript by email and a short exit survey (rating + comment). */
  function endedView() {
    endBtn.hidden = true;
    typingLine.textContent = "";
    composer.disabled = true;
    attachBtn.disabled = true;
    // The transcript goes only to the address given when the chat started (the server
    // refuses any other): without one there is nothing to offer.
    const trMsg = h("p", { class: "muted", role: "status" });
    const trBtn = h("button", { type: "submit", text: t("widget.transcript_button") });
    const tr = h("form", { class: "row transcript", hidden: !st.email },
      h("span", { text: t("widget.transcript_to", { email: st.email || "" }) }), trBtn, trMsg);
    tr.addEventListener("submit", (e) => {
      e.preventDefault();
      send({ type: "transcript", conversation_id: st.conv });
      trMsg.textContent = t("widget.transcript_sending", { email: st.email });
    });
    let rating = 0;
    const stars = h("div", { class: "stars", role: "group", "aria-label": t("widget.rate") },
      [1, 2, 3, 4, 5].map((n) => h("button", { type: "button", "aria-pressed": "false",
        "aria-label": t("widget.stars", { n }), text: "\u2605", onclick: (e) => {
          rating = n;
          for (const b of stars.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
          stars.dataset.rating = n;
        } })));
    const comment = h("textarea", { id: "sb-cm", rows: 2, maxlength: 2000 });
    const svMsg = h("p", { class: "muted", role: "status" });
    const survey = h("form", { class: "survey" }, h("h3", { text: t("widget.how_did_we_do") }), stars,
      h("label", { for: "sb-cm", text: t("widget.comment") }), comment,
      h("button", { type: "submit", text: t("widget.send_feedback") }), svMsg);
    survey.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!rating) { svMsg.textContent = t("widget.choose_rating"); stars.firstChild.focus(); return; }
      send({ type: "rate", conversation_id: st.conv, rating, comment: comment.value.trim().slice(0, 2000) });
      survey.replaceChildren(h("p", { role: "status", text: t("widget.thanks_feedback") }));
    });
    const again = h("button", { class: "primary", type: "button", text: t("widget.new_chat"),
      onclick: restart });
    body.append(h("div", { class: "after" }, tr, survey, again));
    (st.email ? trBtn : stars.firstChild).dataset.autofocus = "";
  }

  function restart() {
    stop();
    cfg = null; // who is online may have changed
    st = Object.assign(fresh(), { token: st.token, open: st.open });
    save();
    endBtn.hidden = true;
    clear(body);
    route();
    startTracking();
  }

  /* ---- the socket --------------------------------------------------------------------------- */
  let ws = null, live = false, attempt = 0, reconnectTimer = 0, pingTimer = 0, retryTimer = 0, lastHeard = 0;
  let stopped = false;
  async function token() {
    if (st.token) return st.token;
    const r = await fetch(TOKEN_URL, { method: "POST", credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ site_key: SITE, visitor_id: visitorId(), identity: ID }) });
    if (r.status === 403) { // this page's address is not one the site allows: retrying won't help
      const e = new Error(((await r.json().catch(() => ({}))).error || {}).message || t("widget.origin_refused"));
      e.refused = true;
      throw e;
    }
    if (!r.ok) throw new Error("token " + r.status);
    const data = await r.json();
    keepVisitor(data);
    st.token = data.token; save();
    return st.token;
  }

  async function connect() {
    stopped = false;
    if (ws || !navigator.onLine) return;
    clearTimeout(reconnectTimer);
    let tok;
    try { tok = await token(); } catch (e) {
      if (!e.refused) return later();
      stopped = true;
      conn.hidden = false;
      conn.textContent = t("widget.cannot_connect", { error: e.message });
      return;
    }
    if (ws || stopped) return;
    const sock = ws = new WebSocket(WS_URL);
    sock.onopen = () => sock.send(JSON.stringify({ type: "auth", token: tok }));
    sock.onmessage = (e) => {
      lastHeard = Date.now();
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (f && typeof f.type === "string") onFrame(f);
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null; live = false;
      clearInterval(pingTimer); clearInterval(retryTimer);
      if (e.code === 4401) { st.token = null; save(); }
      later();
    };
  }
  function later() {
    if (stopped) return;
    conn.hidden = false;
    const delay = Math.min(10000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
    reconnectTimer = setTimeout(connect, delay);
  }
  function drop() { if (ws) { const s = ws; ws = null; live = false; s.close(); clearInterval(pingTimer); clearInterval(retryTimer); } }
  function stop() { stopped = true; clearTimeout(reconnectTimer); drop(); }
  function send(f) {
    if (live && ws && ws.readyState === 1) ws.send(JSON.stringify(f));
  }
  function flush() { for (const f of Object.values(st.out)) if (f.conversation_id !== null) send(f); }
  window.addEventListener("offline", () => { drop(); conn.hidden = false; });
  window.addEventListener("online", () => { if (st.conv || Object.keys(st.out).length) { attempt = 0; connect(); } });

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        live = true; attempt = 0; conn.hidden = true; lastHeard = Date.now();
        clearInterval(pingTimer); clearInterval(retryTimer);
        pingTimer = setInterval(() => {
          if (Date.now() - lastHeard < PING_MS * 1.5) { send({ type: "ping" }); return; }
          drop(); later(); // silent half-open socket
        }, PING_MS);
        retryTimer = setInterval(flush, RETRY_MS);
        if (st.conv) send({ type: "resume", conversation_id: st.conv, after_seq: seen });
        flush();
        pageView(beaconed === location.href); // the beacon's page: told, not counted again
        beaconed = null;
        break;
      case "invitation":
        invited(f);
        break;
      case "started":
        if (f.client_id === st.invitation) {
          st.invitation = null; st.conv = f.conversation_id; st.number = f.number; save();
          chatView();
          statusLine.textContent = t("widget.connecting_agent");
          send({ type: "resume", conversation_id: st.conv, after_seq: seen });
        } else if (st.out[f.client_id]) {
          delete st.out[f.client_id];
          st.conv = f.conversation_id; st.number = f.number;
          for (const o of Object.values(st.out)) if (o.conversation_id === null) o.conversation_id = st.conv;
          save();
          flush();
          bubble({ client_id: f.client_id, author_kind: "contact" });
          statusLine.textContent = t("widget.waiting", { number: f.number });
          // A signed-in visitor may come back to a chat opened elsewhere: show what it holds.
          send({ type: "resume", conversation_id: st.conv, after_seq: seen });
          kbHook("started", { conversation_id: f.conversation_id, token: st.token });
        }
        break;
      case "ack":
        if (st.out[f.client_id]) { delete st.out[f.client_id]; save(); }
        bubble({ client_id: f.client_id, seq: f.seq, author_kind: "contact" });
        break;
      case "message":
        if (f.conversation_id !== st.conv) break;
        if (f.client_id && st.out[f.client_id]) { delete st.out[f.client_id]; }
        if (f.seq > seen) seen = f.seq;
        save();
        bubble(f);
        if (f.author_kind !== "contact") typingLine.textContent = "";
        break;
      case "state":
        if (f.conversation_id !== st.conv) break;
        st.number = f.number;
        if (f.agent_name) { st.agent = f.agent_name; statusLine.textContent = t("widget.chatting_with", { name: f.agent_name }); }
        save();
        if ((f.status === "resolved" || f.status === "closed") && !st.ended) ended("agent");
        break;
      case "queued":
        statusLine.textContent = f.position > 0 ? t("widget.queue_position", { position: f.position }) +
          (f.eta_s != null ? " " + t("widget.queue_eta", { wait: wait(f.eta_s) }) : "") : t("widget.connecting_agent");
        break;
      case "assigned":
        st.agent = f.agent_name; save();
        statusLine.textContent = t("widget.chatting_with", { name: f.agent_name });
        break;
      case "participant_joined":
        system(t("widget.joined", { name: f.name }));
        break;
      case "participant_left":
        system(t("widget.left", { name: f.name }));
        break;
      case "typing":
        clearTimeout(typingTimer);
        typingLine.textContent = f.active ? t("widget.typing", { name: f.author_name || t("widget.agent") }) : "";
        if (f.active) typingTimer = setTimeout(() => { typingLine.textContent = ""; }, 8000);
        break;
      case "ended":
        if (f.conversation_id === st.conv) ended(f.by);
        break;
      case "done": {
        const msg = f.op === "transcript" && body.querySelector(".transcript [role=status]");
        // Accepted and queued for the mail worker, which retries while the mail server is
        // slow or away: it is on its way, not yet delivered.
        if (msg) msg.textContent = t("widget.transcript_queued", { email: st.email });
        break;
      }
      case "error":
        if (f.ref === "transcript") {
          const msg = body.querySelector(".transcript [role=status]");
          if (msg) msg.textContent = t("widget.not_sent", { error: f.message });
          break;
        }
        if (f.ref === "resume" && f.code !== "rate_limited") { // the token no longer owns it
          restart();
          break;
        }
        if (f.client_id && st.out[f.client_id] && f.code !== "rate_limited" && f.code !== "not_authenticated") {
          delete st.out[f.client_id]; save();
          const li = log && log.querySelector('[data-cid="' + CSS_escape(f.client_id) + '"]');
          if (li) { li.classList.add("failed"); li.append(h("span", { class: "who", text: t("widget.not_sent", { error: f.message }) })); }
        }
        break;
      case "reload":
        drop(); attempt = 0; connect();
        break;
    }
  }
  const wait = (s) => (s < 60 ? t("widget.wait_short") : t("widget.wait_minutes", { minutes: Math.round(s / 60) }));

  function CSS() {
    return ":host{all:initial}" +
      ".sb{position:fixed;right:20px;bottom:20px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1d2330;text-align:left;letter-spacing:normal;text-transform:none}" +
      ".sb *{box-sizing:border-box;margin:0;font:inherit;letter-spacing:inherit}" +
      "[hidden]{display:none!important}" +
      "button{cursor:pointer;border:0;border-radius:8px;padding:8px 12px;background:#eef1f7;color:#1d2330}" +
      "button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #9db5ff;outline-offset:1px}" +
      ".launch{position:absolute;right:0;bottom:0;width:56px;height:56px;border-radius:50%;background:var(--sb-brand,#2f5bea);box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}" +
      ".bubble{display:block;width:24px;height:20px;background:#fff;border-radius:10px 10px 10px 2px}" +
      ".panel{position:absolute;right:0;bottom:70px;width:370px;max-width:calc(100vw - 24px);height:560px;max-height:calc(100vh - 100px);display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden}" +
      "header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--sb-brand,#2f5bea);color:#fff}" +
      ".title{flex:1;font-size:16px;font-weight:600}" +
      "header button{background:rgba(255,255,255,.18);color:#fff;padding:4px 10px}" +
      ".conn{background:#fff4d6;padding:6px 14px;font-size:13px}" +
      ".body{flex:1;display:flex;flex-direction:column;overflow:auto;padding:14px;gap:10px}" +
      ".field{display:flex;flex-direction:column;gap:4px;margin-bottom:10px}.note{margin:0 0 10px}" +
      ".field.check{flex-direction:row;align-items:center}.greeting{margin:0 0 10px}" +
      ".logo{max-height:24px;max-width:96px;vertical-align:middle;margin-right:8px}" +
      "label{font-size:13px;font-weight:600}" +
      "input,select,textarea{display:block;width:100%;border:1px solid #c5cbd8;border-radius:8px;padding:8px;background:#fff;font-size:14px}" +
      "[aria-invalid=true]{border-color:#c62828}" +
      ".primary{background:var(--sb-brand,#2f5bea);color:#fff;font-weight:600;padding:10px 14px}" +
      "button:disabled{opacity:.6;cursor:default}" +
      ".muted{color:#5d6575;font-size:13px}.error{color:#c62828;font-size:13px}" +
      ".status{font-size:13px;color:#5d6575}" +
      ".log{list-style:none;padding:0;flex:1;display:flex;flex-direction:column;gap:8px;overflow:auto;min-height:120px}" +
      ".msg{max-width:85%;padding:8px 11px;border-radius:12px;background:#eef1f7;white-space:pre-wrap;overflow-wrap:anywhere}" +
      ".msg.me{align-self:flex-end;background:var(--sb-brand,#2f5bea);color:#fff}" +
      ".msg.pending{opacity:.6}.msg.failed{background:#fde2e2;color:#7a1010}" +
      ".msg.sys{align-self:center;background:none;color:#5d6575;font-size:12px}" +
      ".who{display:block;font-size:11px;font-weight:600;opacity:.8}" +
      ".typing{min-height:18px;font-size:12px;color:#5d6575;font-style:italic}" +
      ".bar{display:flex;gap:8px;align-items:flex-end}.compose{flex:1;resize:none}" +
      ".attach{padding:6px 12px;font-size:20px;line-height:1.2;font-weight:600}.up:empty{display:none}" +
      ".file{display:block;color:inherit;text-decoration:underline}.fileset{display:flex;flex-direction:column;gap:4px}" +
      ".thumb{max-width:100%;max-height:160px;border-radius:8px;background:#fff;object-fit:contain}" +
      ".link{background:none;color:#fff;text-decoration:underline;padding:4px}" +
      ".after{display:flex;flex-direction:column;gap:14px;border-top:1px solid #e3e7ef;padding-top:12px}" +
      ".row,.survey{display:flex;flex-direction:column;gap:6px}" +
      ".stars{display:flex;gap:4px}.stars button{font-size:20px;padding:2px 8px;color:#9aa3b5}" +
      ".stars button[aria-pressed=true]{color:#e0a100;background:#fff4d6}" +
      ".done h3{font-size:16px;margin-bottom:6px}" +
      ".invite{display:flex;flex-direction:column;gap:10px}.invite .msg{max-width:100%}" +
      "@media (max-width:480px){.sb{right:12px;bottom:12px}.panel{position:fixed;inset:0;width:100vw;max-width:none;height:100%;max-height:none;border-radius:0}.panel:not([hidden])~.launch{display:none}}";
  }

  /* ---- Who's On: page views and invitations ------------------------------------------------- */
  let consent = window.SwitchboardTracking !== false;
  const privacy = () => navigator.doNotTrack === "1" || window.doNotTrack === "1" ||
    navigator.globalPrivacyControl === true;
  let tracking = false;
  async function startTracking() {
    if (!consent || privacy()) return;
    try { tracking = (await loadConfig()).tracking === true; } catch (e) { return; }
    if (!tracking) return;
    if (!live) await beacon();
    connect();
  }
  let lastHref = null, beaconed = null;
  const cut = (v, n) => String(v || "").slice(0, n);
  const viewed = () => ({ url: cut(location.href, 2048), title: cut(document.title, 300),
    referrer: cut(document.referrer, 2048), lang: cut(navigator.language, 35) });
  function pageView(repeat) {
    if (!tracking || !consent || privacy()) return;
    lastHref = location.href;
    send(Object.assign({ type: "page_view", repeat: !!repeat }, viewed()));
  }
  // The page view before the socket exists (docs/protocol.md, "Page-view beacon"): agents see
  // the page while the socket opens, or if it never does. text/plain keeps it a simple
  // request (no preflight); its answer is never read. The socket then repeats it (rules are
  // the socket's), marked so it is not counted twice.
  async function beacon() {
    if (!navigator.sendBeacon) return;
    let tok;
    try { tok = await token(); } catch (e) { return; } // connect() says why
    if (live || !tracking || !consent || privacy()) return;
    const body = JSON.stringify(Object.assign({ site_key: SITE, token: tok }, viewed()));
    if (navigator.sendBeacon(BEACON_URL, new Blob([body], { type: "text/plain" }))) {
      lastHref = beaconed = location.href;
    }
  }
  window.Switchboard = Object.freeze({ track(on) {
    consent = !!on;
    if (consent) startTracking();
    else { tracking = false; if (!st.conv && !Object.keys(st.out).length) stop(); }
  } });
  // A hash change fires both: one page view per address.
  const navigated = () => { if (location.href !== lastHref) pageView(); };
  window.addEventListener("popstate", navigated);
  window.addEventListener("hashchange", navigated);

  function invited(f) {
    if (st.conv && !st.ended) return; // in a chat already
    const id = f.invitation_id;
    const answer = (accept) => {
      st.invitation = accept ? "inv-" + cid() : null; save();
      send({ type: "invitation_answer", invitation_id: id, accept,
        client_id: st.invitation || "inv-no", language: LANG });
      if (!accept) { clear(body); toggle(false); }
      else clear(body).append(h("p", { class: "muted", role: "status", text: t("widget.connecting") }));
    };
    if (st.ended) { st = Object.assign(fresh(), { token: st.token, open: st.open }); save(); }
    clear(body).append(h("div", { class: "invite" },
      h("p", { class: "who", text: t("widget.invites", { name: f.agent_name }) }),
      h("p", { class: "msg", text: f.text }),
      h("div", { class: "bar" },
        h("button", { class: "primary", type: "button", text: t("widget.accept"), "data-autofocus": "",
          onclick: () => answer(true) }),
        h("button", { type: "button", text: t("widget.decline"), onclick: () => answer(false) }))));
    toggle(true);
  }

  /* ---- boot ---------------------------------------------------------------------------------- */
  const boot = () => {
    document.body.append(host);
    if (st.conv || Object.keys(st.out).length) { chatView(); if (!st.ended) connect(); }
    if (st.open) toggle(true);
    startTracking();
  };
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
