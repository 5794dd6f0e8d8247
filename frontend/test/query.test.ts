import { describe, expect, it } from "vitest";
import {
  activeFilterCount,
  anomaliesQuery,
  anomalyHref,
  buildQuery,
  durationMs,
  filtersFromParams,
  filtersToParams,
  formatHash,
  parseHash,
  resolveRange,
} from "../src/query";

const NOW = Date.parse("2026-11-24T12:00:00Z");

describe("buildQuery", () => {
  it("encodes values and leaves out empty ones", () => {
    expect(buildQuery({ user_id: "u 1/ä", severity: "", limit: 50, cursor: null, x: undefined })).toBe(
      "?user_id=u%201%2F%C3%A4&limit=50",
    );
    expect(buildQuery({})).toBe("");
    expect(buildQuery({ n: NaN })).toBe("");
  });
});

describe("durationMs", () => {
  it("reads 15m, 24h, 7d", () => {
    expect(durationMs("15m")).toBe(900_000);
    expect(durationMs("24h")).toBe(86_400_000);
    expect(durationMs("7d")).toBe(604_800_000);
    expect(durationMs("x")).toBeNaN();
  });
});

describe("anomaliesQuery", () => {
  it("turns a preset range into from", () => {
    const q = anomaliesQuery({ range: "1h", severity: "high" }, { limit: 50 }, NOW);
    expect(q).toMatchObject({ from: "2026-11-24T11:00:00.000Z", to: undefined, severity: "high", limit: 50 });
  });
  it("passes a custom range, trims text filters and carries the cursor", () => {
    const q = anomaliesQuery(
      { range: "custom", from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", user_id: " u1 ", rule: " big " },
      { limit: 25, cursor: "abc" },
      NOW,
    );
    expect(q).toMatchObject({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-02T00:00:00.000Z",
      user_id: "u1",
      rule: "big",
      limit: 25,
      cursor: "abc",
    });
    expect(buildQuery(q)).toBe(
      "?from=2026-11-01T00%3A00%3A00.000Z&to=2026-11-02T00%3A00%3A00.000Z&user_id=u1&rule=big&limit=25&cursor=abc",
    );
  });
  it("ignores an unparsable custom bound", () => {
    expect(resolveRange({ range: "custom", from: "yesterday" }, NOW)).toEqual({});
  });
});

describe("filters in the hash", () => {
  it("drops invalid values", () => {
    expect(filtersFromParams({ severity: "huge", decision: "block", range: "2y" })).toEqual({ decision: "block" });
  });
  it("treats from/to as a custom range", () => {
    expect(filtersFromParams({ from: "2026-11-01T00:00:00Z" })).toEqual({ range: "custom", from: "2026-11-01T00:00:00Z" });
  });
  it("round-trips", () => {
    const f = { range: "24h" as const, severity: "high" as const, detector: "mad", user_id: "u1" };
    expect(filtersFromParams(filtersToParams(f))).toEqual(f);
    expect(activeFilterCount(f)).toBe(4);
  });
  it("keeps from/to only for a custom range", () => {
    expect(filtersToParams({ range: "1h", from: "2026-11-01T00:00:00Z" })).toEqual({ range: "1h" });
  });
});

describe("hash routes", () => {
  it("parses path and params", () => {
    expect(parseHash("#/anomalies?severity=high&user_id=u%201")).toEqual({
      path: ["anomalies"],
      params: { severity: "high", user_id: "u 1" },
    });
    expect(parseHash("")).toEqual({ path: [], params: {} });
  });
  it("keeps ids with slashes and spaces intact", () => {
    const h = anomalyHref("t1/a b");
    expect(h).toBe("#/anomalies/t1%2Fa%20b");
    expect(parseHash(h).path).toEqual(["anomalies", "t1/a b"]);
  });
  it("formats params", () => {
    expect(formatHash(["trends"], { range: "7d", empty: "" })).toBe("#/trends?range=7d");
  });
});
