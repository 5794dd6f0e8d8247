// Cluster health: members, leader, shards per node, tx/s, p99 latency,
// errors and Kafka lag; refreshed every 5 s.

import { useEffect, useState } from "preact/hooks";
import { Card, Empty, ErrorState, Loading, Pill, Stat } from "../components/ui";
import { useApp } from "../context";
import { fmtDuration, fmtInt, fmtMs, fmtNum, fmtRelative } from "../format";
import { useNow, usePolling, useResource, useTitle } from "../hooks";
import { sampler } from "../sampler";
import type { ClusterStatus, KafkaStatus, Member } from "../types";
import { LiveRates } from "./Trends";

export function clusterKafka(c: ClusterStatus): KafkaStatus | undefined {
  if (c.kafka) return c.kafka;
  const withK = c.members?.filter((m) => m.kafka) ?? [];
  if (!withK.length) return undefined;
  return {
    lag: withK.reduce((n, m) => n + Math.max(0, m.kafka?.lag ?? 0), 0),
    partitions: withK.flatMap((m) => m.kafka?.partitions ?? []),
    consumed: withK.reduce((n, m) => n + (m.kafka?.consumed ?? 0), 0),
    dead_letters: withK.reduce((n, m) => n + (m.kafka?.dead_letters ?? 0), 0),
    paused: withK.some((m) => m.kafka?.paused),
  };
}

