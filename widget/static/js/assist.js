// Agent assist beside the reply box (chats and tickets): knowledge-base articles, canned responses and similar
// resolved conversations suggested from the conversation's text so far (refreshed as messages arrive), and the articles the
// visitor read before starting the chat. One click puts an article's link (public articles)
// or a snippet into the reply; internal articles offer only the snippet, to use in your own
// words. Suggestions come from GET /api/kb/assist; an insertion is recorded for the reports.

import { get, post } from "./api.js";
import { h } from "./dom.js";

const REFRESH_MS = 700;
const STYLE = `.assist{border:1px solid var(--line,#d9dee8);border-radius:8px;padding:8px 10px;
font-size:13px;background:var(--panel,#fafbfd)}.assist h3{font-size:13px;margin:4px 0}
.assist ul{list-style:none;margin:0;padding:0}.assist li{display:flex;flex-wrap:wrap;gap:6px;
align-items:baseline;margin:3px 0}.assist .t{flex:1 1 60%}.assist button{font-size:12px;
padding:2px 8px}.assist .internal{font-size:11px;color:#8a5a00;background:#fff3d6;
border-radius:4px;padding:0 4px}.assist .muted{color:var(--muted,#5b6474)}`;

function addStyle() {
  if (document.getElementById("assist-style")) return;
  document.head.append(h("style", { id: "assist-style", text: STYLE }));
}

export class AssistPanel {
  // pane: the ChatPane whose reply box gets the insertions (its ``input``).
  constructor(conversationId, pane) {
    addStyle();
    this.id = conversationId;
    this.pane = pane;
    this.read = h("ul", {});
    this.articles = h("ul", {});
    this.canned = h("ul", {});
    this.similar = h("ul", {});
    this.readBox = h("div", { hidden: true }, h("h3", { text: "Read before getting in touch" }), this.read);
    this.el = h("aside", { class: "assist", "aria-label": "Suggested articles", "aria-live": "polite" },
      this.readBox, h("h3", { text: "Suggested articles" }), this.articles,
      h("h3", { text: "Canned responses" }), this.canned,
      h("h3", { text: "Similar resolved conversations" }), this.similar);
    this.update();
  }

  update() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), REFRESH_MS);
  }

  async load() {
    let data;
    try { data = await get(`/api/kb/assist?conversation_id=${this.id}`); } catch (e) { return; }
    this.readBox.hidden = !data.read.length;
    this.read.replaceChildren(...data.read.map((a) => h("li", { text: a.title })));
    this.articles.replaceChildren(...(data.articles.length ? data.articles.map((a) => this.article(a))
      : [h("li", { class: "muted", text: "No matching articles yet." })]));
    this.canned.replaceChildren(...(data.canned.length ? data.canned.map((c) => h("li", {},
      h("span", { class: "t", text: `/${c.shortcut} ${c.title}` }),
      h("button", { type: "button", text: "Insert", onclick: () => this.put(this.pane.cannedText(c)) })))
      : [h("li", { class: "muted", text: "None match." })]));
    this.similar.replaceChildren(...(data.similar.length ? data.similar.map((c) => h("li",
      { "data-similar": c.id }, h("span", { class: "t", text: `${c.number} ${c.subject || ""}` }),
      h("span", { class: "muted", text: c.status })))
      : [h("li", { class: "muted", text: "None found." })]));
  }

  article(a) {
    return h("li", { "data-article": a.id },
      h("span", { class: "t", text: a.title }),
      a.audience === "internal" ? h("span", { class: "internal", text: "internal" }) : null,
      a.url ? h("button", { type: "button", text: "Insert link",
        onclick: () => this.put(`${a.title}: ${a.url}`, a.id) }) : null,
      h("button", { type: "button", text: "Insert snippet",
        onclick: () => this.put(a.description || a.snippet, a.id) }));
  }

  put(text, articleId) {
    const input = this.pane.input;
    input.value = input.value ? `${input.value.replace(/\s+$/, "")}\n${text}` : text;
    input.dispatchEvent(new Event("input"));
    input.focus();
    if (articleId) {
      post("/api/kb/events", { kind: "insert", article_id: articleId, conversation_id: this.id })
        .catch(() => {});
    }
  }
}
