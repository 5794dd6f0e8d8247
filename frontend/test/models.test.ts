import { describe, expect, it } from "vitest";
import {
  compareKey,
  describeReason,
  featureComparisons,
  findNew,
  parseRuleSource,
  precisionFor,
  precisionIndex,
  precisionView,
  reasonSummary,
  sortRows,
  validateLabel,
} from "../src/models";
import type { Anomaly, PrecisionResponse } from "../src/types";

function an(id: string, ts: string, extra: Partial<Anomaly> = {}): Anomaly {
  return { id, user_id: "u1", timestamp: ts, score: 0.5, severity: "medium", decision: "review", reasons: [], ...extra };
}

const PREC: PrecisionResponse = {
  overall: { labelled: 5, fraud: 3, legit: 1, unsure: 1, precision: 0.75 },
  by_rule: [{ rule: "big_amount", versions: [1], labelled: 2, fraud: 1, legit: 1, unsure: 0, precision: 0.5 }],
  by_detector: [
    { detector: "mad", labelled: 3, fraud: 3, legit: 0, unsure: 0, precision: 1 },
    { detector: "iforest", labelled: 1, fraud: 0, legit: 0, unsure: 1, precision: null },
  ],
  by_model: [{ version: 3, labelled: 4, fraud: 1, legit: 3, unsure: 0, precision: 0.25 }],
};

describe("reasons", () => {
  it("reads a rule reason: the value is the rule set version", () => {
    const rv = describeReason({ detector: "rule", feature: "big_amount", value: 2, baseline: 0, threshold: 0, contribution: 0.8 });
    expect(rv).toMatchObject({ kind: "rule", ruleId: "big_amount", title: "Rule big_amount", contribution: 0.8 });
    expect(rv.value).toBeUndefined();
    expect(rv.explain).toBe("Rule big_amount matched (rule set v2)");
  });
  it("reads a model reason", () => {
    const rv = describeReason({ detector: "iforest", feature: "model v3", value: 0.71, baseline: 0.5, threshold: 0.65, contribution: 0.1 }, "en-US");
    expect(rv).toMatchObject({ kind: "model", modelVersion: 3, title: "Model v3" });
    expect(rv.ratio).toBeCloseTo(0.71 / 0.65);
    expect(rv.explain).toBe("Isolation score 0.71 ≥ threshold 0.65 (ordinary ≈ 0.5)");
  });
  it("reads a statistic with value, usual value and limit", () => {
    const rv = describeReason({ detector: "mad", feature: "amount", value: 400, baseline: 30.03, threshold: 260.48, contribution: 0 }, "en-US");
    expect(rv).toMatchObject({ kind: "statistic", title: "Robust z (MAD) · amount" });
    expect(rv.explain).toBe("amount 400, usual 30.03, limit 260.48");
    expect(rv.ratio).toBeCloseTo(400 / 260.48);
  });
  it("summarises the top reasons of a row", () => {
    const s = reasonSummary([
      { detector: "iqr", contribution: 0.2 },
      { detector: "rule", feature: "r1", contribution: 0.5 },
      { detector: "travel", contribution: 0.3 },
      { detector: "zscore", contribution: 0 },
      { detector: "mad", contribution: 0.1 },
    ]);
    expect(s).toEqual({ text: "rule:r1, travel, iqr", keys: ["rule:r1", "travel", "iqr"], more: 1 });
    expect(reasonSummary([{ detector: "zscore", contribution: 0 }]).keys).toEqual(["zscore"]);
  });
});

describe("precision", () => {
  const idx = precisionIndex(PREC);
  it("finds the row for a rule, a model version and a detector", () => {
    expect(precisionFor(idx, describeReason({ detector: "rule", feature: "big_amount" }))?.precision).toBe(0.5);
    expect(precisionFor(idx, describeReason({ detector: "iforest", feature: "model v3" }))?.precision).toBe(0.25);
    expect(precisionFor(idx, describeReason({ detector: "iforest", feature: "model v9" }))?.unsure).toBe(1);
    expect(precisionFor(idx, describeReason({ detector: "mad", feature: "amount" }))?.precision).toBe(1);
    expect(precisionFor(idx, describeReason({ detector: "iqr" }))).toBeUndefined();
  });
  it("shows precision with its labels and a tone", () => {
    expect(precisionView(idx.detector.get("mad"), "en-US")).toEqual({ text: "100%", detail: "3 fraud · 0 legit · 0 unsure", tone: "good" });
    expect(precisionView(idx.rule.get("big_amount"), "en-US").tone).toBe("fair");
    expect(precisionView(idx.model.get(3), "en-US").tone).toBe("poor");
    expect(precisionView(idx.detector.get("iforest")).text).toBe("n/a");
    expect(precisionView(undefined).text).toBe("no labels");
  });
  it("copes with an empty answer", () => {
    expect(precisionIndex(undefined).rule.size).toBe(0);
  });
});

describe("labels", () => {
  it("validates the form", () => {
    expect(validateLabel("fraud", "")).toBeNull();
    expect(validateLabel("", "")).toMatch(/Choose/);
    expect(validateLabel("legit", "x".repeat(1001))).toMatch(/too long/);
  });
});

