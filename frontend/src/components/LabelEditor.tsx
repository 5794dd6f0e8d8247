// Analyst feedback: fraud / legit / unsure with a note, posted to
// POST /v1/anomalies/{id}/label. Used in the detail view and in the
// table's label popover.

import { useState } from "preact/hooks";
import { describeError } from "../api";
import { useApp } from "../context";
import { rememberLabel } from "../labels";
import { LABEL_CHOICES, validateLabel } from "../models";
import type { AnomalyLabel, LabelValue } from "../types";
import { Spinner } from "./ui";

export function LabelEditor({
  anomalyId,
  current,
  initial,
  onSaved,
  onCancel,
  compact,
}: {
  anomalyId: string;
  current?: AnomalyLabel | null;
  /** preselected choice (keyboard shortcut in the table) */
  initial?: LabelValue;
  onSaved: (l: AnomalyLabel) => void;
  onCancel?: () => void;
  compact?: boolean;
}) {
  const { api, session, toast } = useApp();
  const [choice, setChoice] = useState<LabelValue | "">(initial ?? ((current?.label as LabelValue) || ""));
  const [note, setNote] = useState(current?.note ?? "");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);

  const save = async (e?: Event) => {
    e?.preventDefault();
    const v = validateLabel(choice, note);
    if (v) return setErr(v);
    setBusy(true);
    setErr(null);
    try {
      const r = await api.post<{ label?: string; note?: string; by?: string; at?: number | string }>(
        `/v1/anomalies/${encodeURIComponent(anomalyId)}/label`,
        { label: choice, note },
      );
      const saved: AnomalyLabel = {
        label: r?.label ?? choice,
        note: r?.note ?? note,
        by: r?.by ?? session.user,
        at: typeof r?.at === "number" ? new Date(r.at).toISOString() : (r?.at ?? new Date().toISOString()),
      };
      rememberLabel(anomalyId, saved);
      toast("ok", `Labelled ${saved.label}`);
      onSaved(saved);
    } catch (ex) {
      setErr(describeError(ex));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class={`label-editor${compact ? " compact" : ""}`} onSubmit={save} data-testid="label-editor">
      <div class="seg seg-fill" role="radiogroup" aria-label="Label">
        {LABEL_CHOICES.map((c) => (
          <button
            type="button"
            key={c.value}
            role="radio"
            aria-checked={choice === c.value}
            class={`seg-btn lab-${c.value}${choice === c.value ? " on" : ""}`}
            title={`${c.hint} (${c.key})`}
            onClick={() => setChoice(c.value)}
            data-label={c.value}
          >
            {c.text}
          </button>
        ))}
      </div>
      <textarea
        class="input"
        rows={compact ? 2 : 3}
        maxLength={1000}
        placeholder="Note (optional): what you checked, who confirmed…"
        value={note}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save();
        }}
        aria-label="Note"
      />
      {err && (
        <div class="form-error" role="alert">
          {err}
        </div>
      )}
      <div class="row gap-sm">
        <button type="submit" class="btn btn-primary btn-sm" disabled={busy || !choice} data-testid="label-save">
          {busy ? <Spinner label="Saving" /> : null}
          {current ? "Update label" : "Save label"}
        </button>
        {onCancel && (
          <button type="button" class="btn btn-sm btn-ghost" onClick={onCancel}>
            Cancel
          </button>
        )}
        <span class="muted small">Ctrl+Enter saves</span>
      </div>
    </form>
  );
}
