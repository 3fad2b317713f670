// DOM helpers for the console and supervisor view. Data only ever reaches the page as text:
// strings become Text nodes or textContent, attributes go through setAttribute, never innerHTML.

export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function time(iso) {
  const d = iso ? new Date(iso) : new Date();
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function clientId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

// A small transient notice in the page's live region.
export function announce(text) {
  const region = document.getElementById("announce");
  if (region) region.textContent = text;
}

// The contact facts an agent sees about who the customer is. A typed address proves nothing:
// it carries an "unverified" mark, and so does a contact no site or mail has vouched for.
export function contactFacts(contact) {
  if (!contact) return [];
  const email = contact.email && (contact.email_verified ? contact.email : `${contact.email} (unverified)`);
  return [["Email", email], ["Identity", contact.verified ? "verified" : "unverified"]];
}
