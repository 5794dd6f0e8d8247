// Alert history: channel health tiles, then the alerts (newest first) with
// status and channel filters in the URL, keyset paging (a stack of cursors
// for "newer"), keyboard navigation and, for admins, retry of dead alerts.

import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError } from "../api";
import {
  alertFiltersFromParams,
  alertFiltersToParams,
  alertRow,
  alertsQuery,
  channelNames,
  channelTiles,
  isAlertingOff,
  type AlertFilters,
} from "../alerts";
import {
  ClearFilters,
  FilterSelect,
  Options,
  Pager,
  RefreshButton,
  TableCard,
  TableEmpty,
  useCursorStack,
  useKeyboardTable,
} from "../components/table";
import { Empty, ErrorState, SkeletonRows, Spinner, Stat, Time } from "../components/ui";
import { useApp } from "../context";
import { fmtInt } from "../format";
import { navigate, useNow, usePolling, useResource, useTitle } from "../hooks";
import { formatHash } from "../query";
import { ALERT_STATUSES, type AlertChannelsResponse, type AlertPage } from "../types";

const PAGE_SIZE = 50;

export function Alerts({ params }: { params: Record<string, string> }) {
  const { api, isAdmin, toast } = useApp();
  useTitle("Alerts");
  const now = useNow(15_000);
  const filters = useMemo(() => alertFiltersFromParams(params), [params]);
  const filterKey = JSON.stringify(alertFiltersToParams(filters));
  const nFilters = Object.keys(alertFiltersToParams(filters)).length;

  const channels = useResource((s) => api.get<AlertChannelsResponse>("/v1/alerts/channels", undefined, s), []);
  usePolling(() => channels.reload(true), 10_000, !isAlertingOff(channels.error));
  const tiles = useMemo(() => channelTiles(channels.data), [channels.data]);
  const names = useMemo(() => channelNames(channels.data), [channels.data]);

  const { cursors, index, setIndex, push, reset } = useCursorStack();
  const [page, setPage] = useState<AlertPage | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const seq = useRef(0);
  const rows = useMemo(() => (page?.alerts ?? []).map((a) => alertRow(a)), [page]);
  const { focus, setFocus, tbody, keyHandler, rowProps } = useKeyboardTable(rows.length);

  const load = useCallback(
    async (cursor: string | null, idx: number, quiet = false) => {
      const s = ++seq.current;
      setLoading(true);
      if (!quiet) setError(null);
      try {
        const p = await api.get<AlertPage>("/v1/alerts", alertsQuery(filters, { limit: PAGE_SIZE, cursor }));
        if (s !== seq.current) return;
        setPage({ alerts: p.alerts ?? [], next_cursor: p.next_cursor ?? null, nodes: p.nodes });
        setIndex(idx);
        setError(null);
        if (!quiet) setFocus(0);
      } catch (e) {
        if (s !== seq.current) return;
        if (!quiet) setPage(null);
        setError(e);
      } finally {
        if (s === seq.current) setLoading(false);
      }
    },
    [api, filterKey],
  );

  useEffect(() => {
    reset();
    setPage(null);
    load(null, 0);
  }, [filterKey]);
  // the first page follows new alerts; later pages stay put
  usePolling(() => index === 0 && !loading && !error && load(null, 0, true), 10_000, index === 0);

  const next = page?.next_cursor ?? null;
  const older = () => {
    if (!next || loading) return;
    push(next);
    load(next, index + 1);
  };
  const newer = () => {
    if (index === 0 || loading) return;
    load(cursors[index - 1], index - 1);
  };

  const setFilters = (f: AlertFilters) => navigate(formatHash(["alerts"], alertFiltersToParams(f)));

  const retry = async (id: string) => {
    setBusy(id);
    try {
      await api.post(`/v1/alerts/${encodeURIComponent(id)}/retry`);
      toast("ok", `Alert ${id} queued again`);
      load(cursors[index], index, true);
      channels.reload(true);
    } catch (e) {
      toast("error", describeError(e));
    } finally {
      setBusy(null);
    }
  };

  const onKey = keyHandler({
    skip: "input, textarea, select, button, a",
    older,
    newer,
    extra: (k) => {
      const r = rows[focus];
      if ((k === "Enter" || k === "o") && r?.anomalyHref) navigate(r.anomalyHref);
      else if (k === "r" && isAdmin && r?.retryable && !busy) retry(r.id);
      else return false;
      return true;
    },
  });

  const off = isAlertingOff(error) || isAlertingOff(channels.error);

  return (
    <div class="page page-alerts">
      <header class="page-head">
        <div>
          <h1>Alerts</h1>
          <p class="page-sub">Alerts sent (or queued) for anomalies by e-mail, Slack and webhooks, newest first.</p>
        </div>
        {!off && (
          <div class="row gap-sm">
            <RefreshButton onClick={() => (load(cursors[index], index), channels.reload(true))} disabled={loading} />
          </div>
        )}
      </header>

      {off ? (
        <div class="card" data-testid="alerts-off">
          <Empty title="Alerting is not configured on this node" icon="alert">
            <p>
              Start the node with <code>--alerts alerts.json</code>: the file lists the channels (SMTP, Slack, webhooks) and the
              routes that choose which anomalies go where. See <code>docs/ALERTS.md</code> for the reference and an example.
            </p>
          </Empty>
        </div>
      ) : (
        <>
          <section aria-label="Channels" class="stats-row" data-testid="alert-channels">
            {channels.loading && !channels.data && <Spinner label="Loading channels" />}
            {channels.error && !channels.data ? <ErrorState error={channels.error} compact /> : null}
            {tiles.map((t) => (
              <div key={t.key} data-testid="channel-tile" data-channel={t.name}>
                <Stat
                  label={`${t.name}${t.type ? ` (${t.type})` : ""}`}
                  value={t.state}
                  sub={t.sub}
                  tone={t.tone}
                  title={t.lastError ? `Last error: ${t.lastError}` : undefined}
                />
              </div>
            ))}
          </section>

          <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters" data-testid="alert-filters">
            <FilterSelect
              label="Status"
              name="status"
              value={filters.status}
              onChange={(v) => setFilters({ ...filters, status: v as AlertFilters["status"] })}
            >
              <option value="">Any</option>
              <Options values={ALERT_STATUSES} />
            </FilterSelect>
            <FilterSelect label="Channel" name="channel" value={filters.channel} onChange={(v) => setFilters({ ...filters, channel: v })}>
              <option value="">Any</option>
              <Options values={[...new Set([...names, ...(filters.channel ? [filters.channel] : [])])]} />
            </FilterSelect>
            <ClearFilters count={nFilters} onClear={() => setFilters({})} testid="clear-alert-filters" />
          </form>

          <TableCard
            error={error}
            onRetry={() => load(cursors[index], index)}
            foot={
              <Pager
                index={index}
                pageSize={PAGE_SIZE}
                count={rows.length}
                loading={loading}
                hasNext={!!next}
                onNewer={newer}
                onOlder={older}
                testid="alerts"
                note={page?.nodes && page.nodes > 1 ? ` · from ${page.nodes} nodes` : ""}
                keys={
                  <>
                    <kbd>Enter</kbd> open anomaly · <kbd>n</kbd>/<kbd>p</kbd> page
                    {isAdmin && (
                      <>
                        {" "}
                        · <kbd>r</kbd> retry
                      </>
                    )}
                  </>
                }
              />
            }
          >
            <table class="grid" aria-label="Alerts" data-testid="alerts-table">
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Status</th>
                  <th scope="col">Channel</th>
                  <th scope="col">User</th>
                  <th scope="col">Reason</th>
                  <th scope="col" class="num">Count</th>
                  <th scope="col" class="num">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Anomaly</th>
                  {isAdmin && <th scope="col" class="actions" aria-label="Actions" />}
                </tr>
              </thead>
              <tbody ref={tbody} onKeyDown={onKey} class={loading && page ? "is-reloading" : ""}>
                {!page && loading && <SkeletonRows rows={6} cols={isAdmin ? 10 : 9} />}
                {rows.map((r, i) => (
                  <tr key={r.id} {...rowProps(i, r.id, () => setFocus(i))}>
                    <td class="nowrap">
                      <Time value={r.created} now={now} short />
                    </td>
                    <td>
                      <span class={`badge ${r.statusClass}`} title={r.statusHint} data-testid="alert-status">
                        <span class="dot" aria-hidden="true" />
                        {r.status}
                      </span>
                    </td>
                    <td class="mono">{r.channel}</td>
                    <td class="mono ellipsis" title={r.user}>
                      {r.user || <span class="muted">—</span>}
                    </td>
                    <td class="mono ellipsis" title={r.reason}>
                      {r.reason || <span class="muted">—</span>}
                    </td>
                    <td class="num">{r.count}</td>
                    <td class="num">{fmtInt(r.attempts)}</td>
                    <td class="alert-error" title={r.error || undefined}>
                      {r.error ? r.errorShort : <span class="muted">—</span>}
                    </td>
                    <td>
                      {r.anomalyHref ? (
                        <a href={r.anomalyHref} tabIndex={-1} data-testid="alert-anomaly">
                          Open
                        </a>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    {isAdmin && (
                      <td class="actions">
                        {r.retryable && (
                          <button
                            class="btn btn-sm"
                            tabIndex={-1}
                            disabled={busy === r.id}
                            onClick={() => retry(r.id)}
                            data-testid="alert-retry"
                            title="Queue this dead alert again (r)"
                          >
                            Retry
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
            {page && rows.length === 0 && !loading && (
              <TableEmpty noun="alerts" filtered={nFilters} onClear={() => setFilters({})}>
                Alerts appear here when an anomaly matches a route of alerts.json.
              </TableEmpty>
            )}
          </TableCard>
        </>
      )}
    </div>
  );
}