export function Cluster() {
  const { api } = useApp();
  useTitle("Cluster");
  const now = useNow(1000);
  const res = useResource((s) => api.get<ClusterStatus>("/v1/cluster", undefined, s), []);
  const [at, setAt] = useState(Date.now());
  useEffect(() => {
    if (res.data) setAt(Date.now());
  }, [res.data]);
  usePolling(() => res.reload(true), 5000);
  const [, setTick] = useState(0);
  useEffect(() => sampler.subscribe(() => setTick((n) => n + 1)), []);

  const c = res.data;
  const snap = sampler.latest();
  const kafka = c ? clusterKafka(c) : undefined;
  const members = c?.members ?? [];
  const alive = members.filter((m) => m.alive !== false).length;
  const totalShards = c?.shards ?? members.reduce((n, m) => n + (m.shards ?? 0), 0);
  const errors = (c?.gateway?.transactions_rejected ?? 0) + (snap?.http5xx ?? 0) + (snap?.routerFailed ?? 0) + (snap?.commitFailures ?? 0);

  return (
    <div class="page page-cluster">
      <header class="page-head">
        <div>
          <h1>Cluster</h1>
          <p class="page-sub">
            {c ? (
              <>
                Updated {fmtRelative(at, now)} · refreshes every 5 s
              </>
            ) : (
              "Nodes, leader and shards"
            )}
          </p>
        </div>
      </header>
      {res.loading && !c && <Loading text="Asking the cluster…" />}
      {res.error && !c ? <ErrorState error={res.error} onRetry={() => res.reload()} /> : null}
      {res.error && c ? <ErrorState error={res.error} compact /> : null}
      {c && (
        <>
          <div class="stats-row">
            <Stat
              label="Nodes alive"
              value={`${alive} / ${members.length}`}
              tone={alive < members.length ? "bad" : "ok"}
            />
            <Stat label="Leader" value={c.leader ? `node ${c.leader}` : "none"} sub={`term ${fmtInt(c.term)}`} tone={c.leader ? undefined : "bad"} />
            <Stat label="Shards" value={fmtInt(totalShards)} sub={`map epoch ${fmtInt(c.map_epoch)}`} />
            <Stat
              label="Transactions / s"
              value={sampler.points.length ? fmtNum(sampler.points[sampler.points.length - 1].txPerSec) : fmtNum(c.gateway?.tx_per_s)}
              sub={`avg ${fmtNum(c.gateway?.tx_per_s)} since start`}
              title="Current rate from /metrics; the average since the gateway started below"
            />
            <Stat label="Ingest p99" value={fmtMs(c.gateway?.ingest_p99_ms)} sub="ingest requests" />
            <Stat
              label="Errors"
              value={fmtInt(errors)}
              tone={errors > 0 ? "warn" : "ok"}
              sub={`${fmtInt(c.gateway?.transactions_rejected ?? 0)} rejected · ${fmtInt(snap?.http5xx ?? 0)} 5xx`}
              title={`Rejected transactions, HTTP 5xx answers, failed routings and failed commits since start${
                Object.keys(snap?.http5xxByRoute ?? {}).length
                  ? `\n5xx by route: ${Object.entries(snap!.http5xxByRoute!).map(([k, v]) => `${k} ×${v}`).join(", ")}`
                  : ""
              }`}
            />
            <Stat
              label="Kafka lag"
              value={kafka ? fmtInt(kafka.lag ?? 0) : "—"}
              sub={kafka ? (kafka.paused ? "paused" : `${fmtInt(kafka.partitions?.length ?? 0)} partitions`) : "bridge not running"}
              tone={kafka && (kafka.lag ?? 0) > 10000 ? "warn" : undefined}
            />
          </div>
          {c.warnings && c.warnings.length > 0 && (
            <div class="warnings" role="alert">
              {c.warnings.map((w, i) => (
                <div key={i} class="warning">
                  ⚠ {w}
                </div>
              ))}
            </div>
          )}
          <Card title="Members" subtitle={`Uptime of this gateway: ${fmtDuration(c.gateway?.uptime_s)}`} id="members">
            {members.length === 0 ? (
              <Empty title="No members reported" />
            ) : (
              <table class="grid" data-testid="members">
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    <th scope="col">State</th>
                    <th scope="col">Role</th>
                    <th scope="col">Data address</th>
                    <th scope="col">Raft address</th>
                    <th scope="col">Shards</th>
                  </tr>
                </thead>
                <tbody>
                  {members.map((m) => (
                    <MemberRow key={m.id} m={m} leader={c.leader} total={totalShards} />
                  ))}
                </tbody>
              </table>
            )}
          </Card>
          {kafka && (
            <Card title="Kafka bridge" subtitle={`group ${kafka.group ?? "?"} · topics ${(kafka.topics ?? []).join(", ") || "?"}`}>
              <div class="stats-row">
                <Stat label="Consumed" value={fmtInt(kafka.consumed)} />
                <Stat label="Scored" value={fmtInt(kafka.scored)} />
                <Stat label="Dead letters" value={fmtInt(kafka.dead_letters)} tone={kafka.dead_letters ? "warn" : undefined} />
                <Stat label="Lag" value={fmtInt(kafka.lag)} />
              </div>
              {kafka.partitions && kafka.partitions.length > 0 && (
                <table class="grid grid-compact">
                  <thead>
                    <tr>
                      <th scope="col">Topic</th>
                      <th scope="col" class="num">
                        Partition
                      </th>
                      <th scope="col" class="num">
                        Lag
                      </th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {kafka.partitions.map((p) => (
                      <tr key={`${p.topic}-${p.partition}`}>
                        <td class="mono">{p.topic}</td>
                        <td class="num">{p.partition}</td>
                        <td class="num">{fmtInt(p.lag)}</td>
                        <td>{p.paused ? <Pill tone="warn">paused</Pill> : <Pill tone="active">consuming</Pill>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
          )}
          <LiveRates compact />
        </>
      )}
    </div>
  );
}

function MemberRow({ m, leader, total }: { m: Member; leader?: number; total: number }) {
  const share = total ? (m.shards ?? 0) / total : 0;
  const tone = m.alive === false ? "bad" : m.state === "active" ? "active" : m.state === "down" ? "bad" : "warn";
  return (
    <tr class={m.alive === false ? "is-down" : ""}>
      <td class="strong">
        node {m.id}
        {m.id === leader && (
          <span class="leader-badge" title="Raft leader">
            leader
          </span>
        )}
      </td>
      <td>
        <Pill tone={tone}>{m.alive === false ? "unreachable" : m.state}</Pill>
      </td>
      <td>{m.voter ? "voter" : "standby"}</td>
      <td class="mono">{m.data_addr ?? "—"}</td>
      <td class="mono">{m.raft_addr ?? "—"}</td>
      <td>
        <span class="shard-bar" title={`${fmtInt(m.shards)} of ${fmtInt(total)} shards`}>
          <span class="shard-fill" style={{ width: `${(share * 100).toFixed(1)}%` }} />
        </span>
        <span class="num"> {fmtInt(m.shards)}</span>
      </td>
    </tr>
  );
}
