// Agents: role, groups, skills with levels, how many chats and tickets they carry at once;
// deactivating ends their sessions, a password reset logs them out everywhere. Skills are
// created here too (routing asks for them by name).

import { get, patch, post } from "../api.js";
import { clear, h } from "../dom.js";
import { EditForm, Resource, rest } from "./form.js";

const ROLES = [["agent", "Agent"], ["supervisor", "Supervisor"], ["admin", "Admin"]];

// Skill: level pairs as rows of a skill picker and a level box.
function skillEditor(skills) {
  return (value, id) => {
    const list = h("ul", { class: "pairs" });
    const add = (name = "", level = 5) => {
      const pick = h("select", { "aria-label": "Skill" }, h("option", { value: "", text: "Choose…" }),
        skills.map((s) => h("option", { value: s.name, text: s.name, selected: s.name === name })));
      const lvl = h("input", { type: "text", inputmode: "numeric", size: 3, "aria-label": "Level (1 to 10)", value: level });
      const li = h("li", { class: "row" }, pick, lvl,
        h("button", { type: "button", class: "link", text: "Remove", onclick: () => li.remove() }));
      list.append(li);
    };
    for (const [n, l] of Object.entries(value || {})) add(n, l);
    const el = h("div", { id, class: "skills-editor" }, list,
      skills.length ? h("button", { type: "button", text: "Add skill", onclick: () => add() })
        : h("p", { class: "hint", text: "No skills yet: create them below." }));
    const get = () => Object.fromEntries([...list.children]
      .map((li) => [li.querySelector("select").value, li.querySelector("input").value.trim()])
      .filter(([n]) => n).map(([n, l]) => [n, /^\d+$/.test(l) ? Number(l) : l]));
    return { el, get };
  };
}

function resetPassword(agent, slot) {
  const form = new EditForm({
    title: `New password for ${agent.display_name}`, submitText: "Set password",
    fields: [{ name: "password", label: "New password", type: "password", required: true,
      help: "They are logged out everywhere and log in with this password." }],
    onCancel: () => clear(slot),
    onSubmit: async (body) => { await post(`/api/agents/${agent.id}/password`, { password: body.password ?? null }); },
  });
  clear(slot).append(form.el);
  form.el.querySelector("input").focus();
}

export async function agentsPage(lookups) {
  const agents = new Resource({
    id: "agents", title: "Agents", noun: "agent", ...rest("/api/agents"),
    columns: [["Name", (a) => a.display_name], ["Email", (a) => a.email], ["Role", (a) => a.role],
      ["Groups", (a) => a.group_ids.map((g) => lookups.groupName(g)).join(", ") || "—"],
      ["Skills", (a) => Object.entries(a.skills).map(([n, l]) => `${n} ${l}`).join(", ") || "—"],
      ["Capacity", (a) => `${a.chat_capacity} chats, ${a.ticket_capacity} tickets`],
      ["State", (a) => h("span", { class: "badge", "data-status": a.is_active ? "active" : "closed", text: a.is_active ? "active" : "deactivated" })]],
    defaults: { role: "agent", chat_capacity: 3, ticket_capacity: 10, is_active: true, group_ids: [], skills: {} },
    fields: (a) => [
      ...(a ? [] : [{ name: "email", label: "Email (login)", type: "email", required: true },
        { name: "password", label: "Password", type: "password", required: true }]),
      { name: "display_name", label: "Display name", required: true },
      { name: "role", label: "Role", type: "select", options: ROLES },
      { name: "group_ids", label: "Groups", type: "multi", int: true, options: lookups.groupOptions(), none: "No groups yet." },
      { name: "skills", label: "Skills and levels", render: skillEditor(lookups.skills) },
      { name: "chat_capacity", label: "Chats at once", type: "number", help: "0 to 50." },
      { name: "ticket_capacity", label: "Tickets at once", type: "number", help: "0 to 500." },
      ...(a ? [{ name: "is_active", label: "Active (may log in)", type: "checkbox" }] : []),
    ],
    actions: (a, view) => [
      h("button", { type: "button", text: "Reset password", "aria-label": `Reset password of ${a.display_name}`,
        onclick: () => resetPassword(a, view.formSlot) }),
      h("button", { type: "button", text: a.is_active ? "Deactivate" : "Reactivate",
        "aria-label": `${a.is_active ? "Deactivate" : "Reactivate"} ${a.display_name}`,
        onclick: async () => {
          try { await patch(`/api/agents/${a.id}`, { is_active: !a.is_active }); } catch (e) { view.note.textContent = e.message; return; }
          await view.load();
        } }),
    ],
  });
  const skills = new Resource({
    id: "skills", title: "Skills", noun: "skill", list: () => get("/api/skills"),
    create: (body) => post("/api/skills", body), canEdit: false,
    intro: "Topics and languages ask for skills; the router prefers agents with the higher level.",
    columns: [["Skill", (s) => s.name]],
    fields: () => [{ name: "name", label: "Skill name", required: true }],
    onSaved: async () => { await lookups.reload(); await skills.load(); await agents.load(); },
  });
  await Promise.all([agents.load(), skills.load()]);
  return h("div", { class: "stack" }, agents.el, skills.el);
}
