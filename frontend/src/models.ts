// View models: what the pages show, computed from API answers. Pure
// functions, unit-tested in test/models.test.ts.

import { fmtDuration, fmtNum, fmtPct, isNum, humanize, toMs } from "./format";
import type { Anomaly, LabelValue, PrecisionResponse, PrecisionRow, Reason } from "./types";

/* ---- severities and decisions ---------------------------------------------- */

const SEV_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };
export function severityRank(s: string): number {
  return SEV_RANK[s] ?? 0;
}
export function severityClass(s: string): string {
  return SEV_RANK[s] ? `sev-${s}` : "sev-unknown";
}
export function decisionClass(d: string): string {
  return d === "block" || d === "review" || d === "allow" ? `dec-${d}` : "dec-unknown";
}
export function labelClass(l: string): string {
  return l === "fraud" || l === "legit" || l === "unsure" ? `lab-${l}` : "lab-unknown";
}

/* ---- reasons ------------------------------------------------------------------ */

export type ReasonKind = "rule" | "model" | "statistic";

export interface ReasonView {
  kind: ReasonKind;
  /** "Rule big_amount", "Model v3", "MAD · amount" */
  title: string;
  detector: string;
  feature: string;
  /** key into precision: rule id, model version or detector name */
  ruleId?: string;
  modelVersion?: number;
  value?: number;
  baseline?: number;
  threshold?: number;
  contribution: number;
  /** value / threshold when both are known and the threshold is not 0 */
  ratio?: number;
  /** one line for people */
  explain: string;
}

const DETECTOR_NAMES: Record<string, string> = {
  zscore: "Z-score",
  log_zscore: "Log z-score",
  mad: "Robust z (MAD)",
  iqr: "IQR fence",
  travel: "Impossible travel",
  velocity: "Velocity",
  new_device: "New device",
  new_country: "New country",
  new_merchant: "New merchant",
  new_channel: "New channel",
  hour: "Unusual hour",
  iforest: "Isolation Forest",
  rule: "Rule",
};

export function detectorName(d: string): string {
  return DETECTOR_NAMES[d] ?? humanize(d);
}

export function reasonKind(r: Reason): ReasonKind {
  if (r.detector === "rule") return "rule";
  if (r.detector === "iforest" || r.detector === "model") return "model";
  return "statistic";
}

/** "model v3" → 3 */
export function modelVersionOf(feature: string | undefined): number | undefined {
  const m = /v(\d+)/.exec(feature ?? "");
  return m ? Number(m[1]) : undefined;
}

export function describeReason(r: Reason, locale?: string): ReasonView {
  const kind = reasonKind(r);
  const feature = r.feature ?? "";
  const contribution = isNum(r.contribution) ? r.contribution : 0;
  const base: Omit<ReasonView, "title" | "explain"> = {
    kind,
    detector: r.detector,
    feature,
    value: isNum(r.value) ? r.value : undefined,
    baseline: isNum(r.baseline) ? r.baseline : undefined,
    threshold: isNum(r.threshold) ? r.threshold : undefined,
    contribution,
  };
  if (kind === "rule") {
    return {
      ...base,
      ruleId: feature,
      title: `Rule ${feature || "?"}`,
      // a rule's reason carries the rule set version as its value
      explain: `Rule ${feature} matched${isNum(r.value) ? ` (rule set v${r.value})` : ""}`,
      value: undefined,
      baseline: undefined,
      threshold: undefined,
    };
  }
  if (kind === "model") {
    const v = modelVersionOf(feature);
    const ratio = isNum(r.value) && isNum(r.threshold) && r.threshold ? r.value / r.threshold : undefined;
    return {
      ...base,
      modelVersion: v,
      ratio,
      title: v !== undefined ? `Model v${v}` : detectorName(r.detector),
      explain: `Isolation score ${fmtNum(r.value, locale)} ≥ threshold ${fmtNum(r.threshold, locale)} (ordinary ≈ ${fmtNum(
        r.baseline ?? 0.5,
        locale,
      )})`,
    };
  }
  const ratio = isNum(r.value) && isNum(r.threshold) && r.threshold !== 0 ? r.value / r.threshold : undefined;
  const what = feature ? humanize(feature).toLowerCase() : "value";
  const parts = [`${what} ${fmtNum(r.value, locale)}`];
  if (isNum(r.baseline)) parts.push(`usual ${fmtNum(r.baseline, locale)}`);
  if (isNum(r.threshold)) parts.push(`limit ${fmtNum(r.threshold, locale)}`);
  return {
    ...base,
    ratio,
    title: `${detectorName(r.detector)}${feature ? ` · ${feature}` : ""}`,
    explain: parts.join(", "),
  };
}

