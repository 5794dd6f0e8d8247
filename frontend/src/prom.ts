// A small reader of the Prometheus text format (GET /metrics), enough for
// the counters the dashboard samples: name{labels} value lines, comments
// skipped, escaped label values handled.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    while (s[i] === " " || s[i] === ",") i++;
    const eq = s.indexOf("=", i);
    if (eq < 0) break;
    const key = s.slice(i, eq).trim();
    i = eq + 1;
    if (s[i] !== '"') break;
    i++;
    let v = "";
    while (i < s.length && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < s.length) {
        const c = s[i + 1];
        v += c === "n" ? "\n" : c;
        i += 2;
      } else v += s[i++];
    }
    i++; // closing quote
    out[key] = v;
  }
  return out;
}

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    const brace = line.indexOf("{");
    const sp = line.indexOf(" ");
    if (brace >= 0 && (sp < 0 || brace < sp)) {
      name = line.slice(0, brace);
      const close = line.lastIndexOf("}");
      if (close < brace) continue;
      labels = parseLabels(line.slice(brace + 1, close));
      rest = line.slice(close + 1).trim();
    } else {
      if (sp < 0) continue;
      name = line.slice(0, sp);
      rest = line.slice(sp + 1).trim();
    }
    const vs = rest.split(/\s+/)[0];
    const value = vs === "+Inf" ? Infinity : vs === "-Inf" ? -Infinity : Number(vs);
    if (Number.isNaN(value) && vs !== "NaN") continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** Sum of every sample of `name` whose labels match `where` (a predicate or exact values). */
export function sumOf(
  samples: Sample[],
  name: string,
  where?: Record<string, string> | ((l: Record<string, string>) => boolean),
): number | undefined {
  let total: number | undefined;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (typeof where === "function" ? !where(s.labels) : where && Object.entries(where).some(([k, v]) => s.labels[k] !== v))
      continue;
    total = (total ?? 0) + s.value;
  }
  return total;
}

/** The counters the dashboard reads from /metrics. */
export interface MetricsSnapshot {
  at: number;
  transactions?: number;
  anomalies?: number;
  http5xx?: number;
  /** HTTP 5xx answers by route */
  http5xxByRoute?: Record<string, number>;
  rejected?: number;
  routerFailed?: number;
  commitFailures?: number;
  kafkaLag?: number;
}

export function snapshotMetrics(text: string, at: number): MetricsSnapshot {
  const s = parseProm(text);
  const verdicts = sumOf(s, "vigil_verdicts_total");
  const nonAllow = sumOf(s, "vigil_verdicts_total", (l) => l.decision !== "allow");
  const byRoute: Record<string, number> = {};
  for (const x of s)
    if (x.name === "vigil_http_requests_total" && /^5/.test(x.labels.code ?? "") && x.value > 0) {
      const k = `${x.labels.route ?? "?"} ${x.labels.code}`;
      byRoute[k] = (byRoute[k] ?? 0) + x.value;
    }
  return {
    at,
    transactions: sumOf(s, "vigil_ingest_transactions_total", { outcome: "accepted" }) ?? sumOf(s, "vigil_transactions_total") ?? verdicts,
    anomalies: sumOf(s, "vigil_anomalies_total") ?? nonAllow,
    http5xx: sumOf(s, "vigil_http_requests_total", (l) => /^5/.test(l.code ?? "")) ?? 0,
    http5xxByRoute: byRoute,
    rejected: sumOf(s, "vigil_ingest_transactions_total", { outcome: "rejected" }),
    routerFailed: sumOf(s, "vigil_router_failed_transactions_total"),
    commitFailures: sumOf(s, "vigil_lmdb_commit_failures_total"),
    kafkaLag: sumOf(s, "vigil_kafka_consumer_lag"),
  };
}

export interface RatePoint {
  at: number;
  txPerSec: number | null;
  anomalyRate: number | null;
}

/** Rates between two snapshots; null where a counter is missing or went back (a restart). */
export function rateBetween(a: MetricsSnapshot, b: MetricsSnapshot): RatePoint {
  const dt = (b.at - a.at) / 1000;
  const dTx = a.transactions !== undefined && b.transactions !== undefined ? b.transactions - a.transactions : undefined;
  const dAn = a.anomalies !== undefined && b.anomalies !== undefined ? b.anomalies - a.anomalies : undefined;
  const txPerSec = dt > 0 && dTx !== undefined && dTx >= 0 ? dTx / dt : null;
  const anomalyRate = dTx !== undefined && dTx > 0 && dAn !== undefined && dAn >= 0 ? Math.min(1, dAn / dTx) : dTx === 0 ? 0 : null;
  return { at: b.at, txPerSec, anomalyRate };
}
