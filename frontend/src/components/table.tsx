// Pieces shared by the paged, keyboard-navigable tables (anomalies, alerts):
// row focus and arrow keys, the stack of keyset cursors, the filter bar's
// fields (and the labelled fields of forms, with their errors), the footer
// with the pager, and the empty / error states.

import type { ComponentChildren, InputHTMLAttributes, SelectHTMLAttributes } from "preact";
import { useId, useRef, useState } from "preact/hooks";
import { fmtInt } from "../format";
import { Empty, ErrorState, Icon, Spinner } from "./ui";

/* ---- keyboard navigation ---------------------------------------------------------- */

/**
 * The focused row of a table body: ↑/↓ (j/k), Home/End move it, n/p (PageDown/PageUp)
 * page; `extra` handles the page's own keys and returns false for keys it ignores.
 * Keys typed into elements matching `skip` are left alone.
 */
export function useKeyboardTable(count: number, initialFocus = 0) {
  const [focus, setFocus] = useState(initialFocus);
  const tbody = useRef<HTMLTableSectionElement>(null);

  const focusRow = (i: number) => {
    const k = Math.max(0, Math.min(count - 1, i));
    setFocus(k);
    tbody.current?.querySelectorAll<HTMLTableRowElement>("tr[data-id]")[k]?.focus();
  };

  const keyHandler =
    (o: { skip: string; older: () => void; newer: () => void; extra: (key: string) => boolean }) => (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest(o.skip)) return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const k = e.key;
      if (k === "ArrowDown" || k === "j") focusRow(focus + 1);
      else if (k === "ArrowUp" || k === "k") focusRow(focus - 1);
      else if (k === "Home") focusRow(0);
      else if (k === "End") focusRow(count - 1);
      else if (k === "PageDown" || k === "n") o.older();
      else if (k === "PageUp" || k === "p") o.newer();
      else if (!o.extra(k)) return;
      e.preventDefault();
    };

  /** The attributes of row `i`: roving tabindex, focus class, selection. */
  const rowProps = (i: number, id: string, onClick: () => void, cls = "") => ({
    "data-id": id,
    tabIndex: i === focus ? 0 : -1,
    class: `${cls}${i === focus ? "is-focus" : ""}`,
    "aria-selected": i === focus,
    onFocus: () => setFocus(i),
    onClick: (e: MouseEvent) => {
      if ((e.target as HTMLElement).closest("button, a")) return;
      onClick();
    },
  });

  return { focus, setFocus, tbody, focusRow, keyHandler, rowProps };
}

/* ---- keyset paging ---------------------------------------------------------------- */

/** A stack of cursors: `cursors[i]` loads page i (null: the first page). */
export function useCursorStack(initial?: { cursors: (string | null)[]; index: number }) {
  const [cursors, setCursors] = useState<(string | null)[]>(initial?.cursors ?? [null]);
  const [index, setIndex] = useState(initial?.index ?? 0);
  /** the cursor list with `next` as page index + 1 */
  const push = (next: string) => {
    const c = [...cursors.slice(0, index + 1), next];
    setCursors(c);
    return c;
  };
  return { cursors, setCursors, index, setIndex, push, reset: () => setCursors([null]) };
}

/* ---- filter bar ------------------------------------------------------------------- */

export function FilterSelect({
  label,
  name,
  value,
  onChange,
  children,
}: {
  label: string;
  name: string;
  value: string | undefined;
  onChange: (v: string) => void;
  children: ComponentChildren;
}) {
  return (
    <label class="field field-inline">
      <span>{label}</span>
      <select class="input input-sm" name={name} value={value ?? ""} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {children}
      </select>
    </label>
  );
}

/** `<option>`s whose text is their value. */
export function Options({ values }: { values: readonly (string | number)[] }) {
  return (
    <>
      {values.map((v) => (
        <option value={v} key={v}>
          {v}
        </option>
      ))}
    </>
  );
}

export function ClearFilters({ count, onClear, testid }: { count: number; onClear: () => void; testid: string }) {
  if (count <= 0) return null;
  return (
    <button type="button" class="btn btn-sm btn-ghost" onClick={onClear} data-testid={testid}>
      <Icon name="x" size={14} /> Clear {count > 1 ? `${count} filters` : "filter"}
    </button>
  );
}

