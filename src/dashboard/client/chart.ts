import { useLayoutEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

import { html } from './html.js';
import type { HistoryView } from '../view.js';

const HEIGHT = 220;
// Greys and a violet: the palette's hues belong to the tenants, and these lines are not tenants.
const MEMORY = '#334155';
const CORES = '#7c3aed';
const PENDING = '#8b939e';
const GRID = '#eceef2';
const AXIS = '#4b5563';

function toData(h: HistoryView): uPlot.AlignedData {
  // uPlot's types want mutable arrays; the samples are few (hundreds), so copying is cheaper than doubting.
  return [[...h.t], [...h.memoryAllocated], [...h.memoryUsed], [...h.coresAllocated], [...h.utilization], [...h.pending]];
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

function clock(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

const percentValue = (_u: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(1)}%`);

// Points would only clutter lines sampled every few seconds.
const noPoints = { show: false };

const lines: uPlot.Series[] = [
  { label: 'Memory allocated', points: noPoints, scale: 'pct', stroke: MEMORY, width: 2, value: percentValue },
  { label: 'Memory used', points: noPoints, scale: 'pct', stroke: MEMORY, width: 1.5, dash: [6, 4], value: percentValue },
  { label: 'Cores allocated', points: noPoints, scale: 'pct', stroke: CORES, width: 2, value: percentValue },
  { label: 'Utilisation', points: noPoints, scale: 'pct', stroke: CORES, width: 1.5, dash: [6, 4], value: percentValue },
  { label: 'Pending pods', points: noPoints, scale: 'pods', stroke: PENDING, width: 1.5, fill: 'rgba(139,147,158,0.12)', value: (_u, v) => (v === null ? '—' : String(v)) },
];

function options(width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    // Zooming would be undone by the next event's setData, so it only confuses.
    cursor: { drag: { x: false, y: false, setScale: false } },
    scales: {
      x: { time: true },
      // Fixed 0..100 so a flat cluster does not look like it swings; room above for over-commitment.
      pct: { range: (_u, _min, max) => [0, Math.max(100, max)] },
      pods: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] },
    },
    series: [{}, ...lines],
    axes: [
      // Samples are seconds apart: whole-second ticks as clock times (uPlot's default shows fractions on short spans).
      { stroke: AXIS, grid: { stroke: GRID }, ticks: { stroke: GRID }, space: 70, incrs: TIME_STEPS, values: (_u, ticks) => ticks.map(clock) },
      { scale: 'pct', stroke: AXIS, grid: { stroke: GRID }, ticks: { stroke: GRID }, size: 48, values: (_u, ticks) => ticks.map((t) => `${t}%`) },
      // Whole pods only: a fractional tick on a count reads as a bug.
      { scale: 'pods', side: 1, stroke: PENDING, grid: { show: false }, size: 40, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000], values: (_u, ticks) => ticks.map(String) },
    ],
  };
}

/** The totals over time. The plot is made once and fed with setData, as uPlot intends. */
export function UsageChart({ history }: { readonly history: HistoryView }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useLayoutEffect(() => {
    const data = toData(history);
    if (plot.current !== null) plot.current.setData(data);
    else if (box.current !== null) plot.current = new uPlot(options(box.current.clientWidth || 600), data, box.current);
  }, [history]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el === null) return undefined;
    const observer = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (width > 0 && plot.current !== null && width !== plot.current.width) plot.current.setSize({ width, height: HEIGHT });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return html`<section class="panel chart" aria-labelledby="chart-title">
    <div class="panel-head"><h2 id="chart-title">Utilisation over time</h2><span class="muted">% of the cluster · pending pods on the right</span></div>
    <div class="chart-box" ref=${box} role="img" aria-label="Line chart of memory and cores allocated and used, and pending pods, over time"></div>
  </section>`;
}
