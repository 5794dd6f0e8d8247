// The anomalies table: filters in the URL, keyset paging (a stack of
// cursors for "newer"), sorting of the page, keyboard navigation, quick
// labelling, and live updates (new anomalies are prepended on the first
// page; on later pages a "N new" button appears instead).

import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, describeError } from "../api";
import { LabelEditor } from "../components/LabelEditor";
import {
  ClearFilters,
  FilterSelect,
  InputField,
  Options,
  Pager,
  RefreshButton,
  TableCard,
  TableEmpty,
  useCursorStack,
  useKeyboardTable,
} from "../components/table";
import {
  DecisionBadge,
  LabelBadge,
  Meter,
  Modal,
  SeverityBadge,
  SkeletonRows,
  Time,
} from "../components/ui";
import { useApp } from "../context";
import { fmtInt, fmtMoney, fmtScore } from "../format";
import { navigate, useNow, usePolling, useTitle } from "../hooks";
import { labelOf } from "../labels";
import { LABEL_CHOICES, findNew, reasonSummary, sortRows, type Sort, type SortKey } from "../models";
import {
  activeFilterCount,
  anomaliesQuery,
  anomalyHref,
  filtersFromParams,
  filtersToParams,
  formatHash,
  isoToLocalInput,
  localInputToIso,
  type AnomalyFilters,
} from "../query";
import { DEFAULT_PAGE_SIZE, takePrefetch } from "../prefetch";
import type { Anomaly, AnomalyLabel, AnomalyPage, LabelValue, RulesResponse } from "../types";
import { DECISIONS } from "../types";

const PAGE_SIZES = [25, DEFAULT_PAGE_SIZE, 100];
const LIVE_MS = 5000;
const MAX_PREPENDED = 200;
const KNOWN_DETECTORS = ["zscore", "log_zscore", "mad", "iqr", "travel", "new_device", "new_country", "iforest", "rule"];

interface ListState {
  key: string;
  cursors: (string | null)[];
  index: number;
  rows: Anomaly[];
  next: string | null;
  /** the newest item seen on page 1 (live updates compare with it) */
  newest?: Anomaly;
  focus: number;
  pageSize: number;
}

/* Kept across route changes so "back" from a detail returns to the same page and row. */
let cache: ListState | null = null;
let firstRowsMarked = false;

function markFirstRows(): void {
  if (firstRowsMarked) return;
  firstRowsMarked = true;
  // two frames: the mark lands after the rows were painted
  performance.mark("vigil:anomalies-rows-dom");
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      performance.mark("vigil:anomalies-first-rows");
      (window as unknown as { __vigilFirstRows?: number }).__vigilFirstRows = performance.now();
    }),
  );
}

