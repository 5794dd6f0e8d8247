// Labels saved in this tab, by anomaly id: the list (kept across route
// changes) shows a label saved in the detail view without reloading.

import type { AnomalyLabel } from "./types";

const saved = new Map<string, AnomalyLabel>();

export function rememberLabel(id: string, l: AnomalyLabel): void {
  saved.set(id, l);
}

/** The newest label known here: one saved in this tab wins over the loaded one. */
export function labelOf(a: { id: string; label?: AnomalyLabel | null }): AnomalyLabel | null | undefined {
  return saved.get(a.id) ?? a.label;
}
