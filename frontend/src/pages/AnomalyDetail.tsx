// One anomaly: the transaction, every reason with value and threshold
// (and the measured precision of its rule/detector/model), the feature
// snapshot next to the user's usual values, feedback, and the user's
// recent anomalies.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { LabelEditor } from "../components/LabelEditor";
import {
  Card,
  DecisionBadge,
  Empty,
  ErrorState,
  Icon,
  LabelBadge,
  Loading,
  Meter,
  Pill,
  SeverityBadge,
  Time,
} from "../components/ui";
import { useApp } from "../context";
import { fmtMoney, fmtNum, fmtPct, fmtRelative, fmtScore, humanize, isNum } from "../format";
import { navigate, useNow, useResource, useTitle } from "../hooks";
import {
  describeReason,
  featureComparisons,
  precisionFor,
  precisionIndex,
  parseRuleSource,
  precisionView,
  sortedReasons,
  type PrecisionIndex,
  type RuleSourceInfo,
} from "../models";
import { anomalyHref, formatHash } from "../query";
import { LIST_HASH_KEY } from "../routes";
import type { AnomalyDetail as Detail, AnomalyLabel, AnomalyPage, PrecisionResponse, Reason, Transaction } from "../types";

export function AnomalyDetail({ id }: { id: string }) {
  const { api } = useApp();
  const now = useNow(15_000);
  useTitle(`Anomaly ${id}`);
  const res = useResource((signal) => api.get<Detail>(`/v1/anomalies/${encodeURIComponent(id)}`, undefined, signal), [id]);
  const prec = useResource((signal) => api.get<PrecisionResponse>("/v1/stats/precision", undefined, signal), []);
  const idx = useMemo(() => precisionIndex(prec.data), [prec.data]);
  const [label, setLabel] = useState<AnomalyLabel | null | undefined>(undefined);
  useEffect(() => setLabel(undefined), [id]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, textarea, select, [role=dialog]")) return;
      if (e.key === "Escape" || e.key === "Backspace") {
        e.preventDefault();
        back();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const a = res.data;
  const currentLabel = label === undefined ? a?.label : label;

  return (
    <div class="page page-detail">
      <header class="page-head">
        <div>
          <button class="btn btn-ghost btn-sm back" onClick={back} title="Back to the list (Esc)">
            <Icon name="arrow-left" size={15} /> Anomalies
          </button>
          <h1 class="detail-title">
            Anomaly <span class="mono">{id}</span>
          </h1>
        </div>
        {a && (
          <div class="row gap-sm">
            <SeverityBadge value={a.severity} />
            <DecisionBadge value={a.decision} />
            {currentLabel?.label && <LabelBadge value={currentLabel.label} />}
          </div>
        )}
      </header>

      {res.loading && !a && <Loading text="Loading the anomaly…" />}
      {res.error ? (
        <ErrorState error={res.error} onRetry={() => res.reload()} />
      ) : null}
      {a && (
        <>
          <div class="summary-strip card">
            <SummaryItem label="Amount" value={fmtMoney(a.amount ?? a.transaction?.amount, a.currency ?? a.transaction?.currency)} />
            <SummaryItem
              label="User"
              value={
                <a class="mono" href={formatHash(["anomalies"], { user_id: a.user_id })} title="All anomalies of this user">
                  {a.user_id}
                </a>
              }
            />
            <SummaryItem label="Event time" value={<Time value={a.timestamp} />} sub={fmtRelative(a.timestamp, now)} />
            <SummaryItem label="Detected" value={<Time value={a.detected_at} />} sub={fmtRelative(a.detected_at, now)} />
            <SummaryItem
              label="Score"
              value={
                <span class="score score-lg">
                  <Meter value={a.score} tone={a.score >= 0.9 ? "bad" : a.score >= 0.7 ? "warn" : undefined} />
                  {fmtScore(a.score)}
                </span>
              }
            />
          </div>

          <div class="detail-grid">
            <div class="col-main">
              <Card
                title="Why it was flagged"
                subtitle="Every reason, biggest contribution to the score first; precision is measured from analyst labels."
              >
                <Reasons a={a} idx={idx} precisionError={prec.error} />
              </Card>
              <Card title="This transaction vs the user's usual" subtitle="From the feature snapshot taken when it was scored.">
                <Features features={a.features} />
              </Card>
              <Card
                title="The user's recent anomalies"
                subtitle="The API keeps no per-user transaction history: these are this user's latest anomalies."
              >
                <UserRecent userId={a.user_id} currentId={a.id} now={now} />
              </Card>
            </div>
            <div class="col-side">
              <Card title="Feedback" subtitle="Confirm or dismiss: labels feed the precision figures and training." id="feedback">
                {currentLabel?.label ? (
                  <div class="label-current" data-testid="current-label">
                    <LabelBadge value={currentLabel.label} /> by <b>{currentLabel.by ?? "?"}</b>{" "}
                    {currentLabel.at !== undefined && <Time value={currentLabel.at} now={now} relative />}
                    {currentLabel.note && <blockquote class="note">{currentLabel.note}</blockquote>}
                  </div>
                ) : (
                  <p class="muted small">Not labelled yet.</p>
                )}
                <LabelEditor key={a.id} anomalyId={a.id} current={currentLabel} onSaved={(l) => setLabel(l)} />
              </Card>
              <Card title="Transaction">
                <TxFields tx={a.transaction} />
              </Card>
            </div>
          </div>
        </>
      )}
    </div>
  );
}

/** Back to the list as it was (the shell remembers its last hash). */
function back() {
  navigate(sessionStorage.getItem(LIST_HASH_KEY) || formatHash(["anomalies"]));
}

function SummaryItem({ label, value, sub }: { label: string; value: ComponentChildren; sub?: string }) {
  return (
    <div class="summary-item">
      <div class="summary-label">{label}</div>
      <div class="summary-value">{value}</div>
      {sub && <div class="summary-sub">{sub}</div>}
    </div>
  );
}

/* Rule set sources by version (immutable once pushed). */
const ruleSources = new Map<number, Promise<Map<string, RuleSourceInfo>>>();

function useRuleConditions(reasons: Reason[] | undefined): Map<string, RuleSourceInfo> {
  const { api } = useApp();
  const [conds, setConds] = useState<Map<string, RuleSourceInfo>>(new Map());
  const versions = [...new Set((reasons ?? []).filter((r) => r.detector === "rule" && isNum(r.value)).map((r) => r.value as number))];
  const key = versions.join(",");
  useEffect(() => {
    if (!versions.length) return;
    let dead = false;
    Promise.all(
      versions.map((v) => {
        let p = ruleSources.get(v);
        if (!p) {
          p = api.get<{ source?: string }>(`/v1/rules/versions/${v}`).then((r) => parseRuleSource(r.source ?? ""));
          p.catch(() => ruleSources.delete(v));
          ruleSources.set(v, p);
        }
        return p.catch(() => new Map<string, RuleSourceInfo>());
      }),
    ).then((maps) => {
      if (dead) return;
      const all = new Map<string, RuleSourceInfo>();
      for (const m of maps) for (const [k, v] of m) all.set(k, v);
      setConds(all);
    });
    return () => {
      dead = true;
    };
  }, [key]);
  return conds;
}

function Reasons({ a, idx, precisionError }: { a: Detail; idx: PrecisionIndex; precisionError: unknown }) {
  const reasons = sortedReasons(a.reasons);
  const conds = useRuleConditions(a.reasons);
  if (!reasons.length) return <Empty title="No reasons recorded" icon="inbox" />;
  return (
    <div class="table-scroll">
      <table class="grid grid-compact" data-testid="reasons">
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col" class="num">
              Value
            </th>
            <th scope="col" class="num">
              Usual
            </th>
            <th scope="col" class="num">
              Threshold
            </th>
            <th scope="col">Contribution</th>
            <th scope="col">Precision</th>
          </tr>
        </thead>
        <tbody>
          {reasons.map((r, i) => {
            const rv = describeReason(r);
            const pv = precisionView(precisionFor(idx, rv));
            const over = isNum(rv.ratio) && rv.ratio >= 1;
            return (
              <tr key={i}>
                <td>
                  <div class="reason-title">
                    <Pill tone={rv.kind}>{rv.kind}</Pill> {rv.title}
                  </div>
                  <div class="muted small">{rv.explain}</div>
                  {rv.ruleId && conds.get(rv.ruleId)?.when && (
                    <div class="cond" title={conds.get(rv.ruleId)?.name}>
                      when <code>{conds.get(rv.ruleId)!.when}</code>
                    </div>
                  )}
                </td>
                <td class={`num${over ? " over" : ""}`}>{rv.kind === "rule" ? <span class="matched">matched</span> : fmtNum(rv.value)}</td>
                <td class="num">{fmtNum(rv.baseline)}</td>
                <td class="num">{fmtNum(rv.threshold)}</td>
                <td>
                  <span class="contrib">
                    <Meter value={rv.contribution} />
                    {fmtPct(rv.contribution, 0)}
                  </span>
                </td>
                <td>
                  {precisionError ? (
                    <span class="muted small">—</span>
                  ) : (
                    <span class={`prec prec-${pv.tone}`} title={pv.detail}>
                      {pv.text}
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Features({ features }: { features?: Record<string, number | null> }) {
  const [all, setAll] = useState(false);
  const rows = featureComparisons(features);
  if (!features || !Object.keys(features).length) return <Empty title="No feature snapshot stored" icon="inbox" />;
  const names = Object.keys(features).sort();
  return (
    <>
      <table class="grid grid-compact" data-testid="features">
        <thead>
          <tr>
            <th scope="col">Feature</th>
            <th scope="col">This transaction</th>
            <th scope="col">User's usual</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label} class={r.unusual ? "unusual" : ""}>
              <td>
                {r.label}
                {r.unusual && (
                  <span class="flag" title="Outside the user's usual range">
                    unusual
                  </span>
                )}
              </td>
              <td class="strong">{r.current}</td>
              <td class="muted">
                {r.usual}
                {r.hint && <span class="small"> · {r.hint}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button class="btn btn-ghost btn-sm" onClick={() => setAll(!all)} aria-expanded={all}>
        {all ? "Hide" : "Show"} all {names.length} features
      </button>
      {all && (
        <dl class="kv kv-cols">
          {names.map((k) => (
            <div key={k}>
              <dt title={k}>{humanize(k)}</dt>
              <dd class="mono">{features[k] === null ? "—" : fmtNum(features[k])}</dd>
            </div>
          ))}
        </dl>
      )}
    </>
  );
}

function TxFields({ tx }: { tx?: Transaction }) {
  if (!tx) return <Empty title="The transaction is not stored" icon="inbox" />;
  const fields: [string, ComponentChildren][] = [
    ["Transaction id", <span class="mono">{tx.id}</span>],
    ["User", <span class="mono">{tx.user_id}</span>],
    ["Amount", fmtMoney(tx.amount, tx.currency)],
    ["Time", <Time value={tx.timestamp} />],
    ["Merchant", tx.merchant_id],
    ["Category", tx.merchant_category],
    ["Country", tx.country],
    ["Channel", tx.channel],
    ["Device", tx.device_id],
    ["IP", tx.ip],
    ["Location", isNum(tx.lat) && isNum(tx.lon) ? `${tx.lat.toFixed(4)}, ${tx.lon.toFixed(4)}` : null],
  ];
  const attrs = Object.entries(tx.attributes ?? {});
  return (
    <dl class="kv" data-testid="tx-fields">
      {fields.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === null || v === undefined || v === "" ? <span class="muted">—</span> : v}</dd>
        </div>
      ))}
      {attrs.map(([k, v]) => (
        <div key={`attr-${k}`}>
          <dt class="mono small">attributes.{k}</dt>
          <dd class="mono">{String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function UserRecent({ userId, currentId, now }: { userId: string; currentId: string; now: number }) {
  const { api } = useApp();
  const res = useResource(
    (signal) => api.get<AnomalyPage>("/v1/anomalies", { user_id: userId, limit: 20 }, signal),
    [userId],
  );
  if (res.loading) return <Loading text="Loading the user's anomalies…" />;
  if (res.error) return <ErrorState error={res.error} onRetry={() => res.reload()} compact />;
  const list = res.data?.anomalies ?? [];
  if (!list.length) return <Empty title="No other anomalies for this user" />;
  return (
    <table class="grid grid-compact" data-testid="user-recent">
      <thead>
        <tr>
          <th scope="col">Event time</th>
          <th scope="col">Severity</th>
          <th scope="col">Decision</th>
          <th scope="col" class="num">
            Amount
          </th>
          <th scope="col" class="num">
            Score
          </th>
          <th scope="col">Label</th>
        </tr>
      </thead>
      <tbody>
        {list.map((x) => (
          <tr key={x.id} class={x.id === currentId ? "is-current" : ""}>
            <td class="nowrap">
              {x.id === currentId ? (
                <Time value={x.timestamp} now={now} short />
              ) : (
                <a href={anomalyHref(x.id)}>
                  <Time value={x.timestamp} now={now} short />
                </a>
              )}
              {x.id === currentId && <span class="muted small"> (this one)</span>}
            </td>
            <td>
              <SeverityBadge value={x.severity} />
            </td>
            <td>
              <DecisionBadge value={x.decision} />
            </td>
            <td class="num">{fmtMoney(x.amount, x.currency)}</td>
            <td class="num">{fmtScore(x.score)}</td>
            <td>{x.label?.label ? <LabelBadge value={x.label.label} /> : <span class="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