export function Anomalies({ params }: { params: Record<string, string> }) {
  const { api, toast } = useApp();
  const now = useNow(15_000);
  const filters = useMemo(() => filtersFromParams(params), [params]);
  const filterKey = JSON.stringify(filtersToParams(filters));
  const n = activeFilterCount(filters);
  useTitle("Anomalies");

  const restored = cache && cache.key === filterKey ? cache : null;
  const [pageSize, setPageSize] = useState(restored?.pageSize ?? DEFAULT_PAGE_SIZE);
  const { cursors, index, setIndex, push, reset } = useCursorStack(restored ?? undefined);
  const [rows, setRows] = useState<Anomaly[] | null>(restored?.rows ?? null);
  const [next, setNext] = useState<string | null>(restored?.next ?? null);
  const [loading, setLoading] = useState(!restored);
  const [error, setError] = useState<unknown>(null);
  const [sort, setSort] = useState<Sort>({ key: "time", dir: "desc" });
  const [live, setLive] = useState(true);
  const [newIds, setNewIds] = useState<Set<string>>(new Set());
  const [pendingNew, setPendingNew] = useState(0);
  const [gap, setGap] = useState(false);
  const [labelFor, setLabelFor] = useState<{ id: string; initial?: LabelValue } | null>(null);
  const newest = useRef<Anomaly | undefined>(restored?.newest);
  const shown = useMemo(() => (rows ? (sort.key === "time" && sort.dir === "desc" ? rows : sortRows(rows, sort)) : []), [rows, sort]);
  const { focus, setFocus, tbody, focusRow, keyHandler, rowProps } = useKeyboardTable(shown.length, restored?.focus ?? 0);
  const reqSeq = useRef(0);
  const skipFirstLoad = useRef(!!restored);

  const load = useCallback(
    async (cursor: string | null, idx: number, size: number) => {
      const seq = ++reqSeq.current;
      setLoading(true);
      setError(null);
      try {
        if (!firstRowsMarked) performance.mark("vigil:anomalies-fetch");
        const q = anomaliesQuery(filters, { limit: size, cursor });
        const pre = cursor ? null : takePrefetch(q);
        const page = pre
          ? await pre.catch(() => api.get<AnomalyPage>("/v1/anomalies", q)) // a 401 then goes through the app's client
          : await api.get<AnomalyPage>("/v1/anomalies", q);
        if (!firstRowsMarked) performance.mark("vigil:anomalies-data");
        if (seq !== reqSeq.current) return;
        setRows(page.anomalies ?? []);
        setNext(page.next_cursor ?? null);
        setIndex(idx);
        setNewIds(new Set());
        if (idx === 0) {
          newest.current = page.anomalies?.[0];
          setPendingNew(0);
          setGap(false);
        }
        setFocus(0);
      } catch (e) {
        if (seq !== reqSeq.current) return;
        setError(e);
        if (e instanceof ApiError && e.status === 400 && e.field) toast("error", describeError(e));
      } finally {
        if (seq === reqSeq.current) setLoading(false);
      }
    },
    [api, filterKey],
  );

  // filters changed (or first visit): back to the first page. A layout
  // effect: the (prefetched) first page is taken before the first paint.
  useLayoutEffect(() => {
    if (skipFirstLoad.current) {
      skipFirstLoad.current = false;
      return;
    }
    reset();
    setRows(null);
    load(null, 0, pageSize);
  }, [filterKey, pageSize]);

  useEffect(() => {
    if (rows && rows.length) markFirstRows();
    cache = rows ? { key: filterKey, cursors, index, rows, next, newest: newest.current, focus, pageSize } : null;
  }, [rows, cursors, index, next, focus, pageSize, filterKey]);

  // back from a detail: the focus returns to the row it left from
  useEffect(() => {
    if (restored) requestAnimationFrame(() => focusRow(restored.focus));
  }, []);

  const older = () => {
    if (!next || loading) return;
    push(next);
    load(next, index + 1, pageSize);
  };
  const newer = () => {
    if (index === 0 || loading) return;
    load(cursors[index - 1], index - 1, pageSize);
  };
  const first = () => {
    reset();
    load(null, 0, pageSize);
  };

  // live updates
  const poll = useCallback(async () => {
    if (!live || loading || error || !rows) return;
    try {
      const page = await api.get<AnomalyPage>("/v1/anomalies", anomaliesQuery(filters, { limit: pageSize }));
      const top = newest.current;
      const m = findNew(index === 0 ? rows : [], page.anomalies ?? [], pageSize, top);
      if (!m.fresh.length) return;
      if (index === 0 && !m.gap && rows.length + m.fresh.length <= pageSize + MAX_PREPENDED && sort.key === "time" && sort.dir === "desc") {
        newest.current = m.fresh[0];
        setRows([...m.fresh, ...rows]);
        setFocus((f) => f + m.fresh.length);
        const ids = new Set(m.fresh.map((a) => a.id));
        setNewIds(ids);
        setTimeout(() => setNewIds((cur) => (cur === ids ? new Set() : cur)), 4000);
      } else {
        if (top) newest.current = m.fresh[0];
        setPendingNew((p) => p + m.fresh.length);
        if (m.gap) setGap(true);
      }
    } catch {
      /* a failed poll is retried at the next tick; the table stays */
    }
  }, [live, loading, error, rows, index, filterKey, pageSize, sort.key]);
  usePolling(poll, LIVE_MS, live);

  const setFilters = (f: AnomalyFilters) => navigate(formatHash(["anomalies"], filtersToParams(f)));
  const update = (patch: Partial<AnomalyFilters>) => setFilters({ ...filters, ...patch });


  const open = (a: Anomaly) => navigate(anomalyHref(a.id));

  const onKey = keyHandler({
    skip: "input, textarea, select",
    older,
    newer,
    extra: (k) => {
      const a = shown[focus];
      const c = LABEL_CHOICES.find((x) => x.key === k);
      if ((k === "Enter" || k === "o") && a) open(a);
      else if (c && a) setLabelFor({ id: a.id, initial: c.value });
      else return false;
      return true;
    },
  });

  /** the label dialog closed: back to the row it was opened from */
  const closeLabel = () => {
    setLabelFor(null);
    performance.mark("vigil:anomalies-rows-dom");
    requestAnimationFrame(() => focusRow(focus));
  };
  const onLabelled = (id: string, l: AnomalyLabel) => {
    setRows((rs) => (rs ? rs.map((a) => (a.id === id ? { ...a, label: l } : a)) : rs));
    closeLabel();
  };

  const toggleSort = (key: SortKey) =>
    setSort((s) => (s.key === key ? { key, dir: s.dir === "desc" ? "asc" : "desc" } : { key, dir: "desc" }));

  return (
    <div class="page page-anomalies">
      <header class="page-head">
        <div>
          <h1>Anomalies</h1>
          <p class="page-sub">
            Newest first.{" "}
            {live ? (
              <span class="live-dot" title={`Checking for new anomalies every ${LIVE_MS / 1000} s`}>
                Live
              </span>
            ) : (
              <span class="muted">Live updates paused</span>
            )}
          </p>
        </div>
        <div class="row gap-sm">
          {(pendingNew > 0 || gap) && (
            <button class="btn btn-accent btn-sm" onClick={first} data-testid="new-pill">
              {gap ? `${pageSize}+` : fmtInt(pendingNew)} new · show newest
            </button>
          )}
          <label class="switch" title="Prepend new anomalies as they arrive">
            <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />
            <span>Live</span>
          </label>
          <RefreshButton onClick={() => load(cursors[index], index, pageSize)} disabled={loading} />
        </div>
      </header>

      <Filters filters={filters} onChange={update} onClear={() => setFilters({})} count={n} />

      <TableCard
        error={error}
        onRetry={() => load(cursors[index], index, pageSize)}
        foot={
          <Pager
            index={index}
            pageSize={pageSize}
            count={rows?.length ?? 0}
            loading={loading}
            hasNext={!!next}
            onNewer={newer}
            onOlder={older}
            testid="page"
            keys={
              <>
                <kbd>Enter</kbd> open · <kbd>f</kbd>/<kbd>l</kbd>/<kbd>u</kbd> label · <kbd>n</kbd>/<kbd>p</kbd> page
              </>
            }
            controls={
              <label class="muted small">
                Rows{" "}
                <select
                  class="input input-sm"
                  value={pageSize}
                  onChange={(e) => setPageSize(Number((e.target as HTMLSelectElement).value))}
                >
                  <Options values={PAGE_SIZES} />
                </select>
              </label>
            }
          />
        }
      >
          <table class="grid" aria-label="Anomalies" aria-rowcount={rows ? rows.length : -1} data-testid="anomalies-table">
            <thead>
              <tr>
                <SortTh k="time" sort={sort} onSort={toggleSort} label="Event time" />
                <SortTh k="severity" sort={sort} onSort={toggleSort} label="Severity" />
                <th scope="col">Decision</th>
                <SortTh k="score" sort={sort} onSort={toggleSort} label="Score" num />
                <SortTh k="amount" sort={sort} onSort={toggleSort} label="Amount" num />
                <th scope="col">User</th>
                <th scope="col">Why</th>
                <th scope="col">Label</th>
              </tr>
            </thead>
            <tbody ref={tbody} onKeyDown={onKey} class={loading && rows ? "is-reloading" : ""}>
              {!rows && loading && <SkeletonRows rows={10} cols={8} />}
              {rows &&
                shown.map((a, i) => {
                  const why = reasonSummary(a.reasons);
                  const lab = labelOf(a);
                  return (
                    <tr key={a.id} {...rowProps(i, a.id, () => open(a), newIds.has(a.id) ? "is-new " : "")}>
                      <td class="nowrap">
                        <Time value={a.timestamp} now={now} short />
                      </td>
                      <td>
                        <SeverityBadge value={a.severity} />
                      </td>
                      <td>
                        <DecisionBadge value={a.decision} />
                      </td>
                      <td class="num">
                        <span class="score">
                          <Meter value={a.score} tone={a.score >= 0.9 ? "bad" : a.score >= 0.7 ? "warn" : undefined} />
                          {fmtScore(a.score)}
                        </span>
                      </td>
                      <td class="num nowrap">{fmtMoney(a.amount, a.currency)}</td>
                      <td class="mono ellipsis" title={a.user_id}>
                        <button
                          class="link-btn"
                          tabIndex={-1}
                          title={`Only ${a.user_id}'s anomalies`}
                          onClick={() => update({ user_id: a.user_id })}
                        >
                          {a.user_id}
                        </button>
                      </td>
                      <td class="why" title={(a.reasons ?? []).map((r) => `${r.detector}:${r.feature ?? ""}`).join(", ")}>
                        {why.keys.map((k) => (
                          <span key={k} class={`tag${k.startsWith("rule:") ? " tag-rule" : k === "iforest" ? " tag-model" : ""}`}>
                            {k.startsWith("rule:") ? k.slice(5) : k}
                          </span>
                        ))}
                        {why.more > 0 && <span class="muted small">+{why.more}</span>}
                      </td>
                      <td class="label-cell">
                        {lab?.label ? (
                          <button
                            class="link-btn"
                            tabIndex={-1}
                            onClick={() => setLabelFor({ id: a.id })}
                            title={`${lab.label} by ${lab.by ?? "?"}${lab.note ? `: ${lab.note}` : ""} (click to change)`}
                          >
                            <LabelBadge value={lab.label} />
                          </button>
                        ) : (
                          <span class="quick-label">
                            {LABEL_CHOICES.map((c) => (
                              <button
                                key={c.value}
                                class={`ql ql-${c.value}`}
                                tabIndex={-1}
                                title={`${c.hint} (${c.key})`}
                                aria-label={`Label ${c.value}`}
                                onClick={() => setLabelFor({ id: a.id, initial: c.value })}
                              >
                                {c.value === "fraud" ? "✓" : c.value === "legit" ? "✕" : "?"}
                              </button>
                            ))}
                          </span>
                        )}
                      </td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        {rows && rows.length === 0 && !loading && (
          <TableEmpty noun="anomalies" filtered={n} onClear={() => setFilters({})}>
            Anomalies appear here as soon as the cluster flags a transaction.
          </TableEmpty>
        )}
      </TableCard>
      {labelFor && rows && (() => {
        const a = rows.find((x) => x.id === labelFor.id);
        if (!a) return null;
        return (
          <Modal title="Label anomaly" onClose={closeLabel}>
            <div class="label-summary">
              <SeverityBadge value={a.severity} /> <DecisionBadge value={a.decision} />
              <span class="mono">{a.id}</span>
              <span>{fmtMoney(a.amount, a.currency)}</span>
              <span class="muted">user {a.user_id}</span>
            </div>
            <LabelEditor
              anomalyId={a.id}
              current={labelOf(a)}
              initial={labelFor.initial}
              onSaved={(l) => onLabelled(a.id, l)}
              onCancel={closeLabel}
            />
          </Modal>
        );
      })()}
      <p class="muted small foot-note">
        Pages are newest first (keyset paging through the whole store); clicking a column header sorts the rows of the page.
      </p>
    </div>
  );
}

function SortTh({
  k,
  label,
  sort,
  onSort,
  num,
}: {
  k: SortKey;
  label: string;
  sort: Sort;
  onSort: (k: SortKey) => void;
  num?: boolean;
}) {
  const on = sort.key === k;
  return (
    <th scope="col" class={num ? "num" : ""} aria-sort={on ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}>
      <button class={`th-btn${on ? " on" : ""}`} onClick={() => onSort(k)}>
        {label}
        <span class="sort-ind" aria-hidden="true">
          {on ? (sort.dir === "asc" ? "▲" : "▼") : "↕"}
        </span>
      </button>
    </th>
  );
}

function Filters({
  filters,
  onChange,
  onClear,
  count,
}: {
  filters: AnomalyFilters;
  onChange: (p: Partial<AnomalyFilters>) => void;
  onClear: () => void;
  count: number;
}) {
  const { api } = useApp();
  const [ruleIds, setRuleIds] = useState<string[]>([]);
  useEffect(() => {
    api.get<RulesResponse>("/v1/rules").then(
      (r) => setRuleIds((r.rules ?? []).map((x) => x.id)),
      () => undefined,
    );
  }, []);
  const text = (key: "user_id" | "detector" | "rule", label: string, placeholder: string, list?: string) => (
    <InputField
      inline
      label={label}
      name={key}
      list={list}
      placeholder={placeholder}
      value={filters[key] ?? ""}
      onChange={(e) => onChange({ [key]: (e.target as HTMLInputElement).value.trim() })}
      onKeyDown={(e) => {
        if (e.key === "Enter") onChange({ [key]: (e.target as HTMLInputElement).value.trim() });
      }}
    />
  );
  const date = (key: "from" | "to", label: string) => (
    <InputField
      inline
      label={label}
      type="datetime-local"
      name={key}
      value={isoToLocalInput(filters[key])}
      onChange={(e) => onChange({ [key]: localInputToIso((e.target as HTMLInputElement).value) })}
    />
  );
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters" data-testid="filters">
      <FilterSelect
        label="Time"
        name="range"
        value={filters.range}
        onChange={(r) => {
          const v = r as AnomalyFilters["range"];
          onChange(v === "custom" ? { range: v, from: new Date(Date.now() - 86_400_000).toISOString(), to: "" } : { range: v, from: "", to: "" });
        }}
      >
        <option value="">Any time</option>
        <option value="15m">Last 15 minutes</option>
        <option value="1h">Last hour</option>
        <option value="6h">Last 6 hours</option>
        <option value="24h">Last 24 hours</option>
        <option value="7d">Last 7 days</option>
        <option value="30d">Last 30 days</option>
        <option value="custom">Custom…</option>
      </FilterSelect>
      {filters.range === "custom" && (
        <>
          {date("from", "From")}
          {date("to", "To")}
        </>
      )}
      <FilterSelect
        label="Severity"
        name="severity"
        value={filters.severity}
        onChange={(v) => onChange({ severity: v as AnomalyFilters["severity"] })}
      >
        <option value="">Any</option>
        <option value="low">Low and up</option>
        <option value="medium">Medium and up</option>
        <option value="high">High and up</option>
        <option value="critical">Critical</option>
      </FilterSelect>
      <FilterSelect
        label="Decision"
        name="decision"
        value={filters.decision}
        onChange={(v) => onChange({ decision: v as AnomalyFilters["decision"] })}
      >
        <option value="">Any</option>
        <Options values={DECISIONS} />
      </FilterSelect>
      {text("detector", "Detector", "e.g. mad", "dl-detectors")}
      {text("rule", "Rule", "rule id", "dl-rules")}
      {text("user_id", "User", "user id")}
      <DataList id="dl-detectors" values={KNOWN_DETECTORS} />
      <DataList id="dl-rules" values={ruleIds} />
      <ClearFilters count={count} onClear={onClear} testid="clear-filters" />
    </form>
  );
}

function DataList({ id, values }: { id: string; values: string[] }) {
  return (
    <datalist id={id}>
      {values.map((d) => (
        <option value={d} key={d} />
      ))}
    </datalist>
  );
}
