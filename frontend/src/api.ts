// The REST client: one request() that adds the bearer token, turns every
// failure into an ApiError (the gateway's {"error":{code,message,field}}
// or a network/parse failure), sends 401 back to the login screen and
// retries a rate-limited GET once after its Retry-After.

import { buildQuery, type QueryParams } from "./query";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  /** seconds, from Retry-After on a 429 */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
  get forbidden(): boolean {
    return this.status === 403;
  }
  get notFound(): boolean {
    return this.status === 404;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "The request was not accepted",
  401: "Your session has ended; please log in again",
  403: "Your role is not allowed to do this",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  422: "Not acceptable",
  429: "Too many requests",
  500: "The gateway failed",
  502: "Bad gateway",
  503: "The cluster or its storage is not reachable right now",
  504: "The gateway timed out",
};

/** Parses Retry-After (seconds or an HTTP date) into seconds, or undefined. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

/** The ApiError for a non-2xx answer, from its status, body text and Retry-After. */
export function errorFromResponse(status: number, body: string, retryAfterHeader: string | null): ApiError {
  let code = status === 429 ? "RATE_LIMITED" : `HTTP_${status}`;
  let message = STATUS_TEXT[status] ?? `HTTP ${status}`;
  let field: string | undefined;
  try {
    const j = JSON.parse(body) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    if (j && typeof j === "object" && j.error && typeof j.error === "object") {
      if (typeof j.error.code === "string" && j.error.code) code = j.error.code;
      if (typeof j.error.message === "string" && j.error.message) message = j.error.message;
      if (typeof j.error.field === "string" && j.error.field) field = j.error.field;
    }
  } catch {
    /* not JSON: keep the status text */
  }
  const retryAfter = status === 429 ? parseRetryAfter(retryAfterHeader) : undefined;
  if (status === 429 && retryAfter !== undefined && !/retry/i.test(message))
    message = `${message}; retry in ${retryAfter} s`;
  return new ApiError(status, code, message, field, retryAfter);
}

/** A short, human sentence for any error thrown by the client or elsewhere. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return "Not allowed: your role cannot see or do this.";
    return e.field && !e.message.includes(e.field) ? `${e.message} (${e.field})` : e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export interface RequestOptions {
  query?: QueryParams;
  /** JSON body */
  body?: unknown;
  /** raw text body (Content-Type text/plain) */
  text?: string;
  signal?: AbortSignal;
  /** skip the Authorization header (login) */
  anonymous?: boolean;
  /** expect text, not JSON */
  asText?: boolean;
}

export interface ClientOptions {
  base?: string;
  fetch?: typeof fetch;
  getToken: () => string | null;
  onUnauthorized?: (e: ApiError) => void;
  /** waits before a retry (tests replace it) */
  sleep?: (ms: number) => Promise<void>;
  /** longest Retry-After honoured automatically, seconds */
  maxAutoRetry?: number;
}

export class ApiClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.base = opts.base ?? "";
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = this.base + path + buildQuery(o.query ?? {});
    const headers: Record<string, string> = { Accept: o.asText ? "text/plain, */*" : "application/json" };
    let body: string | undefined;
    if (o.text !== undefined) {
      headers["Content-Type"] = "text/plain";
      body = o.text;
    } else if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(o.body);
    }
    if (!o.anonymous) {
      const tok = this.opts.getToken();
      if (tok) headers["Authorization"] = `Bearer ${tok}`;
    }
    const maxRetry = this.opts.maxAutoRetry ?? 5;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchFn(url, { method, headers, body, signal: o.signal, cache: "no-store" });
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") throw e;
        if ((e as { name?: string })?.name === "AbortError") throw e;
        throw new ApiError(0, "NETWORK", "No answer from the gateway: check your connection, or whether the gateway runs.");
      }
      if (res.ok) {
        if (res.status === 204) return undefined as T;
        const text = await res.text();
        if (o.asText) return text as T;
        if (!text) return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ApiError(res.status, "PARSE", "The gateway sent an answer that is not JSON");
        }
      }
      const err = errorFromResponse(res.status, await res.text().catch(() => ""), res.headers.get("Retry-After"));
      const idempotent = method === "GET";
      if (
        err.status === 429 &&
        idempotent &&
        attempt === 0 &&
        err.retryAfter !== undefined &&
        err.retryAfter <= maxRetry
      ) {
        await (this.opts.sleep ?? defaultSleep)(Math.max(250, err.retryAfter * 1000));
        continue;
      }
      if (err.status === 401 && !o.anonymous) this.opts.onUnauthorized?.(err);
      throw err;
    }
  }

  get<T>(path: string, query?: QueryParams, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }
  post<T>(path: string, body?: unknown, query?: QueryParams): Promise<T> {
    return this.request<T>("POST", path, { body, query });
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