describe("features vs usual", () => {
  const rows = featureComparisons(
    {
      amount: 400,
      median: 31.82,
      q1: 19.2,
      q3: 69,
      mad: 16.2,
      ewma_mean: 69,
      ewma_std: 148.8,
      amount_to_median: 12.6,
      count_1h: 1,
      rate_per_hour: 0.2,
      hour_of_day: 3,
      hour_prob: 0.001,
      new_device: 1,
      new_merchant: 0,
      distance_km: 9570,
      speed_kmh: 3773,
      n_prior: 35,
      late: 0,
    },
    "en-US",
  );
  const by = Object.fromEntries(rows.map((r) => [r.label, r]));
  it("compares the amount with the user's median and IQR", () => {
    expect(by["Amount"]).toMatchObject({ current: "400", usual: "median 31.82 · IQR 19.2–69", unusual: true });
  });
  it("flags new devices, rare hours and impossible speed", () => {
    expect(by["Device"]).toMatchObject({ current: "new for this user", unusual: true });
    expect(by["Merchant"]).toMatchObject({ current: "seen before", unusual: false });
    expect(by["Hour of day"]).toMatchObject({ current: "03:00", unusual: true });
    expect(by["Distance from previous"]).toMatchObject({ current: "9,570 km", unusual: true });
  });
  it("leaves out rows without inputs", () => {
    expect(featureComparisons({ amount: 5 }).map((r) => r.label)).toEqual(["Amount"]);
    expect(featureComparisons(undefined)).toEqual([]);
  });
});

describe("live updates", () => {
  const shown = [an("c", "2026-11-24T10:02:00Z"), an("b", "2026-11-24T10:01:00Z")];
  it("orders by event time, then id", () => {
    expect(compareKey(an("a", "2026-11-24T10:00:00Z"), an("b", "2026-11-24T10:00:00Z"))).toBeGreaterThan(0);
    expect(compareKey(shown[0], shown[1])).toBeLessThan(0);
  });
  it("finds anomalies newer than the top row", () => {
    const polled = [an("e", "2026-11-24T10:04:00Z"), an("d", "2026-11-24T10:03:00Z"), shown[0], shown[1]];
    expect(findNew(shown, polled, 50)).toEqual({ fresh: polled.slice(0, 2), gap: false });
  });
  it("ignores late arrivals older than the top row", () => {
    expect(findNew(shown, [shown[0], an("late", "2026-11-24T09:00:00Z")], 50).fresh).toEqual([]);
  });
  it("reports a gap when a whole page is new", () => {
    const polled = [an("e", "2026-11-24T10:04:00Z"), an("d", "2026-11-24T10:03:00Z")];
    expect(findNew(shown, polled, 2).gap).toBe(true);
  });
  it("compares with a remembered newest row on later pages", () => {
    expect(findNew([], [an("x", "2026-11-24T10:05:00Z"), shown[0]], 50, shown[0]).fresh.map((a) => a.id)).toEqual(["x"]);
  });
});

describe("sorting a page", () => {
  const rows = [
    an("a", "2026-11-24T10:00:00Z", { score: 0.9, amount: 5, severity: "low" }),
    an("b", "2026-11-24T11:00:00Z", { score: 0.2, amount: 500, severity: "critical" }),
    an("c", "2026-11-24T12:00:00Z", { score: 0.5, amount: 50, severity: "high" }),
  ];
  it("sorts by time, score, amount and severity", () => {
    expect(sortRows(rows, { key: "time", dir: "asc" }).map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(sortRows(rows, { key: "time", dir: "desc" }).map((r) => r.id)).toEqual(["c", "b", "a"]);
    expect(sortRows(rows, { key: "score", dir: "desc" }).map((r) => r.id)).toEqual(["a", "c", "b"]);
    expect(sortRows(rows, { key: "amount", dir: "asc" }).map((r) => r.id)).toEqual(["a", "c", "b"]);
    expect(sortRows(rows, { key: "severity", dir: "desc" }).map((r) => r.id)).toEqual(["b", "c", "a"]);
  });
  it("does not change its input", () => {
    sortRows(rows, { key: "score", dir: "asc" });
    expect(rows.map((r) => r.id)).toEqual(["a", "b", "c"]);
  });
});

describe("rule sources", () => {
  it("finds each rule's condition, name, severity and mode", () => {
    const m = parseRuleSource(`# fraud rules
rule big_foreign {
  name     = "Large purchase {abroad}"
  severity = high
  action   = review
  when     = amount > 1000 and country not in ("US", "CA")
             and count_1h >= 5
}
rule night_owl {
  severity = low
  mode = shadow
  when = hour_of_day < 5 # small hours
}
`);
    expect([...m.keys()]).toEqual(["big_foreign", "night_owl"]);
    expect(m.get("big_foreign")).toEqual({
      name: "Large purchase {abroad}",
      severity: "high",
      action: "review",
      when: 'amount > 1000 and country not in ("US", "CA") and count_1h >= 5',
    });
    expect(m.get("night_owl")).toEqual({ severity: "low", mode: "shadow", when: "hour_of_day < 5" });
  });
  it("copes with an empty source", () => {
    expect(parseRuleSource("").size).toBe(0);
  });
});
