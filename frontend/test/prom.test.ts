import { describe, expect, it } from "vitest";
import { parseProm, rateBetween, snapshotMetrics, sumOf } from "../src/prom";

const TEXT = `# HELP vigil_http_requests_total requests
# TYPE vigil_http_requests_total counter
vigil_http_requests_total{route="transactions",code="200"} 282
vigil_http_requests_total{route="anomalies",code="503"} 2
vigil_http_requests_total{route="rules",code="500"} 1
vigil_http_request_duration_seconds_bucket{le="+Inf"} 282
vigil_ingest_transactions_total{outcome="accepted"} 39934
vigil_ingest_transactions_total{outcome="rejected"} 7
vigil_anomalies_total 1972
vigil_verdicts_total{decision="allow"} 37962
vigil_verdicts_total{decision="review"} 1879
vigil_weird{msg="a \\"quoted\\", value"} 1.5e3
broken line
`;

describe("parseProm", () => {
  const s = parseProm(TEXT);
  it("reads names, labels and values, skipping comments", () => {
    expect(s[0]).toEqual({ name: "vigil_http_requests_total", labels: { route: "transactions", code: "200" }, value: 282 });
    expect(s.find((x) => x.name === "vigil_http_request_duration_seconds_bucket")).toEqual({
      name: "vigil_http_request_duration_seconds_bucket",
      labels: { le: "+Inf" },
      value: 282,
    });
    expect(parseProm("x +Inf")[0].value).toBe(Infinity);
    expect(s.find((x) => x.name === "vigil_weird")).toEqual({ name: "vigil_weird", labels: { msg: 'a "quoted", value' }, value: 1500 });
    expect(s.some((x) => x.name === "broken")).toBe(false);
  });
  it("sums with label filters", () => {
    expect(sumOf(s, "vigil_http_requests_total", (l) => l.code.startsWith("5"))).toBe(3);
    expect(sumOf(s, "vigil_ingest_transactions_total", { outcome: "accepted" })).toBe(39934);
    expect(sumOf(s, "nope")).toBeUndefined();
  });
  it("takes the dashboard's counters", () => {
    expect(snapshotMetrics(TEXT, 5)).toMatchObject({
      at: 5,
      transactions: 39934,
      anomalies: 1972,
      http5xx: 3,
      http5xxByRoute: { "anomalies 503": 2, "rules 500": 1 },
      rejected: 7,
    });
  });
});

describe("rateBetween", () => {
  it("gives tx/s and the anomaly share", () => {
    const r = rateBetween({ at: 0, transactions: 1000, anomalies: 10 }, { at: 5000, transactions: 6000, anomalies: 60 });
    expect(r).toEqual({ at: 5000, txPerSec: 1000, anomalyRate: 0.01 });
  });
  it("gives 0 % without traffic and nothing across a restart", () => {
    expect(rateBetween({ at: 0, transactions: 5, anomalies: 1 }, { at: 5000, transactions: 5, anomalies: 1 })).toEqual({
      at: 5000,
      txPerSec: 0,
      anomalyRate: 0,
    });
    expect(rateBetween({ at: 0, transactions: 500, anomalies: 9 }, { at: 5000, transactions: 10, anomalies: 1 }).txPerSec).toBeNull();
  });
});
