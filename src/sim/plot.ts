/**
 * An SVG line chart of the simulator's GPU allocation curves (allocated share against arrived
 * demand, one line per policy or run, optional min–max bands over seeds and dashed reference
 * curves). It is plain string building with no dependency, so the result is a standalone file
 * that opens in any browser and can be checked in or attached anywhere, with no plotting stack
 * to install on the machine that runs the simulation.
 */

export interface PlotSeries {
  /** Legend text, e.g. "fgd (4.77% unallocated)"; escaped, so any file name is safe. */
  readonly label: string;
  /** [x, y] with x ascending; a non-finite x or y is a missing point and breaks the line. */
  readonly points: readonly (readonly [number, number])[];
  /** [x, low, high], e.g. min–max over seeds, shaded under the line. */
  readonly band?: readonly (readonly [number, number, number])[];
  /** E.g. published reference curves, to tell them apart from this run's. */
  readonly dashed?: boolean;
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Default: the data's x extent. */
  readonly xRange?: readonly [number, number];
  /** Default: the data's y extent (bands included), widened to whole ticks. */
  readonly yRange?: readonly [number, number];
  /** Pixels; default 900. */
  readonly width?: number;
  /** Pixels; default 560. */
  readonly height?: number;
  /** Draw the ideal y = x line (everything that arrived got allocated), labelled "ideal". */
  readonly diagonal?: boolean;
}

// matplotlib's tab10: familiar to readers of papers and distinguishable in print.
const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
] as const;

const CLIP_ID = 'plot-area';

function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Two decimals of a pixel is below what a screen shows and keeps multi-run files small.
function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

interface Axis {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: readonly number[];
}

/**
 * The smallest 1/2/5 × 10^k step giving at most 10 ticks; a 2.5× jump between candidate steps
 * means that step still gives about 5 or more. With `pad`, the range grows to whole steps so the
 * data ends on a labelled grid line.
 */
function niceAxis(lo: number, hi: number, pad: boolean): Axis {
  for (let e = Math.floor(Math.log10((hi - lo) / 10)); ; e++) {
    for (const m of [1, 2, 5]) {
      const s = m * 10 ** e;
      const a = pad ? Math.floor(lo / s + 1e-9) * s : lo;
      const b = pad ? Math.ceil(hi / s - 1e-9) * s : hi;
      const first = Math.ceil(a / s - 1e-9);
      const last = Math.floor(b / s + 1e-9);
      if (last - first + 1 > 10) continue;
      const ticks: number[] = [];
      // toPrecision drops the float noise of k * step (0.30000000000000004) so labels print cleanly.
      for (let k = first; k <= last; k++) ticks.push(Number((k * s).toPrecision(12)));
      return { lo: Number(a.toPrecision(12)), hi: Number(b.toPrecision(12)), ticks };
    }
  }
}