/** A labelled `<input>`; `inline` for the filter bar; `error` is shown under it. */
export function InputField({
  label,
  inline,
  error,
  ...input
}: { label: string; inline?: boolean; error?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <>
      <label class={inline ? "field field-inline" : "field"}>
        <span>{label}</span>
        <input
          class={inline ? "input input-sm" : "input"}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? id : undefined}
          {...input}
        />
      </label>
      <FieldError id={id} error={error} />
    </>
  );
}

/** A labelled `<select>` of a form; `error` is shown under it. */
export function SelectField({
  label,
  error,
  children,
  ...select
}: { label: string; error?: string; children: ComponentChildren } & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <>
      <label class="field">
        <span>{label}</span>
        <select class="input" aria-invalid={error ? true : undefined} aria-describedby={error ? id : undefined} {...select}>
          {children}
        </select>
      </label>
      <FieldError id={id} error={error} />
    </>
  );
}

function FieldError({ id, error }: { id: string; error?: string }) {
  if (!error) return null;
  return (
    <div class="field-error" id={id} role="alert">
      {error}
    </div>
  );
}

/* ---- table card ------------------------------------------------------------------- */

export function RefreshButton({ onClick, disabled }: { onClick: () => void; disabled: boolean }) {
  return (
    <button class="btn btn-sm" onClick={onClick} disabled={disabled} aria-label="Refresh">
      <Icon name="refresh" size={15} /> Refresh
    </button>
  );
}

/** "No X yet", or "No X match these filters" with a button that clears them. */
export function TableEmpty({
  noun,
  filtered,
  onClear,
  children,
}: {
  noun: string;
  filtered: number;
  onClear: () => void;
  children: ComponentChildren;
}) {
  return (
    <Empty title={filtered ? `No ${noun} match these filters` : `No ${noun} yet`} icon={filtered ? "filter" : "inbox"}>
      {filtered ? (
        <button class="btn btn-sm" onClick={onClear}>
          Clear filters
        </button>
      ) : (
        children
      )}
    </Empty>
  );
}

/** The card around a paged table: the error state instead of the table, then the footer. */
export function TableCard({
  error,
  onRetry,
  foot,
  children,
}: {
  error: unknown;
  onRetry: () => void;
  foot: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <div class="card table-card">
      {error ? <ErrorState error={error} onRetry={onRetry} /> : <div class="table-scroll">{children}</div>}
      {foot}
    </div>
  );
}

/** The footer of a paged table: where we are, the keys, and newer/older. */
export function Pager({
  index,
  pageSize,
  count,
  loading,
  hasNext,
  onNewer,
  onOlder,
  testid,
  note,
  keys,
  controls,
}: {
  index: number;
  pageSize: number;
  count: number;
  loading: boolean;
  hasNext: boolean;
  onNewer: () => void;
  onOlder: () => void;
  /** data-testid prefix of the buttons: `${testid}-newer`, `${testid}-older` */
  testid: string;
  note?: ComponentChildren;
  keys: ComponentChildren;
  controls?: ComponentChildren;
}) {
  return (
    <footer class="table-foot">
      <div class="muted small">
        {count > 0 ? (
          <>
            Page {index + 1} · rows {fmtInt(index * pageSize + 1)}–{fmtInt(index * pageSize + count)}
            {note}
            {loading && <Spinner label="Loading" />}
          </>
        ) : loading ? (
          <Spinner label="Loading" />
        ) : null}
      </div>
      <div class="kbd-hint muted small" aria-hidden="true">
        <kbd>↑</kbd>
        <kbd>↓</kbd> move · {keys}
      </div>
      <div class="row gap-sm">
        {controls}
        <button class="btn btn-sm" onClick={onNewer} disabled={index === 0 || loading} data-testid={`${testid}-newer`}>
          <Icon name="chevron-left" size={15} /> Newer
        </button>
        <button class="btn btn-sm" onClick={onOlder} disabled={!hasNext || loading} data-testid={`${testid}-older`}>
          Older <Icon name="chevron-right" size={15} />
        </button>
      </div>
    </footer>
  );
}
