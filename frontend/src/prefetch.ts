// The first page of anomalies is requested before the first render when
// the app starts on the list with a session: the request then overlaps
// script start-up and the first paint instead of following them.

import type { ApiClient } from "./api";
import { buildQuery, type QueryParams } from "./query";
import type { AnomalyPage } from "./types";

export const DEFAULT_PAGE_SIZE = 50;

let pending: { key: string; promise: Promise<AnomalyPage> } | null = null;

export function prefetchAnomalies(client: ApiClient, query: QueryParams): void {
  const promise = client.get<AnomalyPage>("/v1/anomalies", query);
  promise.catch(() => undefined); // consumed (or retried) by the page
  pending = { key: buildQuery(query), promise };
}

/** The prefetched page for exactly this query, once; null otherwise. */
export function takePrefetch(query: QueryParams): Promise<AnomalyPage> | null {
  const p = pending;
  pending = null;
  return p && p.key === buildQuery(query) ? p.promise : null;
}
