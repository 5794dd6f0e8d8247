// Trends: anomalies over time by severity and decision (GET
// /v1/stats/anomalies), detections per detector/rule (computed here from
// the latest anomalies of the range: there is no stats endpoint for that
// yet), and tx/s with the anomaly rate sampled from /metrics.

import { useEffect, useMemo, useState } from "preact/hooks";
import { Chart, type ChartSpec } from "../components/Chart";
import { Card, Empty, ErrorState, Loading, Stat } from "../components/ui";
import { useApp } from "../context";
import { fmtCompact, fmtInt, fmtNum, fmtPct, fmtTime } from "../format";
import { navigate, useResource, useTitle } from "../hooks";
import { formatHash } from "../query";
import { sampler } from "../sampler";
import {
  bucketFor,
  decisionSeries,
  detectorSeries,
  sampleSpan,
  severitySeries,
  totals,
  trendWindow,
  TREND_RANGES,
  type TrendRange,
} from "../trends";
import type { Anomaly, AnomalyPage, StatsResponse } from "../types";

export const SEV_COLORS: Record<string, string> = {
  low: "#93c5fd",
  medium: "#fbbf24",
  high: "#f97316",
  critical: "#dc2626",
};
export const DEC_COLORS: Record<string, string> = { allow: "#94a3b8", review: "#d97706", block: "#dc2626" };
const PALETTE = ["#2563eb", "#db2777", "#059669", "#7c3aed", "#d97706", "#0891b2", "#64748b"];

const SAMPLE_PAGES = 2;
const SAMPLE_LIMIT = 1000;

interface TrendData {
  from: number;
  to: number;
  bucketMs: number;
  bucket: string;
  stats: StatsResponse;
  sample: Anomaly[];
  sampleComplete: boolean;
}

