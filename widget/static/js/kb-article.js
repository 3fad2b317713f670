// One article in the knowledge-base editor: its fields, the Markdown with a live preview that
// the server renders and sanitises (POST /api/kb/preview, the renderer published articles go
// through), image upload, publishing, translations and the revisions with their diff.
//
// The rules stay on the server: whether this person may publish comes with the site
// (``may_publish``), and an edit of a published article by someone who may not is saved as
// a proposed revision there. The page only shows what the answers say.

import { csrfToken, get, patch, post } from "./api.js";
import { announce, h } from "./dom.js";

const PREVIEW_MS = 300;
const IMAGE_TYPES = "image/png,image/jpeg,image/gif,image/webp";
// The preview frame's own look: the article as a reader sees it, no script (sandboxed).
const FRAME_STYLE = "body{font:15px/1.55 system-ui,sans-serif;color:#1d2330;margin:12px}" +
  "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #dde2ec;padding:4px 8px}" +
  "pre{background:#f4f6fa;padding:8px;overflow:auto}";

function field(label, id, input, hint) {
  return h("div", { class: "kb-field" }, h("label", { for: id, text: label }), input,
    hint ? h("span", { class: "hint", text: hint }) : null);
}

function words(value) {
  return value.split(",").map((w) => w.trim()).filter(Boolean);
}

