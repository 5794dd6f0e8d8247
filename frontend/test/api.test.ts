import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, describeError, errorFromResponse, parseRetryAfter } from "../src/api";

function res(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : body, { status, headers });
}

describe("errorFromResponse", () => {
  it("reads the gateway's error object", () => {
    const e = errorFromResponse(400, '{"error":{"code":"INVALID","message":"severity: must be one of low, medium","field":"severity"}}', null);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe("INVALID");
    expect(e.field).toBe("severity");
    expect(e.message).toMatch(/must be one of/);
  });
  it("falls back to the status text for a body that is not JSON", () => {
    const e = errorFromResponse(503, "<html>down</html>", null);
    expect(e.code).toBe("HTTP_503");
    expect(e.message).toMatch(/not reachable/);
  });
  it("adds Retry-After to a 429", () => {
    const e = errorFromResponse(429, '{"error":{"code":"RATE_LIMITED","message":"rate limited"}}', "3");
    expect(e.retryAfter).toBe(3);
    expect(e.message).toBe("rate limited; retry in 3 s");
  });
  it("flags 401 and 403", () => {
    expect(errorFromResponse(401, "", null).unauthorized).toBe(true);
    expect(errorFromResponse(403, "", null).forbidden).toBe(true);
  });
});

describe("parseRetryAfter", () => {
  it("takes seconds and HTTP dates", () => {
    expect(parseRetryAfter("7")).toBe(7);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("describeError", () => {
  it("says 'not allowed' for a 403 and names the field otherwise", () => {
    expect(describeError(new ApiError(403, "FORBIDDEN", "admin only"))).toMatch(/Not allowed/);
    expect(describeError(new ApiError(400, "INVALID", "bad value", "limit"))).toBe("bad value (limit)");
    expect(describeError(new Error("boom"))).toBe("boom");
  });
});

describe("ApiClient", () => {
  it("sends the bearer token and the query, and parses JSON", async () => {
    const f = vi.fn(async () => res(200, '{"anomalies":[],"next_cursor":null}'));
    const c = new ApiClient({ fetch: f as unknown as typeof fetch, getToken: () => "tok" });
    const r = await c.get<{ anomalies: unknown[] }>("/v1/anomalies", { severity: "high", limit: 50, cursor: "" });
    expect(r.anomalies).toEqual([]);
    const [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/v1/anomalies?severity=high&limit=50");
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("posts JSON bodies", async () => {
    const f = vi.fn(async () => res(200, '{"label":"fraud"}'));
    const c = new ApiClient({ fetch: f as unknown as typeof fetch, getToken: () => "t" });
    await c.post("/v1/anomalies/a%2Fb/label", { label: "fraud", note: "" });
    const init = (f.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(init.body).toBe('{"label":"fraud","note":""}');
  });

  it("sends no Authorization on anonymous requests", async () => {
    const f = vi.fn(async () => res(200, "{}"));
    const c = new ApiClient({ fetch: f as unknown as typeof fetch, getToken: () => "t" });
    await c.request("POST", "/v1/auth/token", { body: { username: "a", password: "b" }, anonymous: true });
    const init = (f.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it("calls onUnauthorized on a 401 and throws", async () => {
    const on = vi.fn();
    const c = new ApiClient({
      fetch: (async () => res(401, '{"error":{"code":"AUTH","message":"token expired"}}')) as unknown as typeof fetch,
      getToken: () => "t",
      onUnauthorized: on,
    });
    await expect(c.get("/v1/cluster")).rejects.toMatchObject({ status: 401, message: "token expired" });
    expect(on).toHaveBeenCalledOnce();
  });

  it("retries a rate-limited GET once after Retry-After", async () => {
    const answers = [res(429, '{"error":{"code":"RATE_LIMITED","message":"slow down"}}', { "Retry-After": "1" }), res(200, '{"ok":true}')];
    const f = vi.fn(async () => answers.shift()!);
    const sleep = vi.fn(async () => undefined);
    const c = new ApiClient({ fetch: f as unknown as typeof fetch, getToken: () => "t", sleep });
    await expect(c.get("/v1/rules")).resolves.toEqual({ ok: true });
    expect(f).toHaveBeenCalledTimes(2);
    expect(sleep).toHaveBeenCalledWith(1000);
  });

  it("does not retry a rate-limited POST", async () => {
    const f = vi.fn(async () => res(429, "{}", { "Retry-After": "1" }));
    const c = new ApiClient({ fetch: f as unknown as typeof fetch, getToken: () => "t", sleep: async () => undefined });
    await expect(c.post("/v1/rules/rollback")).rejects.toMatchObject({ status: 429, retryAfter: 1 });
    expect(f).toHaveBeenCalledTimes(1);
  });

  it("turns a network failure into an ApiError", async () => {
    const c = new ApiClient({
      fetch: (async () => {
        throw new TypeError("Failed to fetch");
      }) as unknown as typeof fetch,
      getToken: () => null,
    });
    await expect(c.get("/v1/cluster")).rejects.toMatchObject({ status: 0, code: "NETWORK" });
  });

  it("rejects a success that is not JSON, and accepts 204", async () => {
    const c1 = new ApiClient({ fetch: (async () => res(200, "<html>")) as unknown as typeof fetch, getToken: () => null });
    await expect(c1.get("/v1/cluster")).rejects.toMatchObject({ code: "PARSE" });
    const c2 = new ApiClient({ fetch: (async () => res(204, "")) as unknown as typeof fetch, getToken: () => null });
    await expect(c2.request("DELETE", "/v1/apikeys/x")).resolves.toBeUndefined();
  });
});