/** Reasons in the order people read them: biggest contribution first. */
export function sortedReasons(reasons: Reason[] | undefined): Reason[] {
  return [...(reasons ?? [])].sort((a, b) => (b.contribution ?? 0) - (a.contribution ?? 0));
}

/** The short "why" of a table row: top detectors, rules by id. */
export function reasonSummary(reasons: Reason[] | undefined, max = 3): { text: string; keys: string[]; more: number } {
  const seen: string[] = [];
  for (const r of sortedReasons(reasons)) {
    if ((r.contribution ?? 0) <= 0 && seen.length > 0) continue;
    const k = r.detector === "rule" ? `rule:${r.feature}` : r.detector === "iforest" ? "iforest" : r.detector;
    if (!seen.includes(k)) seen.push(k);
  }
  const keys = seen.slice(0, max);
  return { text: keys.join(", "), keys, more: Math.max(0, seen.length - max) };
}

/* ---- precision ----------------------------------------------------------------- */

export interface PrecisionIndex {
  overall?: PrecisionRow;
  rule: Map<string, PrecisionRow>;
  detector: Map<string, PrecisionRow>;
  model: Map<number, PrecisionRow>;
}

export function precisionIndex(p: PrecisionResponse | null | undefined): PrecisionIndex {
  const idx: PrecisionIndex = { overall: p?.overall, rule: new Map(), detector: new Map(), model: new Map() };
  for (const r of p?.by_rule ?? []) idx.rule.set(r.rule, r);
  for (const r of p?.by_detector ?? []) idx.detector.set(r.detector, r);
  for (const r of p?.by_model ?? []) {
    const v = isNum(r.version) ? r.version : typeof r.model === "number" ? r.model : modelVersionOf(String(r.model ?? ""));
    if (v !== undefined) idx.model.set(v, r);
  }
  return idx;
}

/** The precision row that applies to one reason. */
export function precisionFor(idx: PrecisionIndex, rv: ReasonView): PrecisionRow | undefined {
  if (rv.kind === "rule" && rv.ruleId) return idx.rule.get(rv.ruleId);
  if (rv.kind === "model" && rv.modelVersion !== undefined)
    return idx.model.get(rv.modelVersion) ?? idx.detector.get(rv.detector);
  return idx.detector.get(rv.detector);
}

export interface PrecisionView {
  text: string;
  /** "3 fraud · 1 legit · 0 unsure" */
  detail: string;
  tone: "good" | "fair" | "poor" | "none";
}

export function precisionView(p: PrecisionRow | undefined, locale?: string): PrecisionView {
  if (!p || !p.labelled) return { text: "no labels", detail: "No analyst labels yet", tone: "none" };
  const detail = `${p.fraud} fraud · ${p.legit} legit · ${p.unsure} unsure`;
  if (!isNum(p.precision)) return { text: "n/a", detail: `${detail} (only unsure labels)`, tone: "none" };
  const tone = p.precision >= 0.8 ? "good" : p.precision >= 0.5 ? "fair" : "poor";
  return { text: fmtPct(p.precision, 0, locale), detail, tone };
}

/* ---- labels ---------------------------------------------------------------------- */

export interface LabelChoice {
  value: LabelValue;
  text: string;
  hint: string;
  key: string;
}
export const LABEL_CHOICES: LabelChoice[] = [
  { value: "fraud", text: "Fraud", hint: "Confirm: this is fraud", key: "f" },
  { value: "legit", text: "Legit", hint: "Dismiss: a legitimate transaction", key: "l" },
  { value: "unsure", text: "Unsure", hint: "Cannot tell yet", key: "u" },
];

/** Validates a label form; returns an error message or null. */
export function validateLabel(label: string, note: string): string | null {
  if (label !== "fraud" && label !== "legit" && label !== "unsure") return "Choose fraud, legit or unsure";
  if (note.length > 1000) return "The note is too long (at most 1000 characters)";
  return null;
}

/* ---- features: this transaction vs the user's usual ---------------------------- */

