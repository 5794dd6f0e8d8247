import { describe, expect, it } from "vitest";
import {
  axisTimeLabels,
  fmtCompact,
  fmtDuration,
  fmtInt,
  fmtMoney,
  fmtMs,
  fmtNum,
  fmtPct,
  fmtRelative,
  fmtTime,
  fmtTimeShort,
  fmtUtc,
  humanize,
} from "../src/format";

const L = "en-US";
const UTC = { locale: "en-GB", timeZone: "UTC" };

describe("numbers", () => {
  it("groups integers and keeps a dash for missing values", () => {
    expect(fmtInt(1234567, L)).toBe("1,234,567");
    expect(fmtInt(null)).toBe("—");
    expect(fmtInt(NaN)).toBe("—");
  });
  it("gives measured values sensible precision", () => {
    expect(fmtNum(30.030000686645508, L)).toBe("30.03");
    expect(fmtNum(9907.37, L)).toBe("9,907");
    expect(fmtNum(0.05084745762711865, L)).toBe("0.0508");
    expect(fmtNum(0, L)).toBe("0");
    expect(fmtNum(0.00001, L)).toBe("1.00e-5");
  });
  it("compacts big numbers", () => {
    expect(fmtCompact(100000, L)).toBe("100K");
    expect(fmtCompact(950, L)).toBe("950");
  });
  it("formats percentages", () => {
    expect(fmtPct(0.1234, 1, L)).toBe("12.3%");
    expect(fmtPct(1, 0, L)).toBe("100%");
    expect(fmtPct(null)).toBe("—");
  });
  it("formats money with the currency code", () => {
    expect(fmtMoney(1234.5, "USD", L)).toBe("USD 1,234.50");
    expect(fmtMoney(12, "XYZ", L)).toBe("XYZ 12.00");
    expect(fmtMoney(1200.4, "JPY", L)).toBe("JPY 1,200");
    expect(fmtMoney(1.5, "KWD", L)).toBe("KWD 1.500");
    expect(fmtMoney(5, undefined, L)).toBe("5.00");
  });
  it("formats durations and latencies", () => {
    expect(fmtDuration(42)).toBe("42 s");
    expect(fmtDuration(3 * 86400 + 4 * 3600)).toBe("3 d 4 h");
    expect(fmtDuration(5 * 3600 + 12 * 60)).toBe("5 h 12 min");
    expect(fmtMs(0.42)).toBe("0.42 ms");
    expect(fmtMs(12.3)).toBe("12 ms");
    expect(fmtMs(1234)).toBe("1.2 s");
  });
  it("humanises names", () => {
    expect(humanize("rate_per_hour")).toBe("Rate per hour");
  });
});

describe("times", () => {
  const t = "2026-11-24T16:18:25.473Z";
  const now = Date.parse("2026-11-24T16:20:25.473Z");
  it("shows local time, with UTC for the hover", () => {
    expect(fmtTime(t, UTC)).toBe("24 Nov 2026, 16:18:25");
    expect(fmtUtc(t)).toBe("2026-11-24 16:18:25.473 UTC");
    expect(fmtTime("not a time")).toBe("—");
  });
  it("shortens to the time of day today, else adds the date", () => {
    expect(fmtTimeShort(t, now, UTC)).toBe("16:18:25");
    expect(fmtTimeShort("2026-11-20T09:05:00Z", now, UTC)).toBe("20 Nov, 09:05");
  });
  it("says how long ago, or how far ahead", () => {
    expect(fmtRelative(now - 2000, now)).toBe("just now");
    expect(fmtRelative(now - 42_000, now)).toBe("42 s ago");
    expect(fmtRelative(t, now)).toBe("2 min ago");
    expect(fmtRelative(now - 5 * 3_600_000, now)).toBe("5 h ago");
    expect(fmtRelative(now - 3 * 86_400_000, now)).toBe("3 d ago");
    expect(fmtRelative(now + 3 * 3_600_000, now)).toBe("in 3 h");
  });
  it("labels a time axis with the date where the day changes", () => {
    const s = [Date.parse("2026-11-24T22:00:00Z") / 1000, Date.parse("2026-11-24T23:00:00Z") / 1000, Date.parse("2026-11-25T00:00:00Z") / 1000];
    expect(axisTimeLabels(s, 3600, UTC)).toEqual(["22:00\n24 Nov", "23:00", "00:00\n25 Nov"]);
    expect(axisTimeLabels([s[0]], 86400, UTC)).toEqual(["24 Nov"]);
  });
});
