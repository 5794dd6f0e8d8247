// Chart data for the Trends page: bucket choice, severity/decision series
// from GET /v1/stats/anomalies, and detections per detector/rule computed
// client-side from the anomalies loaded for the range (there is no stats
// endpoint for that yet).

import { durationMs } from "./query";
import { toMs } from "./format";
import type { Anomaly, Decision, Severity, StatsBucket } from "./types";
import { DECISIONS, SEVERITIES } from "./types";

export const TREND_RANGES = ["1h", "6h", "24h", "7d", "30d"] as const;
export type TrendRange = (typeof TREND_RANGES)[number];

/** A bucket giving 48..180 points for a range. */
export function bucketFor(range: string): string {
  const ms = durationMs(range);
  if (!Number.isFinite(ms)) return "1h";
  const choices: [string, number][] = [
    ["1m", 60_000],
    ["5m", 300_000],
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["3h", 10_800_000],
    ["6h", 21_600_000],
    ["1d", 86_400_000],
  ];
  for (const [b, bms] of choices) if (ms / bms <= 180) return b;
  return "1d";
}

/**
 * The [from, to) window of a range ending at the later of now and the newest
 * anomaly's event time (demo and replayed traffic can carry event times
 * ahead of the wall clock), aligned to whole buckets.
 */
export function trendWindow(range: string, now: number, newest?: number): { from: number; to: number; bucketMs: number } {
  const bucketMs = durationMs(bucketFor(range));
  const end = Math.max(now, Number.isFinite(newest ?? NaN) ? (newest as number) : now);
  const to = (Math.floor(end / bucketMs) + 1) * bucketMs; // the bucket holding `end` included
  const from = to - Math.ceil(durationMs(range) / bucketMs) * bucketMs;
  return { from, to, bucketMs };
}

export interface Series {
  /** x: seconds since epoch (uPlot's unit) */
  x: number[];
  ys: { name: string; values: number[] }[];
}

export function severitySeries(buckets: StatsBucket[]): Series {
  return {
    x: buckets.map((b) => Math.floor(toMs(b.start) / 1000)),
    ys: SEVERITIES.map((s: Severity) => ({ name: s, values: buckets.map((b) => b.by_severity?.[s] ?? 0) })),
  };
}

export function decisionSeries(buckets: StatsBucket[]): Series {
  return {
    x: buckets.map((b) => Math.floor(toMs(b.start) / 1000)),
    ys: DECISIONS.map((d: Decision) => ({ name: d, values: buckets.map((b) => b.by_decision?.[d] ?? 0) })),
  };
}

export function totals(buckets: StatsBucket[]): {
  total: number;
  bySeverity: Record<Severity, number>;
  byDecision: Record<Decision, number>;
  peak: { start: string; total: number } | null;
} {
  const bySeverity = { low: 0, medium: 0, high: 0, critical: 0 } as Record<Severity, number>;
  const byDecision = { allow: 0, review: 0, block: 0 } as Record<Decision, number>;
  let total = 0;
  let peak: { start: string; total: number } | null = null;
  for (const b of buckets) {
    total += b.total ?? 0;
    for (const s of SEVERITIES) bySeverity[s] += b.by_severity?.[s] ?? 0;
    for (const d of DECISIONS) byDecision[d] += b.by_decision?.[d] ?? 0;
    if (!peak || b.total > peak.total) peak = { start: b.start, total: b.total };
  }
  return { total, bySeverity, byDecision, peak: peak && peak.total > 0 ? peak : null };
}

/** Cumulative sums of series (for stacked areas): out[i] = ys[0] + … + ys[i]. */
export function stack(ys: number[][]): number[][] {
  const out: number[][] = [];
  ys.forEach((vals, i) => {
    out.push(vals.map((v, j) => v + (i > 0 ? out[i - 1][j] : 0)));
  });
  return out;
}

/** The key of a reason for the detector/rule chart: "rule:big_amount", "iforest", "mad". */
export function detectorKey(r: { detector: string; feature?: string }): string {
  return r.detector === "rule" ? `rule:${r.feature ?? "?"}` : r.detector;
}

/**
 * Detections per detector/rule per bucket from a sample of anomalies: every
 * reason with a positive contribution counts once for its anomaly. The `top`
 * keys with most detections get a series each, the rest are summed in "other".
 */
export function detectorSeries(
  anomalies: Anomaly[],
  from: number,
  to: number,
  bucketMs: number,
  top = 6,
): Series & { counts: Record<string, number> } {
  const n = Math.max(1, Math.round((to - from) / bucketMs));
  const x = Array.from({ length: n }, (_, i) => Math.floor((from + i * bucketMs) / 1000));
  const per = new Map<string, number[]>();
  const counts: Record<string, number> = {};
  for (const a of anomalies) {
    const t = toMs(a.timestamp);
    if (!(t >= from && t < to)) continue;
    const i = Math.floor((t - from) / bucketMs);
    const keys = new Set<string>();
    for (const r of a.reasons ?? []) if ((r.contribution ?? 0) > 0 || r.detector === "rule") keys.add(detectorKey(r));
    for (const k of keys) {
      let arr = per.get(k);
      if (!arr) per.set(k, (arr = new Array(n).fill(0)));
      arr[i]++;
      counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  const ranked = [...per.keys()].sort((a, b) => counts[b] - counts[a] || (a < b ? -1 : 1));
  const keep = ranked.slice(0, top);
  const ys = keep.map((k) => ({ name: k, values: per.get(k)! }));
  const rest = ranked.slice(top);
  if (rest.length) {
    const other = new Array(n).fill(0);
    for (const k of rest) per.get(k)!.forEach((v, i) => (other[i] += v));
    ys.push({ name: `other (${rest.length})`, values: other });
  }
  return { x, ys, counts };
}

/** Time span covered by a sample of anomalies (newest first), ms. */
export function sampleSpan(anomalies: Anomaly[]): { oldest: number; newest: number } | null {
  if (!anomalies.length) return null;
  let oldest = Infinity;
  let newest = -Infinity;
  for (const a of anomalies) {
    const t = toMs(a.timestamp);
    if (t < oldest) oldest = t;
    if (t > newest) newest = t;
  }
  return { oldest, newest };
}
