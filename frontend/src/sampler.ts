// Samples GET /metrics (no credentials needed) every few seconds while a
// user is logged in, so the Trends and Cluster pages can draw tx/s and the
// anomaly rate since the session started. One sampler for the whole app.

import { rateBetween, snapshotMetrics, type MetricsSnapshot, type RatePoint } from "./prom";

const EVERY_MS = 5000;
const KEEP = 720; // one hour at 5 s

type Listener = () => void;

class Sampler {
  snapshots: MetricsSnapshot[] = [];
  points: RatePoint[] = [];
  error: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private listeners = new Set<Listener>();

  start(): void {
    if (this.timer) return;
    void this.tick();
    setTimeout(() => this.timer && void this.tick(), 2000); // a first rate sooner
    this.timer = setInterval(() => {
      if (!document.hidden) void this.tick();
    }, EVERY_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.snapshots = [];
    this.points = [];
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  latest(): MetricsSnapshot | undefined {
    return this.snapshots[this.snapshots.length - 1];
  }

  private async tick(): Promise<void> {
    try {
      const res = await fetch("/metrics", { cache: "no-store" });
      if (!res.ok) throw new Error(`metrics: HTTP ${res.status}`);
      const snap = snapshotMetrics(await res.text(), Date.now());
      const prev = this.latest();
      this.snapshots.push(snap);
      if (this.snapshots.length > KEEP) this.snapshots.shift();
      if (prev) {
        this.points.push(rateBetween(prev, snap));
        if (this.points.length > KEEP) this.points.shift();
      }
      this.error = null;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
    for (const l of this.listeners) l();
  }
}

export const sampler = new Sampler();
