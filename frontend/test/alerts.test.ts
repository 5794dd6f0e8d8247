import { describe, expect, it } from "vitest";
import {
  alertFiltersFromParams,
  alertFiltersToParams,
  alertRow,
  alertStatusClass,
  alertStatusHint,
  alertsQuery,
  channelNames,
  channelTiles,
  isAlertingOff,
  truncate,
} from "../src/alerts";
import { ApiError } from "../src/api";
import { buildQuery } from "../src/query";
import type { Alert } from "../src/types";

describe("alert filters", () => {
  it("reads status and channel from the route, dropping unknown statuses", () => {
    expect(alertFiltersFromParams({ status: "dead", channel: " hook " })).toEqual({ status: "dead", channel: "hook" });
    expect(alertFiltersFromParams({ status: "bogus", channel: "" })).toEqual({});
  });
  it("round-trips through the route params", () => {
    const f = { status: "throttled" as const, channel: "slack" };
    expect(alertFiltersFromParams(alertFiltersToParams(f))).toEqual(f);
    expect(alertFiltersToParams({ status: "", channel: "  " })).toEqual({});
  });
});

describe("alertsQuery", () => {
  it("builds the GET /v1/alerts query, leaving out unset values", () => {
    expect(buildQuery(alertsQuery({ status: "dead", channel: "hook" }, { limit: 50, cursor: "abc" }))).toBe(
      "?status=dead&channel=hook&limit=50&cursor=abc",
    );
    expect(buildQuery(alertsQuery({}, { limit: 50, cursor: null }))).toBe("?limit=50");
    expect(buildQuery(alertsQuery({ channel: "a b/c" }))).toBe("?channel=a%20b%2Fc");
  });
});

describe("status badges", () => {
  it("maps each status to its class and a hint", () => {
    expect(alertStatusClass("pending")).toBe("ast-pending");
    expect(alertStatusClass("throttled")).toBe("ast-throttled");
    expect(alertStatusClass("delivered")).toBe("ast-delivered");
    expect(alertStatusClass("dead")).toBe("ast-dead");
    expect(alertStatusClass("weird")).toBe("ast-unknown");
    expect(alertStatusHint("dead")).toMatch(/retry/);
    expect(alertStatusHint("weird")).toBe("Status: weird");
  });
});

describe("alertRow", () => {
  const base: Alert = {
    id: "1-7",
    channel: "hook",
    status: "dead",
    created: "2026-11-24T10:00:00.000Z",
    count: 3,
    count_sent: 3,
    attempts: 8,
    last_error: "connect to 127.0.0.1:9 failed: Connection refused (after 8 attempts, the last one at 10:05)",
    user_id: "user-42",
    reason: "rule:big_amount",
    anomaly_id: "tx/1",
  };
  it("makes a table row with a link to the anomaly and a truncated error", () => {
    const r = alertRow(base, 20);
    expect(r.statusClass).toBe("ast-dead");
    expect(r.anomalyHref).toBe("#/anomalies/tx%2F1");
    expect(r.errorShort).toHaveLength(20);
    expect(r.errorShort.endsWith("…")).toBe(true);
    expect(r.error).toBe(base.last_error);
    expect(r.retryable).toBe(true);
    expect(r.count).toBe("3");
    expect(r.attempts).toBe(8);
  });
  it("shows counts after the send, no link without an anomaly, retry only when dead", () => {
    const r = alertRow({ ...base, status: "delivered", count: 5, count_sent: 2, anomaly_id: undefined, last_anomaly_id: undefined, last_error: null });
    expect(r.count).toBe("5 (2 sent)");
    expect(r.anomalyHref).toBeUndefined();
    expect(r.errorShort).toBe("");
    expect(r.retryable).toBe(false);
    expect(alertRow({ id: "1-1", channel: "c", status: "pending" }).attempts).toBe(0);
  });
});

describe("truncate", () => {
  it("keeps short strings and cuts long ones with an ellipsis", () => {
    expect(truncate("abc", 5)).toBe("abc");
    expect(truncate("abcdefgh", 5)).toBe("abcd…");
    expect(truncate(null)).toBe("");
  });
});

describe("channel tiles", () => {
  const res = {
    nodes: [
      {
        node: 1,
        channels: [
          { name: "hook", type: "webhook", healthy: false, last_error: "HTTP 500", pending: 2, throttled: 0, delivered: 4, dead: 1 },
          { name: "mail", type: "smtp", healthy: true, pending: 0, throttled: 3, delivered: 9, dead: 0 },
          { name: "slack", type: "slack", healthy: true, delivered: 1 },
        ],
      },
    ],
  };
  it("tones unhealthy channels bad, queued/dead ones warn", () => {
    const t = channelTiles(res);
    expect(t.map((x) => [x.name, x.tone, x.state])).toEqual([
      ["hook", "bad", "failing"],
      ["mail", "warn", "healthy"],
      ["slack", "ok", "healthy"],
    ]);
    expect(t[0].sub).toBe("4 delivered · 2 queued · 1 dead");
    expect(t[0].lastError).toBe("HTTP 500");
  });
  it("names the node when there are several, and lists channel names once", () => {
    const two = { nodes: [...res.nodes, { node: 2, channels: [{ name: "hook", healthy: true }] }] };
    expect(channelTiles(two).map((x) => x.name)).toContain("hook · node 2");
    expect(channelNames(two)).toEqual(["hook", "mail", "slack"]);
    expect(channelTiles(undefined)).toEqual([]);
  });
});

describe("isAlertingOff", () => {
  it("is the gateway's 404", () => {
    expect(isAlertingOff(new ApiError(404, "NOT_FOUND", "alerting is not configured"))).toBe(true);
    expect(isAlertingOff(new ApiError(503, "UNAVAILABLE", "x"))).toBe(false);
    expect(isAlertingOff(new Error("x"))).toBe(false);
  });
});
