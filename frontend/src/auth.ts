// The login session: the JWT from POST /v1/auth/token, kept in
// sessionStorage (one tab, gone when it closes; never localStorage), and
// what the dashboard reads from its payload (sub, role, exp). The payload
// is only read for display and role-aware UI: the gateway checks the
// signature and the role on every request.

import type { Role } from "./types";

export interface Session {
  token: string;
  user: string;
  role: Role;
  /** epoch ms; 0 when the token has no exp */
  expires: number;
}

export const SESSION_KEY = "vigil.session";

function b64urlDecode(s: string): string {
  let b = s.replace(/-/g, "+").replace(/_/g, "/");
  while (b.length % 4) b += "=";
  const bin = atob(b);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export interface JwtPayload {
  sub?: string;
  role?: string;
  exp?: number;
  iat?: number;
  [k: string]: unknown;
}

/** The payload of a JWT, or null when it is not one. */
export function decodeJwt(token: string): JwtPayload | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const p = JSON.parse(b64urlDecode(parts[1]));
    return p && typeof p === "object" ? (p as JwtPayload) : null;
  } catch {
    return null;
  }
}

function isRole(r: unknown): r is Role {
  return r === "admin" || r === "analyst" || r === "ingest";
}

/** A session for a token, or null when the token cannot be read. */
export function sessionFromToken(token: string, expiresIn?: number, now: number = Date.now()): Session | null {
  const p = decodeJwt(token);
  if (!p || typeof p.sub !== "string" || !isRole(p.role)) return null;
  let expires = typeof p.exp === "number" ? p.exp * 1000 : 0;
  if (!expires && expiresIn) expires = now + expiresIn * 1000;
  return { token, user: p.sub, role: p.role, expires };
}

export function isExpired(s: Session, now: number = Date.now()): boolean {
  return s.expires > 0 && s.expires <= now;
}

/** Whether a role may use the dashboard at all (ingest keys may not read). */
export function canUseDashboard(role: Role): boolean {
  return role === "admin" || role === "analyst";
}

export function isAdmin(s: Session | null | undefined): boolean {
  return s?.role === "admin";
}

export interface KV {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export function loadSession(store: KV, now: number = Date.now()): Session | null {
  const raw = store.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (!s || typeof s.token !== "string") return null;
    const fresh = sessionFromToken(s.token, undefined, now);
    if (!fresh || isExpired(fresh, now)) {
      store.removeItem(SESSION_KEY);
      return null;
    }
    return fresh;
  } catch {
    store.removeItem(SESSION_KEY);
    return null;
  }
}

export function saveSession(store: KV, s: Session): void {
  store.setItem(SESSION_KEY, JSON.stringify({ token: s.token }));
}

export function clearSession(store: KV): void {
  store.removeItem(SESSION_KEY);
}
