// Accessible tabs (WAI-ARIA tabs pattern): arrow keys move between tabs, Home/End jump.

import { h } from "./dom.js";

export class Tabs {
  constructor(label) {
    this.list = h("div", { class: "tablist", role: "tablist", "aria-label": label });
    this.panels = h("div", { class: "panels" });
    this.el = h("div", { class: "tabs" }, this.list, this.panels);
    this.items = new Map(); // id -> { tab, panel }
    this.list.addEventListener("keydown", (e) => this.keydown(e));
  }

  add(id, label, content, { select = true, closable = false, onClose } = {}) {
    if (this.items.has(id)) {
      if (select) this.select(id);
      return this.items.get(id);
    }
    const tab = h("button", { class: "tab", role: "tab", type: "button", id: `tab-${id}`,
      "aria-controls": `panel-${id}`, "aria-selected": "false", tabindex: "-1",
      "data-tab": id, onclick: () => this.select(id) },
    h("span", { class: "label", text: label }), h("span", { class: "count", hidden: true }));
    const panel = h("div", { class: "panel", role: "tabpanel", id: `panel-${id}`,
      "aria-labelledby": `tab-${id}`, hidden: true }, content);
    const item = { tab, panel, onClose };
    if (closable) {
      tab.append(h("span", { class: "x", "aria-hidden": "true", text: "×",
        onclick: (e) => { e.stopPropagation(); this.remove(id); } }));
    }
    this.list.append(tab);
    this.panels.append(panel);
    this.items.set(id, item);
    if (select || this.items.size === 1) this.select(id);
    return item;
  }

  select(id) {
    for (const [key, { tab, panel }] of this.items) {
      const on = key === id;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
      if (on) tab.querySelector(".count").hidden = true;
    }
    this.current = id;
  }

  rename(id, label) {
    const item = this.items.get(id);
    if (item) item.tab.querySelector(".label").textContent = label;
  }

  // Mark unseen activity on a background tab.
  ping(id) {
    const item = this.items.get(id);
    if (!item || this.current === id) return;
    const count = item.tab.querySelector(".count");
    count.textContent = String(Number(count.textContent || 0) + 1);
    count.hidden = false;
  }

  // Show ``n`` on a tab whatever is selected (0 hides it): a standing count such as unread.
  count(id, n) {
    const item = this.items.get(id);
    if (!item) return;
    const count = item.tab.querySelector(".count");
    count.textContent = String(n);
    count.hidden = !n;
  }

  remove(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.tab.remove();
    item.panel.remove();
    this.items.delete(id);
    if (item.onClose) item.onClose();
    if (this.current === id && this.items.size) this.select(this.items.keys().next().value);
  }

  keydown(e) {
    const ids = [...this.items.keys()];
    const at = ids.indexOf(this.current);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: ids.length - 1 }[e.key];
    if (to === undefined || !ids.length) return;
    e.preventDefault();
    const id = ids[(to + ids.length) % ids.length];
    this.select(id);
    this.items.get(id).tab.focus();
  }
}
