/* Switchboard widget: knowledge-base suggestions in the pre-chat form.
 *
 * Loaded by widget.js beside itself (a classic script, like it). While the visitor types the
 * question, articles matching it appear under the box (debounced, in the visitor's language);
 * each opens the article page in a new tab with this reading session's id, so the server counts
 * the view. When the chat then starts, the session is tied to the conversation (with the
 * visitor's token): the agent sees what was read, and the session is not a deflection; a message
 * or case filed from a form sends the session with it (``read``). The case page's new-case form
 * uses this script too.
 * Everything is inserted as text, never as markup; the words are the caller's (``t``, the
 * message catalogue).
 */
(() => {
  "use strict";
  const DEBOUNCE_MS = 350;
  const MIN_CHARS = 4;
  const SHOWN = 3;

  function sessionId(site) {
    const key = "switchboard-kb:" + site;
    try { const held = sessionStorage.getItem(key); if (held) return held; } catch (e) { /* private mode */ }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    try { sessionStorage.setItem(key, id); } catch (e) { /* private mode */ }
    return id;
  }

  const CSS = ".kb{margin:0 0 10px;padding:8px 10px;border-radius:8px;background:#f2f5fc}" +
    ".kb h3{font-size:13px;font-weight:600;margin:0 0 4px}.kb ul{list-style:none;padding:0;margin:0}" +
    ".kb li{margin:4px 0}.kb a{color:#2f5bea}.kb p{font-size:12px;color:#5b6474;margin:2px 0 0}" +
    ".kb .all{display:inline-block;font-size:12px}.kb h3+ul{margin-bottom:4px}";

  window.__switchboardKb = (env) => {
    // css: false where the page's own stylesheet styles the box (its policy allows no inline style).
    const { site, base, h, t, css = true } = env;
    const session = sessionId(site);
    const api = (path) => new URL(path, base).href;
    let opened = false;
    let linked = null;

    function form(ctx) {
      const { text, before } = ctx;
      const list = h("ul", {});
      const found = h("div", { hidden: true },
        h("h3", { text: t("kb.suggest_title") }), list);
      const box = h("div", { class: "kb", role: "region", "aria-label": t("kb.articles"),
        "aria-live": "polite" }, css ? h("style", { text: CSS }) : null, found,
      h("a", { class: "all", href: api("kb/" + encodeURIComponent(site)), target: "_blank",
        rel: "noopener", text: t("kb.browse") }));
      before.before(box);
      let timer = null, asked = "", seq = 0;
      const lang = (navigator.languages && navigator.languages.join(",")) || navigator.language || "";
      const show = (articles) => {
        list.replaceChildren(...articles.slice(0, SHOWN).map((a) => h("li", {},
          h("a", { href: api(a.url.slice(1)) + "?s=" + encodeURIComponent(session), target: "_blank",
            rel: "noopener", text: a.title, onclick: () => { opened = true; } }),
          a.description ? h("p", { text: a.description }) : null)));
        found.hidden = !articles.length;
        if (articles.length) box.scrollIntoView({ block: "nearest" });
      };
      const ask = async () => {
        const q = text.value.trim().slice(0, 300);
        if (q === asked) return;
        asked = q;
        if (q.length < MIN_CHARS) { show([]); return; }
        const mine = ++seq;
        try {
          const r = await fetch(api("api/public/kb/" + encodeURIComponent(site) + "/suggest?q=" +
            encodeURIComponent(q) + "&lang=" + encodeURIComponent(lang) + "&s=" +
            encodeURIComponent(session)), { credentials: "omit" });
          if (!r.ok || mine !== seq) return;
          show((await r.json()).articles || []);
        } catch (e) { /* suggestions are a help, never in the way */ }
      };
      text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, DEBOUNCE_MS); });
    }

    async function started(ctx) {
      if (!opened || linked === ctx.conversation_id || !ctx.token) return;
      linked = ctx.conversation_id;
      try {
        await fetch(api("api/public/kb/" + encodeURIComponent(site) + "/chat"), { method: "POST",
          credentials: "omit", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ session, conversation_id: ctx.conversation_id, token: ctx.token }) });
      } catch (e) { /* the chat goes on; only the report misses it */ }
    }

    // The reading session to send with a case or message filed from a form, once an article
    // was opened (so the server does not count it as deflected).
    const read = () => (opened ? session : null);

    return { form, started, read };
  };
})();