export interface FeatureRow {
  label: string;
  current: string;
  usual: string;
  /** the current value is out of the user's usual range */
  unusual: boolean;
  hint?: string;
}

function f(features: Record<string, number | null | undefined>, k: string): number | undefined {
  const v = features[k];
  return isNum(v) ? v : undefined;
}

/**
 * The feature snapshot next to the user's usual values, as rows for people.
 * Only rows whose inputs are present are returned.
 */
export function featureComparisons(
  features: Record<string, number | null | undefined> | undefined,
  locale?: string,
): FeatureRow[] {
  if (!features) return [];
  const rows: FeatureRow[] = [];
  const n = (v: number | undefined) => fmtNum(v, locale);
  const amount = f(features, "amount");
  const median = f(features, "median");
  const q1 = f(features, "q1");
  const q3 = f(features, "q3");
  const mad = f(features, "mad");
  const ewma = f(features, "ewma_mean");
  const ewmaStd = f(features, "ewma_std");
  if (amount !== undefined) {
    const usual: string[] = [];
    if (median !== undefined) usual.push(`median ${n(median)}`);
    if (q1 !== undefined && q3 !== undefined) usual.push(`IQR ${n(q1)}–${n(q3)}`);
    const iqr = q1 !== undefined && q3 !== undefined ? q3 - q1 : undefined;
    const unusual =
      (q3 !== undefined && iqr !== undefined && amount > q3 + 1.5 * iqr) ||
      (median !== undefined && mad !== undefined && mad > 0 && Math.abs(amount - median) / mad > 5);
    rows.push({
      label: "Amount",
      current: n(amount),
      usual: usual.join(" · ") || "—",
      unusual: !!unusual,
      hint: mad !== undefined ? `MAD ${n(mad)}` : undefined,
    });
  }
  if (ewma !== undefined) {
    rows.push({
      label: "Average amount (EWMA)",
      current: n(amount),
      usual: `${n(ewma)}${ewmaStd !== undefined ? ` ± ${n(ewmaStd)}` : ""}`,
      unusual: amount !== undefined && ewmaStd !== undefined && ewmaStd > 0 && (amount - ewma) / ewmaStd > 3,
    });
  }
  const ratio = f(features, "amount_to_median");
  if (ratio !== undefined)
    rows.push({ label: "Amount ÷ median", current: `${n(ratio)}×`, usual: "1×", unusual: ratio > 5 });
  const c1h = f(features, "count_1h");
  const rate = f(features, "rate_per_hour");
  if (c1h !== undefined)
    rows.push({
      label: "Transactions in the last hour",
      current: n(c1h),
      usual: rate !== undefined ? `${n(rate)} per hour` : "—",
      unusual: rate !== undefined && c1h > Math.max(3, rate * 5),
    });
  const c24 = f(features, "count_24h");
  if (c24 !== undefined)
    rows.push({
      label: "Transactions in 24 h",
      current: n(c24),
      usual: rate !== undefined ? `${n(rate * 24)} per day` : "—",
      unusual: rate !== undefined && c24 > Math.max(10, rate * 24 * 4),
    });
  const hour = f(features, "hour_of_day");
  const hp = f(features, "hour_prob");
  if (hour !== undefined)
    rows.push({
      label: "Hour of day",
      current: `${String(hour).padStart(2, "0")}:00`,
      usual: hp !== undefined ? `${fmtPct(hp, 1, locale)} of the user's activity at this hour` : "—",
      unusual: hp !== undefined && hp < 0.01,
    });
  for (const [k, text] of [
    ["new_device", "Device"],
    ["new_merchant", "Merchant"],
    ["new_country", "Country"],
    ["new_channel", "Channel"],
  ] as const) {
    const v = f(features, k);
    if (v !== undefined)
      rows.push({ label: text, current: v > 0 ? "new for this user" : "seen before", usual: "seen before", unusual: v > 0 });
  }
  const dist = f(features, "distance_km");
  const speed = f(features, "speed_kmh");
  if (dist !== undefined)
    rows.push({
      label: "Distance from previous",
      current: `${n(dist)} km`,
      usual: speed !== undefined ? `implies ${n(speed)} km/h` : "—",
      unusual: speed !== undefined && speed > 900,
    });
  const gap = f(features, "secs_since_prev");
  if (gap !== undefined)
    rows.push({
      label: "Time since previous",
      current: fmtDuration(gap),
      usual: rate !== undefined && rate > 0 ? `≈ ${fmtDuration(3600 / rate)} between transactions` : "—",
      unusual: false,
    });
  const prior = f(features, "n_prior");
  if (prior !== undefined)
    rows.push({ label: "History", current: `${n(prior)} earlier transactions`, usual: "", unusual: prior < 5 });
  return rows;
}