export function Trends({ params }: { params: Record<string, string> }) {
  const { api } = useApp();
  useTitle("Trends");
  const range = ((TREND_RANGES as readonly string[]).includes(params.range) ? params.range : "24h") as TrendRange;

  const res = useResource<TrendData>(
    async (signal) => {
      const top = await api.get<AnomalyPage>("/v1/anomalies", { limit: 1 }, signal);
      const newest = top.anomalies?.[0] ? Date.parse(top.anomalies[0].timestamp) : undefined;
      const { from, to, bucketMs } = trendWindow(range, Date.now(), newest);
      const bucket = bucketFor(range);
      const iso = (t: number) => new Date(t).toISOString();
      const statsP = api.get<StatsResponse>("/v1/stats/anomalies", { bucket, from: iso(from), to: iso(to) }, signal);
      const sample: Anomaly[] = [];
      let cursor: string | null = null;
      let complete = false;
      for (let i = 0; i < SAMPLE_PAGES; i++) {
        const p: AnomalyPage = await api.get<AnomalyPage>(
          "/v1/anomalies",
          { from: iso(from), to: iso(to), limit: SAMPLE_LIMIT, cursor },
          signal,
        );
        sample.push(...(p.anomalies ?? []));
        cursor = p.next_cursor;
        if (!cursor) {
          complete = true;
          break;
        }
      }
      return { from, to, bucketMs, bucket, stats: await statsP, sample, sampleComplete: complete };
    },
    [range],
  );

  const d = res.data;
  const t = useMemo(() => (d ? totals(d.stats.buckets ?? []) : null), [d]);

  const sevSpec = useMemo<ChartSpec | null>(() => {
    if (!d) return null;
    const s = severitySeries(d.stats.buckets ?? []);
    return {
      kind: "stacked-bars",
      height: 240,
      x: s.x,
      series: s.ys.map((y) => ({ name: y.name, values: y.values, color: SEV_COLORS[y.name] })),
      fmtY: (v) => fmtCompact(v),
    };
  }, [d]);

  const decSpec = useMemo<ChartSpec | null>(() => {
    if (!d) return null;
    const s = decisionSeries(d.stats.buckets ?? []);
    return {
      kind: "lines",
      height: 200,
      x: s.x,
      series: s.ys.map((y) => ({ name: y.name, values: y.values, color: DEC_COLORS[y.name] })),
      fmtY: (v) => fmtCompact(v),
    };
  }, [d]);

  const detSpec = useMemo<(ChartSpec & { counts: Record<string, number> }) | null>(() => {
    if (!d) return null;
    const s = detectorSeries(d.sample, d.from, d.to, d.bucketMs, 6);
    return {
      kind: "lines",
      height: 220,
      x: s.x,
      series: s.ys.map((y, i) => ({ name: y.name, values: y.values, color: PALETTE[i % PALETTE.length] })),
      fmtY: (v) => fmtCompact(v),
      counts: s.counts,
    };
  }, [d]);

  const span = d ? sampleSpan(d.sample) : null;
  const setRange = (r: string) => navigate(formatHash(["trends"], { range: r }));

  return (
    <div class="page page-trends">
      <header class="page-head">
        <div>
          <h1>Trends</h1>
          <p class="page-sub">
            {d ? (
              <>
                {fmtTime(d.from)} → {fmtTime(d.to)} · {d.bucket} buckets
              </>
            ) : (
              "Anomalies over time"
            )}
          </p>
        </div>
        <div class="seg" role="radiogroup" aria-label="Range">
          {TREND_RANGES.map((r) => (
            <button key={r} role="radio" aria-checked={r === range} class={`seg-btn${r === range ? " on" : ""}`} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
      </header>

      {res.loading && !d && <Loading text="Loading trends…" />}
      {res.error ? <ErrorState error={res.error} onRetry={() => res.reload()} /> : null}
      {d && t && (
        <>
          <div class="stats-row">
            <Stat label="Anomalies in range" value={fmtInt(t.total)} sub={`${d.bucket} buckets`} />
            <Stat
              label="High + critical"
              value={fmtInt(t.bySeverity.high + t.bySeverity.critical)}
              sub={t.total ? fmtPct((t.bySeverity.high + t.bySeverity.critical) / t.total) : "—"}
              tone={t.bySeverity.critical > 0 ? "bad" : undefined}
            />
            <Stat label="Blocked" value={fmtInt(t.byDecision.block)} sub={`${fmtInt(t.byDecision.review)} to review`} />
            <Stat
              label="Peak bucket"
              value={t.peak ? fmtInt(t.peak.total) : "—"}
              sub={t.peak ? fmtTime(t.peak.start) : "no anomalies"}
            />
          </div>
          {t.total === 0 ? (
            <Card title="Anomalies over time">
              <Empty title={`No anomalies in the last ${range}`} icon="chart">
                {range !== "30d" && (
                  <button class="btn btn-sm" onClick={() => setRange(range === "7d" ? "30d" : "7d")}>
                    Show {range === "7d" ? "30 days" : "7 days"}
                  </button>
                )}
              </Empty>
            </Card>
          ) : (
            <>
              <Card title="Anomalies over time by severity" subtitle="Stacked: low, medium, high, critical" id="chart-severity">
                {sevSpec && <Chart spec={sevSpec} label="Anomalies over time by severity" />}
              </Card>
              <div class="grid-2">
                <Card title="By decision" id="chart-decision">
                  {decSpec && <Chart spec={decSpec} label="Anomalies over time by decision" />}
                </Card>
                <Card
                  title="By detector and rule"
                  id="chart-detector"
                  subtitle={
                    <>
                      From the latest {fmtInt(d.sample.length)} anomalies of the range
                      {!d.sampleComplete && span ? ` (covers ${fmtTime(span.oldest)} onwards)` : ""}; computed in the browser.
                    </>
                  }
                >
                  {detSpec && detSpec.series.length ? (
                    <>
                      <Chart spec={detSpec} label="Detections by detector and rule" />
                      <div class="chips">
                        {Object.entries(detSpec.counts)
                          .sort((a, b) => b[1] - a[1])
                          .slice(0, 10)
                          .map(([k, n]) => (
                            <a
                              key={k}
                              class="chip"
                              href={formatHash(
                                ["anomalies"],
                                k.startsWith("rule:") ? { rule: k.slice(5) } : { detector: k },
                              )}
                              title="Show these anomalies"
                            >
                              {k} <b>{fmtInt(n)}</b>
                            </a>
                          ))}
                      </div>
                    </>
                  ) : (
                    <Empty title="No detections in the sample" />
                  )}
                </Card>
              </div>
            </>
          )}
        </>
      )}
      <LiveRates />
    </div>
  );
}

/** tx/s and anomaly rate, from the app's /metrics sampler. */
export function LiveRates({ compact }: { compact?: boolean }) {
  const [, setTick] = useState(0);
  useEffect(() => sampler.subscribe(() => setTick((n) => n + 1)), []);
  const pts = sampler.points;
  const last = pts[pts.length - 1];
  const spec = useMemo<ChartSpec | null>(() => {
    if (pts.length < 2) return null;
    return {
      kind: "lines",
      height: compact ? 140 : 160,
      x: pts.map((p) => Math.floor(p.at / 1000)),
      series: [
        { name: "tx/s", values: pts.map((p) => p.txPerSec), color: "#2563eb" },
        {
          name: "anomaly rate",
          values: pts.map((p) => (p.anomalyRate === null ? null : p.anomalyRate * 100)),
          color: "#dc2626",
          right: true,
        },
      ],
      fmtY: (v) => fmtCompact(v),
      fmtRight: (v) => `${fmtNum(v)}%`,
    };
  }, [pts.length, pts[pts.length - 1]?.at]);
  return (
    <Card
      title="Throughput and anomaly rate"
      subtitle="Sampled from /metrics every 5 s since you signed in (this gateway)."
      id="chart-throughput"
    >
      <div class="row gap-lg wrap">
        <Stat label="Transactions / s" value={last?.txPerSec != null ? fmtNum(last.txPerSec) : "—"} />
        <Stat label="Anomaly rate" value={last?.anomalyRate != null ? fmtPct(last.anomalyRate, 2) : "—"} />
        <div class="grow">
          {spec ? (
            <Chart spec={spec} label="Transactions per second and anomaly rate" />
          ) : sampler.error ? (
            <ErrorState error={new Error(sampler.error)} compact />
          ) : (
            <div class="muted small pad">Collecting samples…</div>
          )}
        </div>
      </div>
    </Card>
  );
}
