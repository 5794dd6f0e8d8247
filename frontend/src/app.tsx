// The shell: session (login, expiry, 401 → login), navigation, routing and
// toasts. Pages live in pages/.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiClient } from "./api";
import { clearSession, isAdmin, loadSession, saveSession, type Session } from "./auth";
import { ChangePassword } from "./components/ChangePassword";
import { Icon, type IconName } from "./components/ui";
import { AppContext, useApp, type AppCtx, type Toast } from "./context";
import { useRoute } from "./hooks";
import { Anomalies } from "./pages/Anomalies";
import { Login } from "./pages/Login";
import { lazyPage } from "./components/lazy";
import { formatHash } from "./query";
import { LIST_HASH_KEY, pageOf, type Page } from "./routes";
import { sampler } from "./sampler";

// The list is in the main bundle (first paint); the other pages load on demand.
const AnomalyDetail = lazyPage(() => import("./pages/AnomalyDetail").then((m) => m.AnomalyDetail));
const Trends = lazyPage(() => import("./pages/Trends").then((m) => m.Trends));
const RulesModels = lazyPage(() => import("./pages/RulesModels").then((m) => m.RulesModels));
const Alerts = lazyPage(() => import("./pages/Alerts").then((m) => m.Alerts));
const Cluster = lazyPage(() => import("./pages/Cluster").then((m) => m.Cluster));
const Users = lazyPage(() => import("./pages/Users").then((m) => m.Users));

const NAV: { page: Page; href: string; text: string; icon: IconName; admin?: boolean }[] = [
  { page: "anomalies", href: "#/anomalies", text: "Anomalies", icon: "list" },
  { page: "trends", href: "#/trends", text: "Trends", icon: "chart" },
  { page: "rules", href: "#/rules", text: "Rules & models", icon: "rules" },
  { page: "alerts", href: "#/alerts", text: "Alerts", icon: "alert" },
  { page: "cluster", href: "#/cluster", text: "Cluster", icon: "cluster" },
  { page: "users", href: "#/users", text: "Users", icon: "user", admin: true },
];

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession(sessionStorage));
  const [notice, setNotice] = useState<string | undefined>();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const sessionRef = useRef(session);
  sessionRef.current = session;

  const logout = useCallback((why?: string) => {
    clearSession(sessionStorage);
    sampler.stop();
    setNotice(why);
    setSession(null);
  }, []);

  const api = useMemo(
    () =>
      new ApiClient({
        getToken: () => sessionRef.current?.token ?? null,
        onUnauthorized: () => logout("Your session has ended; please sign in again."),
      }),
    [],
  );

  // the token's expiry ends the session
  useEffect(() => {
    if (!session?.expires) return;
    const ms = session.expires - Date.now();
    const id = setTimeout(() => logout("Your session expired; please sign in again."), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return () => clearTimeout(id);
  }, [session]);

  useEffect(() => {
    if (session) sampler.start();
  }, [session]);

  const toast = useCallback((kind: Toast["kind"], text: string) => {
    const t = { id: Date.now() + Math.random(), kind, text };
    setToasts((ts) => [...ts.slice(-3), t]);
    setTimeout(() => setToasts((ts) => ts.filter((x) => x !== t)), kind === "error" ? 7000 : 3500);
  }, []);

  if (!session)
    return (
      <Login
        notice={notice}
        onLogin={(s) => {
          saveSession(sessionStorage, s);
          setNotice(undefined);
          setSession(s);
        }}
      />
    );

  const ctx: AppCtx = { api, session, isAdmin: isAdmin(session), logout: () => logout(), toast };
  return (
    <AppContext.Provider value={ctx}>
      <Shell />
      <div class="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
            {t.text}
          </div>
        ))}
      </div>
    </AppContext.Provider>
  );
}

function Shell() {
  const route = useRoute();
  const page = pageOf(route.path);
  const ctx = useApp();
  const [changingPassword, setChangingPassword] = useState(false);

  useEffect(() => {
    if (page === "anomalies") sessionStorage.setItem(LIST_HASH_KEY, location.hash || "#/anomalies");
    document.getElementById("main")?.scrollTo?.(0, 0);
  }, [page, route.params]);

  let body;
  switch (page) {
    case "anomalies":
      body = <Anomalies params={route.params} />;
      break;
    case "detail":
      body = <AnomalyDetail id={route.path[1]} key={route.path[1]} />;
      break;
    case "trends":
      body = <Trends params={route.params} />;
      break;
    case "rules":
      body = <RulesModels />;
      break;
    case "alerts":
      body = <Alerts params={route.params} />;
      break;
    case "cluster":
      body = <Cluster />;
      break;
    case "users":
      body = <Users />;
      break;
    default:
      body = (
        <div class="page">
          <div class="state state-empty">
            <div class="state-title">No such page</div>
            <a class="btn btn-sm" href={formatHash(["anomalies"])}>
              Go to anomalies
            </a>
          </div>
        </div>
      );
  }
  const active: Page = page === "detail" ? "anomalies" : page;
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <aside class="sidebar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true">
            <Icon name="shield" size={18} />
          </span>
          <span class="brand-name">Vigil</span>
        </div>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.admin || ctx.isAdmin).map((n) => (
              <li key={n.page}>
                <a
                  href={n.page === "anomalies" ? sessionStorage.getItem(LIST_HASH_KEY) || n.href : n.href}
                  class={`nav-item${active === n.page ? " on" : ""}`}
                  aria-current={active === n.page ? "page" : undefined}
                >
                  <Icon name={n.icon} size={17} />
                  <span>{n.text}</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="sidebar-foot">
          <div class="who">
            <span class="avatar" aria-hidden="true">
              {ctx.session.user.slice(0, 1).toUpperCase()}
            </span>
            <div>
              <div class="who-name" data-testid="who">
                {ctx.session.user}
              </div>
              <div class={`role role-${ctx.session.role}`} data-testid="role">
                {ctx.session.role}
              </div>
            </div>
          </div>
          <button
            class="btn btn-ghost btn-sm signout"
            onClick={() => setChangingPassword(true)}
            title="Change your password"
            data-testid="change-password"
          >
            <Icon name="lock" size={15} /> Change password
          </button>
          <button class="btn btn-ghost btn-sm signout" onClick={ctx.logout} data-testid="logout">
            <Icon name="logout" size={15} /> Sign out
          </button>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
      {changingPassword && <ChangePassword onClose={() => setChangingPassword(false)} />}
    </div>
  );
}
