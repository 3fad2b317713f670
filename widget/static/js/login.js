// The login page and session bootstrap shared by the console and the supervisor view.

import { ApiError, get, post, setCsrf } from "./api.js";
import { clear, h } from "./dom.js";

// Resolves with the logged-in agent (GET /api/auth/me), showing the login form first if needed.
export async function session(root, heading) {
  try {
    const me = await get("/api/auth/me");
    setCsrf(me.csrf_token);
    return me;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
  }
  return new Promise((resolve) => {
    const error = h("p", { class: "error", role: "alert" });
    const email = h("input", { id: "login-email", type: "email", name: "email", required: true,
      autocomplete: "username" });
    const password = h("input", { id: "login-password", type: "password", name: "password",
      required: true, autocomplete: "current-password" });
    const form = h("form", { class: "login card", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title", text: heading }),
      h("label", { for: "login-email", text: "Email" }), email,
      h("label", { for: "login-password", text: "Password" }), password,
      error,
      h("button", { class: "primary", type: "submit", text: "Log in" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const me = await post("/api/auth/login", { email: email.value.trim(),
          password: password.value });
        setCsrf(me.csrf_token);
        clear(root);
        resolve(me);
      } catch (err) {
        error.textContent = err.message;
        password.select();
      }
    });
    clear(root).append(h("main", { class: "center" }, form));
    offerSso(form, error);
    email.focus();
  });
}

// Single sign-on beside the password, when the server has an identity provider (docs/oidc.md);
// a refused sign-in comes back here with its reason in ?sso_error=.
async function offerSso(form, error) {
  const params = new URLSearchParams(location.search);
  const refused = params.get("sso_error");
  if (refused) {
    error.textContent = refused;
    params.delete("sso_error");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  }
  try {
    if (!(await get("/api/auth/sso")).oidc) return;
  } catch {
    return;
  }
  const back = location.pathname + location.search + location.hash;
  form.append(h("p", { class: "sso" }, h("a", { id: "login-sso",
    href: `/api/auth/oidc/start?next=${encodeURIComponent(back)}`,
    text: "Sign in with single sign-on" })));
}

export async function logout() {
  try { await post("/api/auth/logout"); } finally { location.reload(); }
}
