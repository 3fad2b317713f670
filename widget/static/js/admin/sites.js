// Sites that embed the widget: where it may run (allowed origins), whether agents see what a
// visitor types before sending, the identity-verification secret (write-only: only whether one
// is set and its last characters are shown), and the form builder for the widget's form.

import { h } from "../dom.js";
import { formBuilder } from "./formbuilder.js";
import { Resource, rest } from "./form.js";

// Write-only secret: typed -> set, "turn off" -> null, untouched -> not sent.
function secretEditor(site) {
  return (_, id) => {
    const box = h("input", { id, type: "password", autocomplete: "new-password", placeholder: site?.identity_verification ? "Leave empty to keep it" : "" });
    const off = h("input", { type: "checkbox" });
    const el = h("div", { class: "secret" }, box,
      site?.identity_verification ? h("label", { class: "inline" }, off, `Turn verification off (secret ${site.identity_secret_hint})`) : null);
    return { el, get: () => (off.checked ? null : box.value ? box.value : undefined) };
  };
}

export async function sitesPage(lookups) {
  const sites = new Resource({
    id: "sites", title: "Sites", noun: "site", ...rest("/api/sites"),
    intro: "Each site embeds the widget with its key. Its form (topics, questions) is built below the settings.",
    columns: [["Name", (s) => s.name], ["Key", (s) => h("code", { text: s.key })],
      ["Allowed origins", (s) => s.allowed_origins.join(", ") || "—"],
      ["Typing preview", (s) => (s.typing_preview ? "on" : "off")],
      ["Identity verification", (s) => (s.identity_verification ? `on (${s.identity_secret_hint})` : "off")]],
    defaults: { typing_preview: true, allowed_origins: [], config: {} },
    fields: (s) => [
      { name: "name", label: "Name", required: true },
      { name: "typing_preview", label: "Agents see what the visitor types before sending", type: "checkbox" },
      { name: "allowed_origins", label: "Allowed origins (one per line)", type: "lines", rows: 3,
        help: "Pages at these origins may open the widget, e.g. https://www.example.com" },
      { name: "identity_secret", label: "Identity-verification secret", render: secretEditor(s),
        help: "Your server signs the visitor's identity with it; it is never shown again." },
      { name: "config", label: "Widget form", render: formBuilder(lookups.departments) },
    ],
  });
  await sites.load();
  return h("div", { class: "stack" }, sites.el);
}
