// Small hooks shared by the pages: hash route, data loading with
// loading/error states, polling that pauses while the tab is hidden, and a
// ticking clock for relative times.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { parseHash, type Route } from "./query";

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function navigate(hash: string, replace = false): void {
  if (location.hash === hash) return;
  if (replace) history.replaceState(null, "", hash), dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** reload; `quiet` keeps the current data on screen while loading */
  reload: (quiet?: boolean) => void;
  set: (v: T) => void;
}

/** Loads `fn()` when `deps` change; aborts stale loads. */
export function useResource<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const ctl = useRef<AbortController | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback((quiet = false) => {
    ctl.current?.abort();
    const c = new AbortController();
    ctl.current = c;
    setState((s) => (quiet ? { ...s, loading: true } : { data: undefined, error: undefined, loading: true }));
    fnRef.current(c.signal).then(
      (data) => {
        if (!c.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error) => {
        if (c.signal.aborted || (error as { name?: string })?.name === "AbortError") return;
        setState((s) => ({ data: quiet ? s.data : undefined, error, loading: false }));
      },
    );
  }, []);
  useEffect(() => {
    run();
    return () => ctl.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  const set = useCallback((v: T) => setState({ data: v, error: undefined, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, reload: run, set };
}

/** Calls fn every `ms` while enabled and the tab is visible (and once when it becomes visible). */
export function usePolling(fn: () => void, ms: number, enabled = true): void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!enabled) return;
    let id: ReturnType<typeof setInterval> | undefined;
    const start = () => {
      if (id === undefined) id = setInterval(() => fnRef.current(), ms);
    };
    const stop = () => {
      if (id !== undefined) clearInterval(id);
      id = undefined;
    };
    const vis = () => {
      if (document.hidden) stop();
      else {
        fnRef.current();
        start();
      }
    };
    if (!document.hidden) start();
    document.addEventListener("visibilitychange", vis);
    return () => {
      stop();
      document.removeEventListener("visibilitychange", vis);
    };
  }, [ms, enabled]);
}

/** Date.now(), refreshed every `ms` (for "3 min ago"). */
export function useNow(ms = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Vigil` : "Vigil";
  }, [title]);
}