function extent(values: readonly number[]): [number, number] {
  // A loop, not Math.min(...values): long runs would overflow the argument limit.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // A flat series still needs a non-empty axis to be drawn against.
  if (hi === lo) {
    const d = Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  return [lo, hi];
}

function checkRange(name: string, r: readonly [number, number]): void {
  if (!Number.isFinite(r[0]) || !Number.isFinite(r[1]) || r[0] >= r[1]) {
    throw new RangeError(`${name} must be two finite numbers, low < high; got [${r[0]}, ${r[1]}]`);
  }
}

/** Consecutive runs of items passing `ok`: a missing point breaks a line instead of bridging it. */
function runs<T>(items: readonly T[], ok: (item: T) => boolean): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  for (const item of items) {
    if (ok(item)) cur.push(item);
    else if (cur.length > 0) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const finite = (...xs: number[]): boolean => xs.every(Number.isFinite);

type Attrs = Readonly<Record<string, string | number | undefined>>;

/** One element; numbers go through `num`, every string is escaped, undefined attributes are left out. */
function el(name: string, attrs: Attrs, content?: string): string {
  const a = Object.entries(attrs)
    .filter((kv): kv is [string, string | number] => kv[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : esc(v)}"`)
    .join('');
  return content === undefined ? `<${name}${a}/>` : `<${name}${a}>${esc(content)}</${name}>`;
}

export function allocationPlotSvg(series: readonly PlotSeries[], options: PlotOptions): string {
  const { width = 900, height = 560 } = options;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new RangeError(`${name} must be a positive finite number; got ${v}`);
    }
  }
  if (series.length === 0) throw new RangeError('allocationPlotSvg needs at least one series');
  for (const s of series) {
    if (!s.points.some(([x, y]) => finite(x, y))) {
      throw new RangeError(`series "${s.label}" has no point with finite x and y`);
    }
  }
  if (options.xRange) checkRange('xRange', options.xRange);
  if (options.yRange) checkRange('yRange', options.yRange);

  const pts = series.flatMap((s) => s.points.filter(([x, y]) => finite(x, y)));
  const bands = series.flatMap((s) => (s.band ?? []).filter((b) => finite(...b)));
  const x = niceAxis(...(options.xRange ?? extent(pts.map((p) => p[0]))), false);
  const y = options.yRange
    ? niceAxis(...options.yRange, false)
    : niceAxis(...extent([...pts.map((p) => p[1]), ...bands.flatMap(([, l, h]) => [l, h])]), true);

  // The legend sits right of the plot rather than inside it, so it can never hide a curve.
  const longest = Math.max(...series.map((s) => s.label.length));
  const legendW = Math.min(longest * 7 + 48, width * 0.4);
  const left = 70;
  const top = 44;
  const plotW = Math.max(width - left - legendW - 24, 10);
  const plotH = Math.max(height - top - 56, 10);
  const sx = (v: number): number => left + ((v - x.lo) / (x.hi - x.lo)) * plotW;
  const sy = (v: number): number => top + plotH - ((v - y.lo) / (y.hi - y.lo)) * plotH;
  const xy = (px: number, py: number): string => `${num(sx(px))} ${num(sy(py))}`;
  const colour = (i: number): string => PALETTE[i % PALETTE.length] ?? '#000';
  const clip = `url(#${CLIP_ID})`;
  const plotBox = { x: left, y: top, width: plotW, height: plotH };

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" ` +
      `viewBox="0 0 ${num(width)} ${num(height)}" font-family="sans-serif" font-size="12">`,
    el('rect', { width: '100%', height: '100%', fill: '#fff' }),
    `<defs><clipPath id="${CLIP_ID}">${el('rect', plotBox)}</clipPath></defs>`,
    el('text', { x: width / 2, y: 26, 'text-anchor': 'middle', 'font-size': 16 }, options.title),
  ];

  for (const t of x.ticks) {
    out.push(el('line', { x1: sx(t), y1: top, x2: sx(t), y2: top + plotH, stroke: '#e5e5e5' }));
    const at = { x: sx(t), y: top + plotH + 16, 'text-anchor': 'middle' };
    out.push(el('text', { class: 'x-tick', ...at }, String(t)));
  }
  for (const t of y.ticks) {
    out.push(el('line', { x1: left, y1: sy(t), x2: left + plotW, y2: sy(t), stroke: '#e5e5e5' }));
    const anchor = { 'text-anchor': 'end', 'dominant-baseline': 'middle' };
    out.push(el('text', { class: 'y-tick', x: left - 6, y: sy(t), ...anchor }, String(t)));
  }
  out.push(el('rect', { ...plotBox, fill: 'none', stroke: '#333' }));
  out.push(el('text', { x: left + plotW / 2, y: top + plotH + 40, 'text-anchor': 'middle' }, options.xLabel));
  const yMid = num(top + plotH / 2);
  const rotate = `rotate(-90 18 ${yMid})`;
  out.push(el('text', { x: 18, y: yMid, 'text-anchor': 'middle', transform: rotate }, options.yLabel));

  if (options.diagonal) {
    const lo = Math.min(x.lo, y.lo);
    const hi = Math.max(x.hi, y.hi);
    const ends = { x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi) };
    const style = { stroke: '#999', 'stroke-dasharray': '4 4', 'clip-path': clip };
    out.push(el('line', { class: 'ideal', ...ends, ...style }));
    const from = Math.max(x.lo, y.lo);
    const to = Math.min(x.hi, y.hi);
    if (to > from) {
      // Above-left of the line: allocation never exceeds demand, so no curve lives there.
      const m = from + 0.85 * (to - from);
      out.push(el('text', { x: sx(m) - 8, y: sy(m) - 8, 'text-anchor': 'end', fill: '#999' }, 'ideal'));
    }
  }

  // All bands before any line, so no band washes out another series' line.
  series.forEach((s, i) => {
    if (!s.band) return;
    const d = runs(s.band, (b) => finite(...b)).map((run) => {
      const upper = run.map(([bx, , h]) => xy(bx, h));
      const lower = run.map(([bx, l]) => xy(bx, l)).reverse();
      return `M${[...upper, ...lower].join(' L')} Z`;
    });
    const fill = { fill: colour(i), 'fill-opacity': 0.18 };
    out.push(el('path', { class: 'band', d: d.join(' '), ...fill, 'clip-path': clip }));
  });
  series.forEach((s, i) => {
    const d = runs(s.points, ([px, py]) => finite(px, py)).map((run) => {
      const coords = run.map(([px, py]) => xy(px, py));
      // A lone point between gaps repeats itself so the round cap still shows it as a dot.
      return `M${(coords.length === 1 ? [...coords, ...coords] : coords).join(' L')}`;
    });
    const dash = s.dashed ? '6 4' : undefined;
    const stroke = { stroke: colour(i), 'stroke-width': 1.8, 'stroke-dasharray': dash };
    const round = { 'stroke-linejoin': 'round', 'stroke-linecap': 'round' };
    out.push(el('path', { class: 'line', d: d.join(' '), fill: 'none', ...stroke, ...round, 'clip-path': clip }));
  });

  const lx = left + plotW + 14;
  const legendBox = { x: lx, y: top, width: legendW, height: series.length * 18 + 10 };
  out.push(el('rect', { ...legendBox, fill: '#fff', stroke: '#ccc' }));
  series.forEach((s, i) => {
    const ly = top + 14 + i * 18;
    const dash = s.dashed ? '6 4' : undefined;
    const swatch = { stroke: colour(i), 'stroke-width': 2, 'stroke-dasharray': dash };
    out.push(el('line', { x1: lx + 8, y1: ly, x2: lx + 34, y2: ly, ...swatch }));
    out.push(el('text', { class: 'legend', x: lx + 40, y: ly, 'dominant-baseline': 'middle' }, s.label));
  });

  out.push('</svg>');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${out.join('\n')}\n`;
}
