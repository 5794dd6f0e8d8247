// Rules and models: versions (active, shadow), hit counts, measured
// precision per rule, detector and model from analyst labels; admins can
// activate and roll back (the controls are not rendered for analysts; the
// gateway refuses them anyway).

import { useState } from "preact/hooks";
import { describeError } from "../api";
import { Card, Empty, ErrorState, Loading, Modal, Pill, SeverityBadge, Stat } from "../components/ui";
import { useApp } from "../context";
import { fmtBytes, fmtInt, fmtPct } from "../format";
import { useResource, useTitle } from "../hooks";
import { detectorName, precisionIndex, precisionView, type PrecisionIndex } from "../models";
import type {
  ModelVersionsResponse,
  ModelsResponse,
  PrecisionResponse,
  PrecisionRow,
  RuleVersionsResponse,
  RulesResponse,
} from "../types";

interface Confirm {
  title: string;
  body: string;
  action: string;
  run: () => Promise<unknown>;
}

export function RulesModels() {
  const { api, isAdmin, toast } = useApp();
  useTitle("Rules & models");
  const rules = useResource((s) => api.get<RulesResponse>("/v1/rules", undefined, s), []);
  const ruleVersions = useResource((s) => api.get<RuleVersionsResponse>("/v1/rules/versions", undefined, s), []);
  const models = useResource((s) => api.get<ModelsResponse>("/v1/models", undefined, s), []);
  const modelVersions = useResource((s) => api.get<ModelVersionsResponse>("/v1/models/versions", undefined, s), []);
  const prec = useResource((s) => api.get<PrecisionResponse>("/v1/stats/precision", undefined, s), []);
  const idx = precisionIndex(prec.data);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [busy, setBusy] = useState(false);
  const [source, setSource] = useState<{ version: number; text?: string; error?: unknown } | null>(null);

  const reloadAll = () => {
    rules.reload(true);
    ruleVersions.reload(true);
    models.reload(true);
    modelVersions.reload(true);
    prec.reload(true);
  };

  const runConfirm = async () => {
    if (!confirm) return;
    setBusy(true);
    try {
      await confirm.run();
      toast("ok", `${confirm.title}: done`);
      setConfirm(null);
      setTimeout(reloadAll, 300);
    } catch (e) {
      toast("error", describeError(e));
    } finally {
      setBusy(false);
    }
  };

  /** a button that asks to confirm `c` before running it */
  const confirmButton = (label: string, c: Confirm, testid?: string, ghost = false) => (
    <button class={ghost ? "btn btn-ghost btn-sm" : "btn btn-sm"} data-testid={testid} onClick={() => setConfirm(c)}>
      {label}
    </button>
  );

  const showSource = async (version: number) => {
    setSource({ version });
    try {
      const r = await api.get<{ source?: string; content?: string; text?: string }>(`/v1/rules/versions/${version}`);
      setSource({ version, text: r.source ?? r.content ?? r.text ?? JSON.stringify(r, null, 2) });
    } catch (e) {
      setSource({ version, error: e });
    }
  };

  const rv = ruleVersions.data?.names?.find((n) => n.name === "rules");
  const activeRules = rv?.active ?? rules.data?.versions?.[0] ?? 0;
  const mv = modelVersions.data;

  return (
    <div class="page page-rules">
      <header class="page-head">
        <div>
          <h1>Rules &amp; models</h1>
          <p class="page-sub">
            {isAdmin ? "You can activate and roll back versions." : "Read-only: admins activate and roll back versions."}
          </p>
        </div>
      </header>

      <div class="stats-row">
        <Stat
          label="Rule set"
          value={activeRules ? `v${activeRules}` : "none"}
          sub={rv ? `${rv.versions.length} version(s) kept` : undefined}
        />
        <Stat
          label="Rules"
          value={fmtInt(rules.data?.rules.filter((r) => r.mode !== "shadow").length)}
          sub={`${fmtInt(rules.data?.rules.filter((r) => r.mode === "shadow").length)} in shadow`}
        />
        <Stat
          label="Model"
          value={mv?.active ? `v${mv.active}` : "none"}
          sub={mv?.shadow ? `v${mv.shadow} in shadow` : "no shadow"}
        />
        <Stat
          label="Overall precision"
          value={precisionView(idx.overall).text}
          sub={idx.overall?.labelled ? `${fmtInt(idx.overall.labelled)} labelled anomalies` : "no labels yet"}
          tone={idx.overall?.precision != null && idx.overall.precision < 0.5 ? "warn" : undefined}
        />
      </div>

      <Card
        title="Rules"
        subtitle={
          rules.data?.versions?.length
            ? `Rule set ${rules.data.versions.map((v) => `v${v}`).join(", ")} in force on ${fmtInt(rules.data.nodes ?? 1)} node(s); hits summed over nodes.`
            : undefined
        }
        id="rules"
      >
        {rules.loading && !rules.data && <Loading />}
        {rules.error ? <ErrorState error={rules.error} onRetry={() => rules.reload()} compact /> : null}
        {rules.data &&
          (rules.data.rules.length === 0 ? (
            <Empty title="No rules in force" icon="rules">
              Push a rule set with <code>vigilctl rules push FILE</code> or <code>POST /v1/rules</code>.
            </Empty>
          ) : (
            <div class="table-scroll">
              <table class="grid" data-testid="rules-table">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Mode</th>
                    <th scope="col">Severity</th>
                    <th scope="col">Action</th>
                    <th scope="col" class="num">
                      Hits
                    </th>
                    <th scope="col" class="num">
                      Errors
                    </th>
                    <th scope="col">Precision (labels)</th>
                  </tr>
                </thead>
                <tbody>
                  {rules.data.rules.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <a class="mono" href={`#/anomalies?rule=${encodeURIComponent(r.id)}`} title="Anomalies of this rule">
                          {r.id}
                        </a>
                        {r.name && r.name !== r.id && <div class="muted small">{r.name}</div>}
                      </td>
                      <td>
                        <Pill tone={r.mode === "shadow" ? "shadow" : "active"}>{r.mode ?? "active"}</Pill>
                      </td>
                      <td>{r.severity ? <SeverityBadge value={r.severity} /> : "—"}</td>
                      <td>{r.action ?? "—"}</td>
                      <td class="num">{fmtInt(r.hits)}</td>
                      <td class={`num${r.errors ? " bad" : ""}`}>{fmtInt(r.errors)}</td>
                      <td>
                        <PrecisionCell p={idx.rule.get(r.id)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </Card>

      <div class="grid-2">
        <Card
          title="Rule set versions"
          id="rule-versions"
          actions={
            isAdmin && rv && prevVersion(rv.versions, rv.active) ? (
              confirmButton(
                "Roll back",
                {
                  title: "Roll back the rule set",
                  body: `Every node switches from v${activeRules} back to v${prevVersion(rv.versions, rv.active)} (a new commit: you can activate v${activeRules} again).`,
                  action: "Roll back",
                  run: () => api.post("/v1/rules/rollback"),
                },
                "rules-rollback",
              )
            ) : null
          }
        >
          {ruleVersions.loading && !ruleVersions.data && <Loading />}
          {ruleVersions.error ? <ErrorState error={ruleVersions.error} compact /> : null}
          {ruleVersions.data &&
            (!rv || rv.versions.length === 0 ? (
              <Empty title="No rule set pushed yet" icon="rules" />
            ) : (
              <table class="grid grid-compact" data-testid="rule-versions">
                <VersionHead />
                <tbody>
                  {[...rv.versions].reverse().map((v) => (
                    <tr key={v.version} class={v.version === rv.active ? "is-current" : ""}>
                      <VersionCells v={v} />
                      <td>{v.version === rv.active ? <Pill tone="active">active</Pill> : <span class="muted">kept</span>}</td>
                      <td class="actions">
                        <button class="btn btn-ghost btn-sm" onClick={() => showSource(v.version)}>
                          Source
                        </button>
                        {isAdmin && v.version !== rv.active && (
                          confirmButton(
                            "Activate",
                            {
                              title: `Activate rule set v${v.version}`,
                              body: `Every node switches from v${rv.active} to v${v.version}.`,
                              action: "Activate",
                              run: () => api.post("/v1/rules/rollback", undefined, { version: v.version }),
                            },
                            "rules-activate",
                          )
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
        </Card>

        <Card title="Detectors" subtitle="Precision of each detector from analyst labels." id="detectors">
          <DetectorPrecision idx={idx} prec={prec.data} error={prec.error} />
        </Card>
      </div>

      <Card
        title="Models"
        id="models"
        subtitle="Isolation Forest versions; a shadow model is scored and counted but never changes a verdict."
        actions={
          isAdmin ? (
            <div class="row gap-sm">
              {mv && mv.shadow > 0 && (
                confirmButton(
                  "Stop shadow",
                  {
                    title: "Stop the shadow model",
                    body: `Model v${mv.shadow} stops being scored in shadow.`,
                    action: "Stop shadow",
                    run: () => api.post("/v1/models/shadow", undefined, { version: "off" }),
                  },
                  "models-shadow-off",
                )
              )}
              {mv && prevVersion(mv.versions, mv.active) && (
                confirmButton(
                  "Roll back",
                  {
                    title: "Roll back the model",
                    body: `Every node switches from model v${mv.active} back to v${prevVersion(mv.versions, mv.active)}.`,
                    action: "Roll back",
                    run: () => api.post("/v1/models/rollback"),
                  },
                  "models-rollback",
                )
              )}
            </div>
          ) : null
        }
      >
        {models.error ? <ErrorState error={models.error} compact /> : null}
        {models.data && <ModelCounters m={models.data} />}
        {modelVersions.loading && !mv && <Loading />}
        {modelVersions.error ? <ErrorState error={modelVersions.error} compact /> : null}
        {mv &&
          (mv.versions.length === 0 ? (
            <Empty title="No model pushed yet" icon="chart">
              Train one with <code>vigil-train</code> and push it with <code>vigilctl models push FILE --activate</code>.
            </Empty>
          ) : (
            <table class="grid grid-compact" data-testid="model-versions">
              <VersionHead precision />
              <tbody>
                {[...mv.versions].reverse().map((v) => (
                  <tr key={v.version} class={v.version === mv.active ? "is-current" : ""}>
                    <VersionCells v={v} />
                    <td>
                      {v.version === mv.active ? (
                        <Pill tone="active">active</Pill>
                      ) : v.version === mv.shadow ? (
                        <Pill tone="shadow">shadow</Pill>
                      ) : (
                        <span class="muted">kept</span>
                      )}
                    </td>
                    <td>
                      <PrecisionCell p={idx.model.get(v.version)} />
                    </td>
                    <td class="actions">
                      {isAdmin && v.version !== mv.active && (
                        confirmButton(
                          "Activate",
                          {
                            title: `Activate model v${v.version}`,
                            body: `Model v${v.version} scores every transaction on every node${mv.active ? ` instead of v${mv.active}` : ""}.`,
                            action: "Activate",
                            run: () => api.post("/v1/models/activate", undefined, { version: v.version }),
                          },
                          "models-activate",
                        )
                      )}
                      {isAdmin && v.version !== mv.active && v.version !== mv.shadow && (
                        confirmButton(
                          "Shadow",
                          {
                            title: `Shadow model v${v.version}`,
                            body: `Model v${v.version} is scored next to the active one and counted, never acting on a verdict.`,
                            action: "Run as shadow",
                            run: () => api.post("/v1/models/shadow", undefined, { version: v.version }),
                          },
                          undefined,
                          true,
                        )
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
      </Card>

      {confirm && (
        <Modal
          title={confirm.title}
          onClose={() => !busy && setConfirm(null)}
          footer={
            <>
              <button class="btn btn-ghost" onClick={() => setConfirm(null)} disabled={busy}>
                Cancel
              </button>
              <button class="btn btn-danger" onClick={runConfirm} disabled={busy} data-testid="confirm">
                {confirm.action}
              </button>
            </>
          }
        >
          <p>{confirm.body}</p>
        </Modal>
      )}
      {source && (
        <Modal title={`Rule set v${source.version}`} onClose={() => setSource(null)}>
          {source.error ? (
            <ErrorState error={source.error} compact />
          ) : source.text === undefined ? (
            <Loading />
          ) : (
            <pre class="code">{source.text}</pre>
          )}
        </Modal>
      )}
    </div>
  );
}

function VersionHead({ precision }: { precision?: boolean }) {
  return (
    <thead>
      <tr>
        <th scope="col">Version</th>
        <th scope="col" class="num">
          Size
        </th>
        <th scope="col">Hash</th>
        <th scope="col">Status</th>
        {precision && <th scope="col">Precision (labels)</th>}
        <th scope="col" />
      </tr>
    </thead>
  );
}

/** version, size and hash of a rule set or model version */
function VersionCells({ v }: { v: { version: number; size?: number; hash?: string } }) {
  return (
    <>
      <td class="strong">v{v.version}</td>
      <td class="num">{fmtBytes(v.size)}</td>
      <td class="mono small" title={v.hash}>
        {v.hash?.slice(0, 12)}
      </td>
    </>
  );
}

function PrecisionCell({ p }: { p?: PrecisionRow }) {
  const v = precisionView(p);
  return (
    <span class={`prec prec-${v.tone}`} title={v.detail}>
      {v.text}
      {p?.labelled ? <span class="muted small"> · {fmtInt(p.labelled)}</span> : null}
    </span>
  );
}

function DetectorPrecision({ idx, prec, error }: { idx: PrecisionIndex; prec?: PrecisionResponse; error: unknown }) {
  if (error) return <ErrorState error={error} compact />;
  if (!prec) return <Loading />;
  const rows = [...idx.detector.entries()].sort((a, b) => b[1].labelled - a[1].labelled);
  if (!rows.length)
    return (
      <Empty title="No labels yet" icon="check">
        Label anomalies as fraud, legit or unsure to measure each detector's precision.
      </Empty>
    );
  return (
    <table class="grid grid-compact" data-testid="detector-precision">
      <thead>
        <tr>
          <th scope="col">Detector</th>
          <th scope="col" class="num">
            Fraud
          </th>
          <th scope="col" class="num">
            Legit
          </th>
          <th scope="col" class="num">
            Unsure
          </th>
          <th scope="col">Precision</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([d, p]) => (
          <tr key={d}>
            <td>
              <a href={`#/anomalies?detector=${encodeURIComponent(d)}`}>{detectorName(d)}</a>
              {detectorName(d).toLowerCase() !== d && <span class="muted small mono"> {d}</span>}
            </td>
            <td class="num">{fmtInt(p.fraud)}</td>
            <td class="num">{fmtInt(p.legit)}</td>
            <td class="num">{fmtInt(p.unsure)}</td>
            <td>
              <PrecisionCell p={p} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ModelCounters({ m }: { m: ModelsResponse }) {
  const active = (m.active_versions ?? []).filter((v) => v > 0);
  const shadow = (m.shadow_versions ?? []).filter((v) => v > 0);
  return (
    <div class="stats-row">
      <Stat label="Active" value={active.length ? active.map((v) => `v${v}`).join(", ") : "none"} />
      <Stat
        label="Scored / flagged"
        value={`${fmtInt(m.scored)} / ${fmtInt(m.flagged)}`}
        sub={m.scored ? `${fmtPct((m.flagged ?? 0) / m.scored, 2)} flagged` : "—"}
      />
      <Stat label="Shadow" value={shadow.length ? shadow.map((v) => `v${v}`).join(", ") : "none"} />
      <Stat
        label="Shadow scored / flagged"
        value={`${fmtInt(m.shadow_scored)} / ${fmtInt(m.shadow_flagged)}`}
        sub={m.shadow_flagged ? `${fmtInt(m.both_flagged)} flagged by both` : "—"}
      />
    </div>
  );
}

/** The newest kept version older than the active one (what "roll back" activates). */
export function prevVersion(versions: { version: number }[], active: number): number | undefined {
  let best: number | undefined;
  for (const v of versions) if (v.version < active && (best === undefined || v.version > best)) best = v.version;
  return best;
}
