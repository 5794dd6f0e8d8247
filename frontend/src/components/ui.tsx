// Small presentational pieces: badges, times, states, cards, icons.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { describeError, ApiError } from "../api";
import { fmtRelative, fmtTime, fmtTimeShort, fmtUtc } from "../format";
import { decisionClass, labelClass, severityClass } from "../models";

export function SeverityBadge({ value }: { value: string }) {
  return (
    <span class={`badge ${severityClass(value)}`} title={`Severity: ${value}`}>
      <span class="dot" aria-hidden="true" />
      {value}
    </span>
  );
}

export function DecisionBadge({ value }: { value: string }) {
  return (
    <span class={`badge badge-outline ${decisionClass(value)}`} title={`Decision: ${value}`}>
      {value}
    </span>
  );
}

export function LabelBadge({ value, title }: { value: string; title?: string }) {
  return (
    <span class={`badge ${labelClass(value)}`} title={title ?? `Analyst label: ${value}`}>
      {value === "fraud" ? "✓ fraud" : value === "legit" ? "✕ legit" : value === "unsure" ? "? unsure" : value}
    </span>
  );
}

export function Pill({ children, tone = "neutral", title }: { children: ComponentChildren; tone?: string; title?: string }) {
  return (
    <span class={`pill pill-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** Local time with the UTC time on hover; `short` for dense tables, `relative` adds "3 min ago". */
export function Time({
  value,
  now,
  short,
  relative,
}: {
  value: string | number | undefined | null;
  now?: number;
  short?: boolean;
  relative?: boolean;
}) {
  if (value === undefined || value === null || value === "") return <span class="muted">—</span>;
  const n = now ?? Date.now();
  const iso = typeof value === "number" ? new Date(value).toISOString() : value;
  return (
    <time dateTime={iso} title={`${fmtUtc(value)} · ${fmtRelative(value, n)}`}>
      {short ? fmtTimeShort(value, n) : fmtTime(value)}
      {relative && <span class="rel"> · {fmtRelative(value, n)}</span>}
    </time>
  );
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span class="spinner" role="status" aria-label={label} />;
}

export function Loading({ text = "Loading…" }: { text?: string }) {
  return (
    <div class="state state-loading" aria-busy="true">
      <Spinner />
      <span>{text}</span>
    </div>
  );
}

export function SkeletonRows({ rows = 8, cols = 8 }: { rows?: number; cols?: number }) {
  return (
    <>
      {Array.from({ length: rows }, (_, i) => (
        <tr class="skeleton-row" key={i} aria-hidden="true">
          {Array.from({ length: cols }, (_, j) => (
            <td key={j}>
              <span class="skeleton" style={{ width: `${40 + ((i * 7 + j * 13) % 50)}%` }} />
            </td>
          ))}
        </tr>
      ))}
    </>
  );
}

export function Empty({ title, children, icon = "inbox" }: { title: string; children?: ComponentChildren; icon?: IconName }) {
  return (
    <div class="state state-empty">
      <Icon name={icon} size={28} />
      <div class="state-title">{title}</div>
      {children && <div class="state-body">{children}</div>}
    </div>
  );
}

export function ErrorState({ error, onRetry, compact }: { error: unknown; onRetry?: () => void; compact?: boolean }) {
  const forbidden = error instanceof ApiError && error.forbidden;
  const missing = error instanceof ApiError && error.notFound;
  const offline = error instanceof ApiError && error.status === 0;
  const title = forbidden ? "Not allowed" : missing ? "Not found" : offline ? "The gateway is not reachable" : "Something went wrong";
  return (
    <div class={`state state-error${compact ? " compact" : ""}`} role="alert">
      <Icon name={forbidden ? "lock" : missing ? "search" : "alert"} size={compact ? 18 : 28} />
      <div class="state-title">{title}</div>
      <div class="state-body">{describeError(error)}</div>
      {onRetry && !forbidden && !missing && (
        <button class="btn btn-sm" onClick={() => onRetry()}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Card({
  title,
  actions,
  children,
  class: cls,
  subtitle,
  id,
}: {
  title?: ComponentChildren;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  id?: string;
}) {
  return (
    <section class={`card ${cls ?? ""}`} id={id}>
      {(title || actions) && (
        <header class="card-head">
          <div>
            {title && <h2 class="card-title">{title}</h2>}
            {subtitle && <div class="card-sub">{subtitle}</div>}
          </div>
          {actions && <div class="card-actions">{actions}</div>}
        </header>
      )}
      <div class="card-body">{children}</div>
    </section>
  );
}

export function Stat({
  label,
  value,
  sub,
  tone,
  title,
}: {
  label: string;
  value: ComponentChildren;
  sub?: ComponentChildren;
  tone?: "ok" | "warn" | "bad";
  title?: string;
}) {
  return (
    <div class={`stat${tone ? ` stat-${tone}` : ""}`} title={title}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub !== undefined && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

/** A bar for a 0..1 share (score, contribution). */
export function Meter({ value, tone }: { value: number; tone?: string }) {
  const v = Math.max(0, Math.min(1, value || 0));
  return (
    <span class={`meter${tone ? ` meter-${tone}` : ""}`} aria-hidden="true">
      <span style={{ width: `${(v * 100).toFixed(1)}%` }} />
    </span>
  );
}

export function Modal({
  title,
  children,
  onClose,
  footer,
}: {
  title: string;
  children: ComponentChildren;
  onClose: () => void;
  footer?: ComponentChildren;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const el =
      ref.current?.querySelector<HTMLElement>("[autofocus]") ??
      ref.current?.querySelector<HTMLElement>("button, input, textarea, select");
    el?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    addEventListener("keydown", onKey);
    return () => {
      removeEventListener("keydown", onKey);
      prev?.focus?.();
    };
  }, []);
  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <header class="modal-head">
          <h2>{title}</h2>
          <button class="btn-icon" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </header>
        <div class="modal-body">{children}</div>
        {footer && <footer class="modal-foot">{footer}</footer>}
      </div>
    </div>
  );
}

/* ---- icons (inline SVG, stroke style) -------------------------------------------- */

export type IconName =
  | "list"
  | "chart"
  | "rules"
  | "cluster"
  | "logout"
  | "alert"
  | "lock"
  | "inbox"
  | "x"
  | "chevron-left"
  | "chevron-right"
  | "refresh"
  | "filter"
  | "shield"
  | "user"
  | "clock"
  | "check"
  | "arrow-left"
  | "search"
  | "pulse";

const PATHS: Record<IconName, string> = {
  list: "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01",
  chart: "M3 3v18h18M7 15l4-4 3 3 5-6",
  rules: "M9 11l3 3L22 4M21 12v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h11",
  cluster:
    "M5 3h14a2 2 0 0 1 2 2v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM5 13h14a2 2 0 0 1 2 2v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4a2 2 0 0 1 2-2zM7 7h.01M7 17h.01",
  logout: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9",
  alert: "M12 9v4M12 17h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z",
  lock: "M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4",
  inbox: "M22 12h-6l-2 3h-4l-2-3H2M5.5 5h13L22 12v6a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2v-6z",
  x: "M18 6 6 18M6 6l12 12",
  "chevron-left": "M15 18l-6-6 6-6",
  "chevron-right": "M9 18l6-6-6-6",
  refresh: "M23 4v6h-6M1 20v-6h6M3.5 9a9 9 0 0 1 14.9-3.4L23 10M1 14l4.6 4.4A9 9 0 0 0 20.5 15",
  filter: "M22 3H2l8 9.5V19l4 2v-8.5z",
  shield: "M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z",
  user: "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
  clock: "M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM12 6v6l4 2",
  check: "M20 6 9 17l-5-5",
  "arrow-left": "M19 12H5M12 19l-7-7 7-7",
  search: "M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM21 21l-4.3-4.3",
  pulse: "M22 12h-4l-3 9L9 3l-3 9H2",
};

export function Icon({ name, size = 18 }: { name: IconName; size?: number }) {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
