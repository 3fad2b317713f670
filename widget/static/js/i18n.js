// The customer pages' words: the server's message catalogue (desk/locale/*.po, served as JSON
// by /api/public/i18n) in the browser's first shipped language. `{name}` placeholders are
// filled as desk.i18n.fill fills them (and widget.js, which cannot import this module).

let messages = {};
export let language = "en";

export async function load(wanted = navigator.languages || [navigator.language]) {
  const r = await fetch(`/api/public/i18n?lang=${encodeURIComponent([...wanted].filter(Boolean).join(","))}`,
    { credentials: "omit" });
  if (!r.ok) return; // the ids show instead: the page still works
  const doc = await r.json();
  messages = doc.messages || {};
  language = doc.language || "en";
  document.documentElement.lang = language;
}

export const t = (id, params) => (messages[id] || id).replace(/\{([a-z_]+)\}/g,
  (m, k) => (params && params[k] != null ? String(params[k]) : m));
