import { useState } from "preact/hooks";
import { ApiClient, ApiError, describeError } from "../api";
import { canUseDashboard, sessionFromToken, type Session } from "../auth";
import { InputField } from "../components/table";
import { Icon, Spinner } from "../components/ui";
import { useTitle } from "../hooks";
import type { TokenResponse } from "../types";

export function Login({ onLogin, notice }: { onLogin: (s: Session) => void; notice?: string }) {
  useTitle("Sign in");
  const [user, setUser] = useState("");
  const [pass, setPass] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!user || !pass) return setErr("Enter your user name and password");
    setBusy(true);
    setErr(null);
    try {
      const api = new ApiClient({ getToken: () => null });
      const r = await api.request<TokenResponse>("POST", "/v1/auth/token", {
        body: { username: user, password: pass },
        anonymous: true,
      });
      const s = sessionFromToken(r.access_token, r.expires_in);
      if (!s) throw new Error("The gateway answered with a token this dashboard cannot read");
      if (!canUseDashboard(s.role))
        throw new Error(`The role '${s.role}' cannot use the dashboard: ask an admin for an analyst account`);
      onLogin(s);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 401) setErr("Wrong user name or password");
      else if (ex instanceof ApiError && ex.status === 429)
        setErr(`Too many attempts: try again in ${ex.retryAfter ?? "a few"} s`);
      else setErr(describeError(ex));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} aria-label="Sign in">
        <div class="brand brand-lg">
          <span class="brand-mark" aria-hidden="true">
            <Icon name="shield" size={22} />
          </span>
          <span class="brand-name">Vigil</span>
        </div>
        <h1 class="login-title">Sign in to the analyst console</h1>
        {notice && (
          <div class="notice" role="status">
            {notice}
          </div>
        )}
        <InputField
          label="User name"
          name="username"
          autoComplete="username"
          autoFocus
          value={user}
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
        <InputField
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          value={pass}
          onInput={(e) => setPass((e.target as HTMLInputElement).value)}
        />
        {err && (
          <div class="form-error" role="alert">
            {err}
          </div>
        )}
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy && <Spinner label="Signing in" />} Sign in
        </button>
        <p class="muted small login-foot">
          Your session stays in this tab only and ends when you close it or after the token expires.
        </p>
      </form>
    </div>
  );
}
