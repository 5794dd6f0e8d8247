import { describe, expect, it } from "vitest";
import { bucketFor, decisionSeries, detectorSeries, sampleSpan, severitySeries, stack, totals, trendWindow } from "../src/trends";
import type { Anomaly, StatsBucket } from "../src/types";

function bucket(start: string, sev: [number, number, number, number], dec: [number, number, number]): StatsBucket {
  return {
    start,
    total: sev.reduce((a, b) => a + b, 0),
    by_severity: { low: sev[0], medium: sev[1], high: sev[2], critical: sev[3] },
    by_decision: { allow: dec[0], review: dec[1], block: dec[2] },
  };
}

describe("buckets", () => {
  it("chooses a bucket giving at most 180 points", () => {
    expect(bucketFor("1h")).toBe("1m");
    expect(bucketFor("6h")).toBe("5m");
    expect(bucketFor("24h")).toBe("15m");
    expect(bucketFor("7d")).toBe("1h");
    expect(bucketFor("30d")).toBe("6h");
  });
  it("ends the window at now, or at a newer event time, on a bucket boundary", () => {
    const now = Date.parse("2026-11-24T12:07:00Z");
    expect(trendWindow("1h", now)).toEqual({
      from: Date.parse("2026-11-24T11:08:00Z"),
      to: Date.parse("2026-11-24T12:08:00Z"),
      bucketMs: 60_000,
    });
    const ahead = Date.parse("2026-11-28T22:27:50Z");
    expect(trendWindow("24h", now, ahead).to).toBe(Date.parse("2026-11-28T22:30:00Z"));
    expect(trendWindow("24h", now, Date.parse("2026-11-01T00:00:00Z")).to).toBe(Date.parse("2026-11-24T12:15:00Z"));
  });
});

describe("series", () => {
  const bs = [bucket("2026-11-24T10:00:00Z", [1, 2, 0, 1], [0, 3, 1]), bucket("2026-11-24T10:15:00Z", [0, 5, 2, 0], [1, 6, 0])];
  it("splits by severity and decision with x in seconds", () => {
    const s = severitySeries(bs);
    expect(s.x).toEqual([Date.parse("2026-11-24T10:00:00Z") / 1000, Date.parse("2026-11-24T10:15:00Z") / 1000]);
    expect(s.ys.map((y) => [y.name, y.values])).toEqual([
      ["low", [1, 0]],
      ["medium", [2, 5]],
      ["high", [0, 2]],
      ["critical", [1, 0]],
    ]);
    expect(decisionSeries(bs).ys[2]).toEqual({ name: "block", values: [1, 0] });
  });
  it("adds up totals and finds the peak", () => {
    const t = totals(bs);
    expect(t.total).toBe(11);
    expect(t.bySeverity).toEqual({ low: 1, medium: 7, high: 2, critical: 1 });
    expect(t.byDecision.review).toBe(9);
    expect(t.peak).toEqual({ start: "2026-11-24T10:15:00Z", total: 7 });
    expect(totals([]).peak).toBeNull();
  });
  it("stacks series", () => {
    expect(stack([[1, 2], [3, 4], [0, 1]])).toEqual([[1, 2], [4, 6], [4, 7]]);
  });
});

describe("detections per detector and rule", () => {
  const from = Date.parse("2026-11-24T10:00:00Z");
  const mk = (id: string, min: number, reasons: Anomaly["reasons"]): Anomaly => ({
    id,
    user_id: "u",
    timestamp: new Date(from + min * 60_000).toISOString(),
    score: 0.5,
    severity: "low",
    decision: "review",
    reasons,
  });
  const sample = [
    mk("a", 1, [{ detector: "mad", contribution: 0.5 }, { detector: "iqr", contribution: 0.2 }, { detector: "zscore", contribution: 0 }]),
    mk("b", 2, [{ detector: "rule", feature: "big", contribution: 0.8 }]),
    mk("c", 16, [{ detector: "mad", contribution: 0.4 }]),
    mk("d", 61, [{ detector: "mad", contribution: 0.4 }]), // outside
  ];
  it("counts every contributing reason once per anomaly and bucket", () => {
    const s = detectorSeries(sample, from, from + 30 * 60_000, 15 * 60_000, 6);
    expect(s.x.length).toBe(2);
    expect(s.counts).toEqual({ mad: 2, iqr: 1, "rule:big": 1 });
    expect(s.ys.find((y) => y.name === "mad")!.values).toEqual([1, 1]);
    expect(s.ys.map((y) => y.name)).not.toContain("zscore");
  });
  it("folds the rest into 'other'", () => {
    const s = detectorSeries(sample, from, from + 30 * 60_000, 15 * 60_000, 1);
    expect(s.ys.map((y) => y.name)).toEqual(["mad", "other (2)"]);
    expect(s.ys[1].values).toEqual([2, 0]);
  });
  it("measures the span of a sample", () => {
    expect(sampleSpan(sample)).toEqual({ oldest: from + 60_000, newest: from + 61 * 60_000 });
    expect(sampleSpan([])).toBeNull();
  });
});
