// My tasks beside the queue: internal to-dos with a due time and a reminder, about cases,
// chats or call logs (typed by number). The worker sends each reminder once by mail and pushes
// it to the owner's consoles (a task_reminder frame); here each reminder is announced once in
// this browser (and as a desktop notification when the agent allowed them for offers), whether
// it arrived pushed or was found in the list when the console loaded.

import { ApiError, get, patch, post } from "./api.js";
import { announce, h } from "./dom.js";

const SEEN_KEY = "sb-task-reminders-seen";
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
const zoned = (value) => (value ? new Date(value).toISOString() : null);

export class MyTasks {
  constructor({ open, notice }) {
    this.open = open;
    this.notice = notice;
    this.list = h("ul", { class: "my-tasks" });
    this.title = h("input", { id: "task-title", maxlength: 200, required: true });
    this.due = h("input", { id: "task-due", type: "datetime-local" });
    this.remind = h("input", { id: "task-remind", type: "datetime-local" });
    this.about = h("input", { id: "task-about", placeholder: "SB-1234567", maxlength: 12 });
    this.status = h("p", { class: "muted", role: "status" });
    const row = (label, input) => h("div", {}, h("label", { for: input.id, text: label }), input);
    this.form = h("form", { class: "task-form", "aria-label": "New task" },
      row("Task", this.title), row("Due", this.due), row("Remind me", this.remind),
      row("About case", this.about), h("button", { type: "submit", text: "Add task" }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.add(); });
    this.el = h("section", { "aria-labelledby": "tasks-h" },
      h("h2", { id: "tasks-h", text: "My tasks" }), this.list,
      h("details", {}, h("summary", { text: "New task" }), this.form), this.status);
  }

  async related() {
    const number = this.about.value.trim();
    if (!number) return [];
    const found = await get(`/api/conversations/search?number=${encodeURIComponent(number)}`);
    if (!found.items.length) throw new ApiError(422, "invalid", `no case ${number} you may open`, "related");
    return [found.items[0].id];
  }

  async add() {
    try {
      await post("/api/tasks", { title: this.title.value, due_at: zoned(this.due.value),
        remind_at: zoned(this.remind.value), related: await this.related() });
      this.form.reset();
      this.status.textContent = "Task added";
      await this.refresh();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.status.textContent = e.message;
    }
  }

  async refresh() {
    const rows = await get("/api/tasks?owner_id=me");
    this.list.replaceChildren(...(rows.length ? rows.map((t) => this.item(t))
      : [h("li", { class: "muted", text: "No open tasks." })]));
    this.remindOf(rows.filter((t) => t.reminded_at));
  }

  item(t) {
    return h("li", { class: t.overdue ? "overdue" : null }, h("strong", { text: t.title }),
      t.due_at ? ` due ${when(t.due_at)}` : "",
      t.overdue ? h("span", { class: "badge warn", text: "overdue" }) : null,
      ...t.related.map((c) => h("button", { type: "button", class: "link", text: c.number,
        onclick: () => this.open(c.id, c.number) })),
      h("button", { type: "button", text: "Done", "aria-label": `Done: ${t.title}`,
        onclick: () => patch(`/api/tasks/${t.id}`, { status: "done" }).then(() => this.refresh()) }));
  }

  // A pushed reminder: announced (once) and the list read again, for its new state.
  pushed(f) {
    this.remindOf([{ id: f.task_id, title: f.title, reminded_at: f.reminded_at }]);
    return this.refresh();
  }

  // Each reminder the worker sent is shown once (a reminder moved later is a new one).
  remindOf(reminded) {
    const seen = new Set(JSON.parse(localStorage.getItem(SEEN_KEY) || "[]"));
    for (const t of reminded) {
      const key = `${t.id}@${t.reminded_at}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.notice.textContent = `Reminder: ${t.title}`;
      announce(`Reminder: ${t.title}`);
      if ("Notification" in window && Notification.permission === "granted") new Notification(`Reminder: ${t.title}`);
    }
    localStorage.setItem(SEEN_KEY, JSON.stringify([...seen].slice(-200)));
  }
}
