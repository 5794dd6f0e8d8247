// Pure logic of the Alerts page: filters in the hash route, the query of
// GET /v1/alerts, status badges and the channel health tiles.

import { ApiError } from "./api";
import type { QueryParams } from "./query";
import { ALERT_STATUSES, type Alert, type AlertChannel, type AlertChannelsResponse, type AlertStatus } from "./types";

export interface AlertFilters {
  status?: AlertStatus | "";
  channel?: string;
}

/** Filters from a hash route's params; unknown statuses are dropped. */
export function alertFiltersFromParams(p: Record<string, string>): AlertFilters {
  const f: AlertFilters = {};
  if (p.status && (ALERT_STATUSES as readonly string[]).includes(p.status)) f.status = p.status as AlertStatus;
  if (p.channel?.trim()) f.channel = p.channel.trim();
  return f;
}

/** The hash route params of filters (only the set ones). */
export function alertFiltersToParams(f: AlertFilters): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.status) out.status = f.status;
  if (f.channel?.trim()) out.channel = f.channel.trim();
  return out;
}

/** The query of GET /v1/alerts for filters, a page size and a cursor. */
export function alertsQuery(f: AlertFilters, page: { limit?: number; cursor?: string | null } = {}): QueryParams {
  return {
    status: f.status || undefined,
    channel: f.channel?.trim() || undefined,
    limit: page.limit,
    cursor: page.cursor || undefined,
  };
}

/** CSS class of a status badge. */
export function alertStatusClass(s: string): string {
  return (ALERT_STATUSES as readonly string[]).includes(s) ? `ast-${s}` : "ast-unknown";
}

const STATUS_HINT: Record<AlertStatus, string> = {
  pending: "Queued: waiting for its first send or a retry",
  throttled: "Held by the channel's rate limit: goes out in a digest",
  delivered: "Accepted by the channel",
  dead: "Gave up after the last failure: an admin may retry it",
};

/** Tooltip of a status badge. */
export function alertStatusHint(s: string): string {
  return STATUS_HINT[s as AlertStatus] ?? `Status: ${s}`;
}

/** `s` cut to `max` characters with an ellipsis ("" for none). */
export function truncate(s: string | null | undefined, max = 60): string {
  if (!s) return "";
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

export interface AlertRow {
  id: string;
  created?: string | null;
  status: string;
  statusClass: string;
  statusHint: string;
  channel: string;
  user: string;
  reason: string;
  /** "3" or "3 (1 sent)" when anomalies came after the send */
  count: string;
  attempts: number;
  error: string;
  errorShort: string;
  /** the anomaly detail route, or undefined */
  anomalyHref?: string;
  retryable: boolean;
}

/** The table row of an alert. */
export function alertRow(a: Alert, errorMax = 48): AlertRow {
  const count = a.count ?? 1;
  const sent = a.count_sent ?? count;
  const anomaly = a.anomaly_id || a.last_anomaly_id;
  return {
    id: a.id,
    created: a.created,
    status: a.status,
    statusClass: alertStatusClass(a.status),
    statusHint: alertStatusHint(a.status),
    channel: a.channel,
    user: a.user_id ?? "",
    reason: a.reason ?? "",
    count: a.status === "delivered" && sent < count ? `${count} (${sent} sent)` : String(count),
    attempts: a.attempts ?? 0,
    error: a.last_error ?? "",
    errorShort: truncate(a.last_error, errorMax),
    anomalyHref: anomaly ? `#/anomalies/${encodeURIComponent(anomaly)}` : undefined,
    retryable: a.status === "dead",
  };
}

export interface ChannelTile {
  key: string;
  name: string;
  node: number;
  type: string;
  tone: "ok" | "warn" | "bad";
  state: string;
  sub: string;
  lastError: string;
}

/** One tile per (node, channel): unhealthy is bad, dead or queued alerts warn. */
export function channelTiles(r: AlertChannelsResponse | null | undefined): ChannelTile[] {
  const out: ChannelTile[] = [];
  const nodes = r?.nodes ?? [];
  const many = nodes.length > 1;
  for (const n of nodes) {
    for (const c of (Array.isArray(n.channels) ? n.channels : []) as AlertChannel[]) {
      const queued = (c.pending ?? 0) + (c.throttled ?? 0);
      const tone = c.healthy === false ? "bad" : (c.dead ?? 0) > 0 || (c.throttled ?? 0) > 0 ? "warn" : "ok";
      out.push({
        key: `${n.node}/${c.name}`,
        name: many ? `${c.name} · node ${n.node}` : c.name,
        node: n.node,
        type: c.type ?? "",
        tone,
        state: c.healthy === false ? "failing" : "healthy",
        sub: `${c.delivered ?? 0} delivered · ${queued} queued · ${c.dead ?? 0} dead`,
        lastError: c.last_error ?? "",
      });
    }
  }
  return out;
}

/** The channel names of the tiles, sorted, once each (the channel filter's choices). */
export function channelNames(r: AlertChannelsResponse | null | undefined): string[] {
  const s = new Set<string>();
  for (const n of r?.nodes ?? []) for (const c of Array.isArray(n.channels) ? n.channels : []) if (c?.name) s.add(c.name);
  return [...s].sort();
}

/** True for the gateway's "alerting is not configured" answer (404). */
export function isAlertingOff(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
