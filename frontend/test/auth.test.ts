import { describe, expect, it } from "vitest";
import {
  SESSION_KEY,
  canUseDashboard,
  clearSession,
  decodeJwt,
  isAdmin,
  isExpired,
  loadSession,
  saveSession,
  sessionFromToken,
  type KV,
} from "../src/auth";

function b64url(o: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(o));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function jwt(payload: Record<string, unknown>): string {
  return `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(payload)}.sig`;
}
function memKV(): KV & { m: Map<string, string> } {
  const m = new Map<string, string>();
  return { m, getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

const NOW = Date.parse("2026-11-24T12:00:00Z");
const EXP = NOW / 1000 + 3600;

describe("decodeJwt", () => {
  it("reads the payload, UTF-8 included", () => {
    expect(decodeJwt(jwt({ sub: "zoë", role: "analyst" }))).toMatchObject({ sub: "zoë", role: "analyst" });
  });
  it("refuses what is not a JWT", () => {
    expect(decodeJwt("vk_abc")).toBeNull();
    expect(decodeJwt("a.%%%.c")).toBeNull();
  });
});

describe("sessions", () => {
  it("takes sub, role and exp from the token", () => {
    const s = sessionFromToken(jwt({ sub: "ana", role: "analyst", exp: EXP }), 3600, NOW)!;
    expect(s).toMatchObject({ user: "ana", role: "analyst", expires: EXP * 1000 });
    expect(isAdmin(s)).toBe(false);
    expect(isExpired(s, NOW)).toBe(false);
    expect(isExpired(s, EXP * 1000)).toBe(true);
  });
  it("uses expires_in when the token has no exp", () => {
    expect(sessionFromToken(jwt({ sub: "a", role: "admin" }), 60, NOW)!.expires).toBe(NOW + 60_000);
  });
  it("refuses tokens without a known role", () => {
    expect(sessionFromToken(jwt({ sub: "a", role: "root" }))).toBeNull();
    expect(sessionFromToken(jwt({ role: "admin" }))).toBeNull();
  });
  it("keeps ingest keys out of the dashboard", () => {
    expect(canUseDashboard("ingest")).toBe(false);
    expect(canUseDashboard("analyst")).toBe(true);
    expect(canUseDashboard("admin")).toBe(true);
  });
  it("stores only the token, and drops an expired session when loading", () => {
    const kv = memKV();
    const s = sessionFromToken(jwt({ sub: "root", role: "admin", exp: EXP }), undefined, NOW)!;
    saveSession(kv, s);
    expect(JSON.parse(kv.m.get(SESSION_KEY)!)).toEqual({ token: s.token });
    expect(loadSession(kv, NOW)).toMatchObject({ user: "root", role: "admin" });
    expect(loadSession(kv, EXP * 1000 + 1)).toBeNull();
    expect(kv.m.has(SESSION_KEY)).toBe(false);
  });
  it("survives garbage in storage", () => {
    const kv = memKV();
    kv.setItem(SESSION_KEY, "{not json");
    expect(loadSession(kv, NOW)).toBeNull();
    saveSession(kv, sessionFromToken(jwt({ sub: "a", role: "admin", exp: EXP }), undefined, NOW)!);
    clearSession(kv);
    expect(loadSession(kv, NOW)).toBeNull();
  });
});
