// uPlot, loaded on demand (only the Trends and Cluster pages draw charts,
// so the anomalies page never waits for it).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { axisTimeLabels } from "../format";
import { stack } from "../trends";

export interface ChartSeries {
  name: string;
  values: (number | null)[];
  color: string;
  /** right-hand axis */
  right?: boolean;
  dash?: number[];
}

export interface ChartSpec {
  x: number[];
  series: ChartSeries[];
  kind: "stacked-bars" | "lines";
  height: number;
  yLabel?: string;
  rightLabel?: string;
  fmtY?: (v: number) => string;
  fmtRight?: (v: number) => string;
}

export function createChart(el: HTMLElement, spec: ChartSpec, width: number): uPlot {
  const css = getComputedStyle(document.documentElement);
  const grid = css.getPropertyValue("--chart-grid").trim() || "#e5e7eb";
  const axisColor = css.getPropertyValue("--text-muted").trim() || "#6b7280";
  const font = `12px ${css.getPropertyValue("--font").trim() || "sans-serif"}`;
  const fmt = spec.fmtY ?? ((v: number) => String(v));
  const axisY: uPlot.Axis = {
    stroke: axisColor,
    grid: { stroke: grid, width: 1 },
    ticks: { show: false },
    font,
    size: 52,
    values: (_u, vals) => vals.map((v) => (v == null ? "" : fmt(v))),
    label: spec.yLabel,
    labelFont: font,
    labelSize: spec.yLabel ? 18 : 0,
  };
  const axes: uPlot.Axis[] = [
    {
      stroke: axisColor,
      grid: { stroke: grid, width: 1 },
      ticks: { show: false },
      font,
      size: 44,
      space: 64,
      values: (_u, splits, _ax, _space, incr) => axisTimeLabels(splits, incr),
    },
    axisY,
  ];
  let data: uPlot.AlignedData;
  const series: uPlot.Series[] = [{}];
  if (spec.kind === "stacked-bars") {
    const cum = stack(spec.series.map((s) => s.values.map((v) => v ?? 0)));
    // tallest first, so each shorter stack paints over it: the visible bands are the layers
    const order = spec.series.map((_, i) => i).reverse();
    data = [spec.x, ...order.map((i) => cum[i])] as uPlot.AlignedData;
    const bars = uPlot.paths.bars!({ size: [0.82, 48], gap: 1 });
    for (const i of order) {
      const s = spec.series[i];
      series.push({
        label: s.name,
        stroke: s.color,
        fill: s.color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _si, di) => (di == null ? "—" : fmt(s.values[di] ?? 0)),
      });
    }
  } else {
    data = [spec.x, ...spec.series.map((s) => s.values)] as uPlot.AlignedData;
    const hasRight = spec.series.some((s) => s.right);
    for (const s of spec.series) {
      const f = s.right ? (spec.fmtRight ?? fmt) : fmt;
      series.push({
        label: s.name,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        scale: s.right ? "r" : "y",
        spanGaps: false,
        points: { show: spec.x.length < 40, size: 4 },
        value: (_u, v) => (v == null ? "—" : f(v)),
      });
    }
    if (hasRight) {
      const fr = spec.fmtRight ?? fmt;
      axes.push({
        scale: "r",
        side: 1,
        stroke: axisColor,
        grid: { show: false },
        ticks: { show: false },
        font,
        size: 56,
        values: (_u, vals) => vals.map((v) => (v == null ? "" : fr(v))),
        label: spec.rightLabel,
        labelFont: font,
        labelSize: spec.rightLabel ? 18 : 0,
      });
    }
  }
  const opts: uPlot.Options = {
    width,
    height: spec.height,
    series,
    axes,
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
    },
    legend: { show: true, live: true },
    cursor: { points: { show: spec.kind === "lines" }, drag: { x: false, y: false } },
    padding: [8, 8, 0, 0],
  };
  return new uPlot(opts, data, el);
}
