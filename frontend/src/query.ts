// Query strings: the API's filters and cursors, and the filters kept in the
// hash route (#/anomalies?severity=high&range=24h) so a view can be linked
// and survives a reload.

import { DECISIONS, SEVERITIES, type Decision, type Severity } from "./types";

export type QueryValue = string | number | boolean | null | undefined;
export type QueryParams = Record<string, QueryValue>;

/** "?a=1&b=x%20y" from params, leaving out empty values; "" when none. */
export function buildQuery(params: QueryParams): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || (typeof v === "number" && !Number.isFinite(v))) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** Time range presets of the filters; "" = any time. */
export const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"] as const;
export type RangePreset = (typeof RANGES)[number];

export interface AnomalyFilters {
  range?: RangePreset | "" | "custom";
  /** custom range: ISO 8601 (UTC) */
  from?: string;
  to?: string;
  user_id?: string;
  severity?: Severity | "";
  detector?: string;
  rule?: string;
  decision?: Decision | "";
}

export const FILTER_KEYS = ["range", "from", "to", "user_id", "severity", "detector", "rule", "decision"] as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m" → 900000; NaN for anything else. */
export function durationMs(s: string): number {
  const m = /^(\d+)([smhd])$/.exec(s.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The API's from/to (ISO, UTC) for the filters at time `now`. */
export function resolveRange(f: AnomalyFilters, now: number): { from?: string; to?: string } {
  if (f.range && f.range !== "custom") {
    const ms = durationMs(f.range);
    return Number.isFinite(ms) ? { from: new Date(now - ms).toISOString() } : {};
  }
  const out: { from?: string; to?: string } = {};
  if (f.from && !Number.isNaN(Date.parse(f.from))) out.from = new Date(Date.parse(f.from)).toISOString();
  if (f.to && !Number.isNaN(Date.parse(f.to))) out.to = new Date(Date.parse(f.to)).toISOString();
  return out;
}

/** The query of GET /v1/anomalies for filters, a page size and a cursor. */
export function anomaliesQuery(
  f: AnomalyFilters,
  page: { limit?: number; cursor?: string | null } = {},
  now: number = Date.now(),
): QueryParams {
  const { from, to } = resolveRange(f, now);
  return {
    from,
    to,
    user_id: f.user_id?.trim() || undefined,
    severity: f.severity || undefined,
    detector: f.detector?.trim() || undefined,
    rule: f.rule?.trim() || undefined,
    decision: f.decision || undefined,
    limit: page.limit,
    cursor: page.cursor || undefined,
  };
}

/** Filters from a hash route's params; unknown or invalid values are dropped. */
export function filtersFromParams(p: Record<string, string>): AnomalyFilters {
  const f: AnomalyFilters = {};
  if (p.range && ((RANGES as readonly string[]).includes(p.range) || p.range === "custom"))
    f.range = p.range as AnomalyFilters["range"];
  if (p.from && !Number.isNaN(Date.parse(p.from))) f.from = p.from;
  if (p.to && !Number.isNaN(Date.parse(p.to))) f.to = p.to;
  if ((p.from || p.to) && !f.range) f.range = "custom";
  if (p.user_id) f.user_id = p.user_id;
  if (p.severity && (SEVERITIES as readonly string[]).includes(p.severity)) f.severity = p.severity as Severity;
  if (p.detector) f.detector = p.detector;
  if (p.rule) f.rule = p.rule;
  if (p.decision && (DECISIONS as readonly string[]).includes(p.decision)) f.decision = p.decision as Decision;
  return f;
}

/** The hash route params of filters (only the set ones). */
export function filtersToParams(f: AnomalyFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (!v) continue;
    if ((k === "from" || k === "to") && f.range !== "custom") continue;
    if (k === "range" && v === "custom" && !f.from && !f.to) continue;
    out[k] = String(v);
  }
  return out;
}

export function activeFilterCount(f: AnomalyFilters): number {
  return Object.keys(filtersToParams(f)).length;
}

/* ---- hash routes ------------------------------------------------------------ */

export interface Route {
  /** path segments, decoded: "#/anomalies/t%2F1" → ["anomalies", "t/1"] */
  path: string[];
  params: Record<string, string>;
}

export function parseHash(hash: string): Route {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  if (h.startsWith("!")) h = h.slice(1);
  const q = h.indexOf("?");
  const pathPart = q >= 0 ? h.slice(0, q) : h;
  const queryPart = q >= 0 ? h.slice(q + 1) : "";
  const path = pathPart
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const params: Record<string, string> = {};
  if (queryPart) {
    for (const [k, v] of new URLSearchParams(queryPart)) params[k] = v;
  }
  return { path, params };
}

export function formatHash(path: string[], params: Record<string, string> = {}): string {
  const p = "#/" + path.map((s) => encodeURIComponent(s)).join("/");
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "") qs.set(k, v);
  const s = qs.toString();
  return s ? `${p}?${s}` : p;
}

/** Link to one anomaly's detail view (the route alerts link to). */
export function anomalyHref(id: string): string {
  return formatHash(["anomalies", id]);
}

/** Value of an <input type="datetime-local"> (local time) as ISO UTC, or "". */
export function localInputToIso(v: string): string {
  if (!v) return "";
  const t = new Date(v).getTime(); // "YYYY-MM-DDTHH:mm" parses as local time
  return Number.isNaN(t) ? "" : new Date(t).toISOString();
}

/** ISO time as an <input type="datetime-local"> value in local time. */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
