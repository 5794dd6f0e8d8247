// Formatting of numbers, money, times and durations. Pure functions; the
// locale and time zone are parameters so tests are deterministic (the
// app passes the browser's).

export interface FmtOpts {
  locale?: string;
  timeZone?: string;
}

const cache = new Map<string, Intl.NumberFormat>();
function nf(locale: string | undefined, o: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale ?? ""}|${JSON.stringify(o)}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, o);
    cache.set(key, f);
  }
  return f;
}

const dcache = new Map<string, Intl.DateTimeFormat>();
/** A cached Intl.DateTimeFormat: constructing one costs about a millisecond, tables format hundreds of times. */
export function dtf(locale: string | undefined, o: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale ?? ""}|${JSON.stringify(o)}`;
  let f = dcache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, o);
    dcache.set(key, f);
  }
  return f;
}

const DASH = "—";

export function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** 1234567 → "1,234,567"; fractions up to `digits`. */
export function fmtInt(v: number | null | undefined, locale?: string): string {
  return isNum(v) ? nf(locale, { maximumFractionDigits: 0 }).format(v) : DASH;
}

/** A measured value: up to 4 significant digits for small numbers, grouped for big ones. */
export function fmtNum(v: number | null | undefined, locale?: string): string {
  if (!isNum(v)) return DASH;
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1000) return nf(locale, { maximumFractionDigits: 0 }).format(v);
  if (a >= 1) return nf(locale, { maximumFractionDigits: 2 }).format(v);
  if (a >= 0.001) return nf(locale, { maximumSignificantDigits: 3 }).format(v);
  return v.toExponential(2);
}

/** 12345 → "12.3k", 1.2e6 → "1.2M". */
export function fmtCompact(v: number | null | undefined, locale?: string): string {
  if (!isNum(v)) return DASH;
  if (Math.abs(v) < 1000) return fmtNum(v, locale);
  return nf(locale, { notation: "compact", maximumFractionDigits: 1 }).format(v);
}

/** 0.1234 → "12.3%"; null → "—". */
export function fmtPct(v: number | null | undefined, digits = 1, locale?: string): string {
  if (!isNum(v)) return DASH;
  return nf(locale, { style: "percent", minimumFractionDigits: 0, maximumFractionDigits: digits }).format(v);
}

// ISO 4217 minor units other than 2 (the rest use 2)
const MINOR: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

/**
 * Amount with its currency code: "USD 1,234.50", "JPY 1,200". One cached
 * number format per precision (a currency-style Intl format per currency
 * costs milliseconds to build, and a page shows many currencies).
 */
export function fmtMoney(amount: number | null | undefined, currency?: string, locale?: string): string {
  if (!isNum(amount)) return DASH;
  const code = currency && /^[A-Z]{3}$/.test(currency) ? currency : undefined;
  const d = code ? (MINOR[code] ?? 2) : 2;
  const n = nf(locale, { minimumFractionDigits: d, maximumFractionDigits: d }).format(amount);
  return currency ? `${currency} ${n}` : n;
}

/** Score 0..1 as "0.97". */
export function fmtScore(v: number | null | undefined): string {
  return isNum(v) ? v.toFixed(2) : DASH;
}

export function toMs(t: string | number | Date | null | undefined): number {
  if (t === null || t === undefined) return NaN;
  if (t instanceof Date) return t.getTime();
  if (typeof t === "number") return t;
  return Date.parse(t);
}

/** Local date and time: "24 Nov 2026, 16:18:25". */
export function fmtTime(t: string | number | Date | null | undefined, o: FmtOpts = {}): string {
  const ms = toMs(t);
  if (Number.isNaN(ms)) return DASH;
  return dtf(o.locale, {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    timeZone: o.timeZone,
  }).format(ms);
}

/** Short local time for dense tables: "16:18:25" today, else "24 Nov 16:18". */
export function fmtTimeShort(t: string | number | Date | null | undefined, now: number, o: FmtOpts = {}): string {
  const ms = toMs(t);
  if (Number.isNaN(ms)) return DASH;
  const day = (x: number) =>
    dtf("en-CA", { timeZone: o.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(x);
  const sameDay = day(ms) === day(now);
  return dtf(
    o.locale,
    sameDay
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: o.timeZone }
      : { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false, timeZone: o.timeZone },
  ).format(ms);
}

/** The UTC form shown on hover: "2026-11-24 16:18:25.473 UTC". */
export function fmtUtc(t: string | number | Date | null | undefined): string {
  const ms = toMs(t);
  if (Number.isNaN(ms)) return "";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", "4 d ago", "in 3 h". */
export function fmtRelative(t: string | number | Date | null | undefined, now: number): string {
  const ms = toMs(t);
  if (Number.isNaN(ms)) return DASH;
  const d = now - ms;
  const a = Math.abs(d);
  let s: string;
  if (a < 5_000) return "just now";
  if (a < 60_000) s = `${Math.round(a / 1000)} s`;
  else if (a < 3_600_000) s = `${Math.round(a / 60_000)} min`;
  else if (a < 86_400_000) s = `${Math.round(a / 3_600_000)} h`;
  else if (a < 60 * 86_400_000) s = `${Math.round(a / 86_400_000)} d`;
  else s = `${Math.round(a / (30 * 86_400_000))} mo`;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/** Seconds as "3 d 4 h", "5 h 12 min", "42 s". */
export function fmtDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ""}`.trim();
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Milliseconds with a sensible precision: "0.42 ms", "12.3 ms", "1.2 s". */
export function fmtMs(ms: number | null | undefined): string {
  if (!isNum(ms)) return DASH;
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (!isNum(n)) return DASH;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A feature or detector name for people: "rate_per_hour" → "Rate per hour". */
export function humanize(name: string): string {
  const s = name.replace(/_/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/**
 * Labels of a time axis (uPlot's splits, seconds): "14:30" for ticks under
 * a day apart, with the date added on a second line where the day changes;
 * "28 Nov" for daily ticks.
 */
export function axisTimeLabels(splits: number[], incrSec: number, o: FmtOpts = {}): string[] {
  const hm = dtf(o.locale, { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: o.timeZone });
  const md = dtf(o.locale, { month: "short", day: "numeric", timeZone: o.timeZone });
  const dayKey = dtf("en-CA", { timeZone: o.timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  let prevDay = "";
  return splits.map((s, i) => {
    if (s === null || s === undefined || !Number.isFinite(s)) return "";
    const ms = s * 1000;
    if (incrSec >= 86400) return md.format(ms);
    const day = dayKey.format(ms);
    const label = i === 0 || day !== prevDay ? `${hm.format(ms)}\n${md.format(ms)}` : hm.format(ms);
    prevDay = day;
    return label;
  });
}