/* ---- live updates ---------------------------------------------------------------- */

/** Keyset order of anomalies: newest event time first, then id descending. */
export function compareKey(a: Pick<Anomaly, "timestamp" | "id">, b: Pick<Anomaly, "timestamp" | "id">): number {
  const ta = toMs(a.timestamp);
  const tb = toMs(b.timestamp);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export interface LiveMerge {
  /** anomalies newer than the newest shown, newest first */
  fresh: Anomaly[];
  /** the poll returned a full page of new ones: there may be more (a gap) */
  gap: boolean;
}

/**
 * What a poll of the first page brings that the table lacks: items newer
 * (in keyset order) than `newest` and not already shown.
 */
export function findNew(shown: Anomaly[], polled: Anomaly[], limit: number, newest?: Anomaly): LiveMerge {
  const top = newest ?? shown[0];
  const ids = new Set(shown.map((a) => a.id));
  const fresh = polled.filter((a) => !ids.has(a.id) && (!top || compareKey(a, top) < 0));
  return { fresh, gap: polled.length >= limit && fresh.length >= limit };
}

/* ---- sorting within a page -------------------------------------------------------- */

export type SortKey = "time" | "score" | "amount" | "severity";
export interface Sort {
  key: SortKey;
  dir: "asc" | "desc";
}

export function sortRows(rows: Anomaly[], s: Sort): Anomaly[] {
  const k = s.key;
  const sign = s.dir === "asc" ? 1 : -1;
  const val = (a: Anomaly): number =>
    k === "time" ? toMs(a.timestamp) : k === "score" ? a.score : k === "amount" ? (a.amount ?? 0) : severityRank(a.severity);
  return [...rows].sort((a, b) => {
    const d = val(a) - val(b);
    if (d) return sign * d;
    return -compareKey(a, b) * sign; // stable, keyset order
  });
}

/* ---- rule sources --------------------------------------------------------------------- */

export interface RuleSourceInfo {
  name?: string;
  when?: string;
  severity?: string;
  action?: string;
  mode?: string;
}

/**
 * The rules of a rule set source (docs/RULES.md): `rule ID { key = value … }`
 * blocks; `when` may span lines up to the next key or the closing brace.
 * Only for display ("why did this rule match"); the nodes compile the real thing.
 */
export function parseRuleSource(src: string): Map<string, RuleSourceInfo> {
  const out = new Map<string, RuleSourceInfo>();
  const text = src.replace(/#[^\n"]*(?=\n|$)/g, "");
  const re = /\brule\s+([A-Za-z_][\w.-]*)\s*\{/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    let depth = 1;
    let i = re.lastIndex;
    let inStr = false;
    for (; i < text.length && depth > 0; i++) {
      const c = text[i];
      if (c === '"' && text[i - 1] !== "\\") inStr = !inStr;
      else if (!inStr && c === "{") depth++;
      else if (!inStr && c === "}") depth--;
    }
    const body = text.slice(re.lastIndex, i - 1);
    const info: RuleSourceInfo = {};
    const keyRe = /(?:^|\n)\s*([a-z_]+)\s*=\s*/g;
    const keys: { key: string; start: number; end: number }[] = [];
    let k: RegExpExecArray | null;
    while ((k = keyRe.exec(body))) keys.push({ key: k[1], start: keyRe.lastIndex, end: body.length });
    keys.forEach((x, j) => (x.end = j + 1 < keys.length ? body.lastIndexOf("\n", keys[j + 1].start - 1) : body.length));
    for (const x of keys) {
      const v = body.slice(x.start, Math.max(x.start, x.end)).trim().replace(/\s+/g, " ");
      const unq = v.replace(/^"(.*)"$/, "$1");
      if (x.key === "when") info.when = v;
      else if (x.key === "name") info.name = unq;
      else if (x.key === "severity" || x.key === "action" || x.key === "mode") info[x.key] = unq;
    }
    out.set(m[1], info);
    re.lastIndex = i;
  }
  return out;
}