function ids(value) {
  return words(value).map(Number);
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ArticleEditor {
  // site: GET /api/kb/sites entry; topics; names: agent id -> name; onChange: the list's
  // refresh; onOpen(id | {translationOf, language, title}): open another article.
  constructor({ site, topics, names, onChange, onOpen, onClose }) {
    Object.assign(this, { site, topics, names, onChange, onOpen, onClose });
    this.article = null;
    this.previewSeq = 0;
    this.el = h("section", { class: "kb-editor", "aria-labelledby": "kb-edit-h" });
  }

  async open(id) {
    this.article = await get(`/api/kb/articles/${id}`);
    this.revisions = await get(`/api/kb/articles/${id}/revisions`);
    this.render();
  }

  create({ translationOf = null, language = null, title = "" } = {}) {
    this.article = null;
    this.revisions = [];
    this.draft = { translationOf, language: language || this.site.default_language, title };
    this.render();
  }

  // --- the form -------------------------------------------------------------------------

  render() {
    const a = this.article;
    const latest = a ? a.latest : null;
    this.title = h("input", { id: "kb-title", maxlength: 200, required: true,
      value: latest ? latest.title : this.draft.title });
    this.language = h("select", { id: "kb-language", disabled: !!a },
      this.site.languages.map((l) => h("option", { value: l, text: l,
        selected: l === (a ? a.language : this.draft.language) })));
    this.topic = h("select", { id: "kb-topic" }, h("option", { value: "", text: "No topic" }),
      this.topics.map((t) => h("option", { value: String(t.id), text: t.name,
        selected: a && a.topic_id === t.id })));
    this.audience = h("select", { id: "kb-audience" },
      h("option", { value: "public", text: "Public: everyone", selected: !a || a.audience === "public" }),
      h("option", { value: "internal", text: "Internal: agents only", selected: a && a.audience === "internal" }));
    this.slug = h("input", { id: "kb-slug", value: a ? a.slug : "", placeholder: "from the title" });
    this.tags = h("input", { id: "kb-tags", value: a ? a.tags.join(", ") : "" });
    this.related = h("input", { id: "kb-related", value: a ? a.related_ids.join(", ") : "",
      inputmode: "numeric" });
    this.body = h("textarea", { id: "kb-body", rows: 18, spellcheck: "true",
      "aria-describedby": "kb-body-hint" });
    this.body.value = latest ? latest.body : "";
    this.body.addEventListener("input", () => this.schedulePreview());
    this.frame = h("iframe", { class: "kb-preview", title: "Preview", sandbox: "allow-same-origin" });
    this.error = h("p", { class: "error", role: "alert" });
    this.el.replaceChildren(...[
      h("div", { class: "row" },
        h("button", { type: "button", class: "link", text: "← All articles", onclick: () => this.onClose() }),
        h("h2", { id: "kb-edit-h", text: a ? latest.title : (this.draft.translationOf ? "New translation" : "New article") }),
        a ? this.badges(a) : null),
      a ? this.stateLine(a) : null,
      h("form", { class: "kb-form", onsubmit: (e) => { e.preventDefault(); this.save(false); } },
        h("div", { class: "kb-fields" },
          field("Title", "kb-title", this.title),
          field("Language", "kb-language", this.language),
          field("Topic", "kb-topic", this.topic),
          field("Audience", "kb-audience", this.audience),
          field("Address (slug)", "kb-slug", this.slug),
          field("Tags", "kb-tags", this.tags, "comma-separated"),
          field("Related articles", "kb-related", this.related, "article numbers, comma-separated")),
        h("div", { class: "kb-split" },
          h("div", { class: "kb-field" }, h("label", { for: "kb-body", text: "Text (Markdown)" }), this.body,
            h("span", { id: "kb-body-hint", class: "hint",
              text: "Raw HTML, scripts and images from other sites are removed; only uploaded images show." })),
          h("div", { class: "kb-field" }, h("span", { class: "label", text: "Preview" }), this.frame)),
        this.error,
        this.actions(a)),
      a ? this.translations(a) : null,
      a ? this.history(a) : null].filter(Boolean));
    this.preview();
  }

  badges(a) {
    return h("span", { class: "row" },
      h("span", { class: "badge", "data-status": a.status, text: a.status }),
      h("span", { class: "badge", "data-audience": a.audience, text: a.audience }),
      h("span", { class: "muted", text: `#${a.id} · ${a.language}` }));
  }

  stateLine(a) {
    const live = a.published_revision;
    const waiting = live != null && a.revision !== live;
    return h("p", { class: waiting ? "kb-state waiting" : "kb-state muted" },
      `Revision ${a.revision}`, live != null ? ` · live: revision ${live}` : " · never published",
      waiting ? ` · revision ${a.revision} is waiting to be published` : "",
      a.status === "published" ? [" · ", h("a", { href: this.publicUrl(a), target: "_blank",
        rel: "noopener", text: "Open the public page" })] : null);
  }

  publicUrl(a) {
    return `/kb/${encodeURIComponent(this.site.key)}/${a.language}/a/${a.id}/${a.slug}`;
  }

  actions(a) {
    const may = this.site.may_publish;
    this.upload = h("input", { id: "kb-image", type: "file", accept: IMAGE_TYPES, class: "sr-only",
      onchange: () => this.uploadImage() });
    return h("div", { class: "row kb-actions" },
      h("label", { class: "button", for: "kb-image", text: "Upload image" }), this.upload,
      h("span", { class: "spacer" }),
      may && a && a.status === "published" ? h("button", { type: "button", text: "Unpublish",
        onclick: () => this.act(() => post(`/api/kb/articles/${a.id}/archive`), "Unpublished") }) : null,
      may && a && (a.status !== "published" || a.revision !== a.published_revision)
        ? h("button", { type: "button", text: `Publish revision ${a.revision}`,
          onclick: () => this.act(() => post(`/api/kb/articles/${a.id}/publish`, { revision: a.revision }), "Published") })
        : null,
      h("button", { type: "submit", text: a ? (may || a.status === "draft" ? "Save" : "Propose this revision") : "Save draft" }),
      may ? h("button", { type: "button", class: "primary", text: "Save and publish",
        onclick: () => this.save(true) }) : null);
  }

  // --- preview and images ------------------------------------------------------------------

  schedulePreview() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.preview(), PREVIEW_MS);
  }

  async preview() {
    const asked = ++this.previewSeq;
    let html;
    try {
      html = (await post("/api/kb/preview", { body: this.body.value })).html;
    } catch (e) {
      html = "";
      this.error.textContent = e.message;
    }
    if (asked !== this.previewSeq) return;
    // Sanitised by the server (desk.kb.render), shown in a frame that runs no script.
    this.frame.srcdoc = `<!doctype html><meta charset="utf-8"><style>${FRAME_STYLE}</style><body>${html}</body>`;
  }

  async uploadImage() {
    const file = this.upload.files[0];
    if (!file) return;
    this.error.textContent = "";
    const r = await fetch(`/api/kb/images?site_id=${this.site.site_id}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": csrfToken() } });
    const data = await r.json().catch(() => ({}));
    this.upload.value = "";
    if (!r.ok) {
      this.error.textContent = (data.error && data.error.message) || `Upload failed (HTTP ${r.status})`;
      return;
    }
    const alt = file.name.replace(/\.[a-z0-9]+$/i, "").replace(/[[\]]/g, "");
    const at = this.body.selectionStart ?? this.body.value.length;
    const text = `![${alt}](${data.url})`;
    this.body.value = this.body.value.slice(0, at) + text + this.body.value.slice(at);
    this.body.focus();
    this.preview();
    announce("Image uploaded");
  }

  // --- saving --------------------------------------------------------------------------------

  fields() {
    const out = { title: this.title.value, body: this.body.value, audience: this.audience.value,
      topic_id: this.topic.value ? Number(this.topic.value) : null, tags: words(this.tags.value),
      related_ids: ids(this.related.value) };
    if (this.slug.value.trim()) out.slug = this.slug.value.trim();
    return out;
  }

  // Only what changed goes in an update: an agent may propose a published article's text but
  // not change its settings, and an unchanged text makes no revision.
  changes() {
    const a = this.article;
    const now = this.fields();
    const was = { title: a.latest.title, body: a.latest.body, audience: a.audience,
      topic_id: a.topic_id, tags: a.tags, related_ids: a.related_ids, slug: a.slug };
    return Object.fromEntries(Object.entries(now).filter(([k, v]) => !same(v, was[k])));
  }

  async save(publish) {
    this.error.textContent = "";
    try {
      let id;
      if (!this.article) {
        const made = await post("/api/kb/articles", { ...this.fields(), site_id: this.site.site_id,
          language: this.language.value, publish,
          ...(this.draft.translationOf ? { translation_of: this.draft.translationOf } : {}) });
        id = made.id;
      } else {
        id = this.article.id;
        const body = this.changes();
        if (publish) body.publish = true;
        if (Object.keys(body).length) await patch(`/api/kb/articles/${id}`, body);
      }
      await this.open(id);
      this.onChange();
      announce(publish ? "Saved and published" : "Saved");
    } catch (e) {
      this.error.textContent = e.message;
    }
  }

  async act(call, said) {
    this.error.textContent = "";
    try {
      await call();
      await this.open(this.article.id);
      this.onChange();
      announce(said);
    } catch (e) {
      this.error.textContent = e.message;
    }
  }

  // --- translations --------------------------------------------------------------------------

  translations(a) {
    const have = new Set([a.language, ...a.translations.map((t) => t.language)]);
    const missing = this.site.languages.filter((l) => !have.has(l));
    const lang = h("select", { id: "kb-translate-to", "aria-label": "Language of the translation" },
      missing.map((l) => h("option", { value: l, text: l })));
    return h("section", { class: "kb-translations", "aria-labelledby": "kb-tr-h" },
      h("h3", { id: "kb-tr-h", text: "Translations" }),
      a.translations.length ? h("ul", {}, a.translations.map((t) => h("li", {},
        h("button", { type: "button", class: "link", text: `${t.language}: #${t.id}`,
          onclick: () => this.onOpen(t.id) }), " ", h("span", { class: "badge", "data-status": t.status, text: t.status }))))
        : h("p", { class: "muted", text: "No translations yet." }),
      missing.length ? h("div", { class: "row" }, lang, h("button", { type: "button", text: "Add translation",
        onclick: () => this.onOpen({ translationOf: a.id, language: lang.value, title: a.latest.title }) })) : null);
  }

  // --- revisions -----------------------------------------------------------------------------

  history(a) {
    this.diffBox = h("div", { class: "kb-diff-box", hidden: true });
    const rows = this.revisions.map((r) => h("tr", { "data-revision": r.number },
      h("td", { text: String(r.number) }),
      h("td", { text: this.names.get(r.author_id) || "—" }),
      h("td", { text: r.created_at ? new Date(r.created_at).toLocaleString() : "" }),
      h("td", {}, r.number === a.published_revision ? h("span", { class: "badge", "data-status": "published", text: "live" }) : null,
        r.number === a.revision && r.number !== a.published_revision ? h("span", { class: "badge", text: "latest" }) : null),
      h("td", { class: "row" },
        r.number > 1 ? h("button", { type: "button", text: "Changes", "aria-label": `Changes in revision ${r.number}`,
          onclick: () => this.showDiff(r.number - 1, r.number) }) : null,
        a.published_revision && r.number !== a.published_revision ? h("button", { type: "button",
          text: "Compare with live", onclick: () => this.showDiff(a.published_revision, r.number) }) : null,
        r.number !== a.revision ? h("button", { type: "button", text: "Restore",
          "aria-label": `Restore revision ${r.number}`, onclick: () => this.restore(r) }) : null)));
    return h("section", { class: "kb-history", "aria-labelledby": "kb-rev-h" },
      h("h3", { id: "kb-rev-h", text: "Revisions" }),
      h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["#", "By", "Saved", "", ""].map((t) => h("th", { text: t })))),
        h("tbody", {}, rows)),
      this.diffBox);
  }

  async showDiff(from, to) {
    const d = await get(`/api/kb/articles/${this.article.id}/diff?from=${from}&to=${to}`);
    const lines = (ops) => h("ul", { class: "kb-diff" }, ops.map(([op, text]) => op === "…"
      ? h("li", { "data-op": "skip", text: `… ${text} unchanged line${text === "1" ? "" : "s"}` })
      : h("li", { "data-op": op === "+" ? "add" : op === "-" ? "del" : "same", text: `${op === "=" ? " " : op} ${text}` })));
    const titleChanged = d.title.some(([op]) => op === "+" || op === "-");
    this.diffBox.replaceChildren(h("h4", { text: `Revision ${d.from} → ${d.to}` }),
      ...(titleChanged ? [h("p", { class: "hint", text: "Title" }), lines(d.title)] : []),
      h("p", { class: "hint", text: "Text" }), lines(d.body),
      h("button", { type: "button", class: "link", text: "Close", onclick: () => { this.diffBox.hidden = true; } }));
    this.diffBox.hidden = false;
    this.diffBox.scrollIntoView({ block: "nearest" });
  }

  // A restore saves the old text as a new revision (nothing is lost); publishing it is a
  // separate step, for whoever may publish.
  async restore(r) {
    await this.act(() => patch(`/api/kb/articles/${this.article.id}`, { title: r.title, body: r.body }),
      `Revision ${r.number} restored as a new revision`);
  }
}
