// A chart box: loads uPlot lazily, follows its container's width, and
// exposes how many data points it drew (data-points) for tests.

import { useEffect, useRef, useState } from "preact/hooks";
import type { ChartSpec } from "./uplot-chart";
import { ErrorState, Spinner } from "./ui";

export type { ChartSpec, ChartSeries } from "./uplot-chart";

type Mod = typeof import("./uplot-chart");
let modPromise: Promise<Mod> | null = null;
function loadMod(): Promise<Mod> {
  modPromise ??= import("./uplot-chart");
  return modPromise;
}

export function Chart({ spec, label }: { spec: ChartSpec; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>(null);
  const [ready, setReady] = useState(false);
  const points = spec.series.reduce((n, s) => n + s.values.filter((v) => v !== null && v !== 0).length, 0);

  useEffect(() => {
    let chart: { destroy(): void; setSize(s: { width: number; height: number }): void } | null = null;
    let ro: ResizeObserver | null = null;
    let dead = false;
    loadMod().then(
      (m) => {
        if (dead || !box.current) return;
        const el = box.current;
        chart = m.createChart(el, spec, Math.max(200, el.clientWidth));
        setReady(true);
        ro = new ResizeObserver(() => {
          const w = Math.max(200, el.clientWidth);
          chart?.setSize({ width: w, height: spec.height });
        });
        ro.observe(el);
      },
      (e) => setError(e),
    );
    return () => {
      dead = true;
      ro?.disconnect();
      chart?.destroy();
    };
  }, [spec]);

  if (error) return <ErrorState error={error} compact />;
  return (
    <div class="chart-wrap" role="img" aria-label={label} data-points={points} data-ready={ready ? "1" : "0"}>
      {!ready && (
        <div class="chart-loading" style={{ height: `${spec.height + 30}px` }}>
          <Spinner label="Loading chart" />
        </div>
      )}
      <div class="chart" ref={box} />
    </div>
  );
}
