// The knowledge report in the KB editor (GET /api/kb/reports): views, searches and those that
// found nothing, deflections, articles agents inserted, over a period in the browser's zone.
// The searches with no result are the list to act on: each offers to start that article.

import { get } from "./api.js";
import { h } from "./dom.js";

const PERIODS = [[7, "Last 7 days"], [30, "Last 30 days"], [90, "Last 90 days"]];
const FIGURES = [["views", "Article views"], ["searches", "Searches"],
  ["searches_no_result", "Searches with no result"], ["deflections", "Deflections"],
  ["inserted", "Inserted by agents"]];

export class KnowledgeReport {
  // onWrite(title): start a new article; onOpen(id): open one; onClose: back to the list.
  constructor({ onWrite, onOpen, onClose }) {
    Object.assign(this, { onWrite, onOpen, onClose });
    this.days = 30;
    this.el = h("section", { class: "kb-report", "aria-labelledby": "kb-r-h" });
  }

  async show(site) {
    const to = new Date();
    const from = new Date(to.getTime() - this.days * 86400000);
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const r = await get(`/api/kb/reports?site_id=${site.site_id}&grain=day&tz=${encodeURIComponent(zone)}`
      + `&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
    const period = h("select", { id: "kb-r-period", "aria-label": "Period" },
      PERIODS.map(([d, label]) => h("option", { value: String(d), text: label, selected: d === this.days })));
    period.addEventListener("change", () => { this.days = Number(period.value); this.show(site); });
    const t = r.totals;
    this.el.replaceChildren(
      h("div", { class: "row" }, h("button", { type: "button", class: "link", text: "← All articles", onclick: () => this.onClose() }),
        h("h2", { id: "kb-r-h", text: `Knowledge report: ${site.name}` }), period),
      h("div", { class: "kpis" }, FIGURES.map(([key, label]) => h("div", { class: "kpi", "data-figure": key },
        h("span", { class: "label", text: label }), h("span", { class: "value", text: String(t[key]) }),
        key === "deflections" && t.deflections_pending
          ? h("span", { class: "prev", text: `${t.deflections_pending} still open` }) : null))),
      h("div", { class: "kb-report-lists" },
        this.list("Searches with no result", r.no_result_queries, (q) => [
          h("span", { class: "t", text: q.query }), h("span", { class: "muted", text: `× ${q.count}` }),
          h("button", { type: "button", text: "Write an article", "aria-label": `Write an article for ${q.query}`,
            onclick: () => this.onWrite(q.query) })], "kb-r-empty"),
        this.list("Most read", r.top_viewed, (a) => this.article(a), "kb-r-read"),
        this.list("Most inserted by agents", r.top_inserted, (a) => this.article(a), "kb-r-inserted")));
  }

  list(title, rows, item, id) {
    return h("section", { "aria-labelledby": id }, h("h3", { id, text: title }),
      rows.length ? h("ul", { class: "kb-report-list" }, rows.map((row) => h("li", {}, item(row))))
        : h("p", { class: "muted", text: "Nothing in this period." }));
  }

  article(a) {
    return [h("button", { type: "button", class: "link", text: a.title || `#${a.article_id}`,
      onclick: () => this.onOpen(a.article_id) }), h("span", { class: "muted", text: `× ${a.count}` })];
  }
}
