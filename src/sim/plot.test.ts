import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { allocationPlotSvg, type PlotOptions, type PlotSeries } from './plot.js';

const opts: PlotOptions = {
  title: 'GPU allocation',
  xLabel: 'arrived GPU demand (% of cluster GPU capacity)',
  yLabel: 'GPU allocated (% of capacity)',
};

function curve(label: string, f: (x: number) => number, extra: Partial<PlotSeries> = {}): PlotSeries {
  const points: [number, number][] = [];
  for (let x = 0; x <= 130; x += 5) points.push([x, f(x)]);
  return { label, points, ...extra };
}

const saturating = (cap: number) => (x: number) => Math.min(x, cap);

/** Every tag in document order: a regex walk is enough for the flat, escaped markup the plot emits. */
function tags(svg: string): { close: boolean; name: string; selfClosing: boolean; attrs: string }[] {
  return [...svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>/g)].map((m) => ({
    close: m[1] === '/',
    name: m[2] ?? '',
    attrs: m[3] ?? '',
    selfClosing: m[4] === '/',
  }));
}

function paths(svg: string, cls: string): string[] {
  return tags(svg)
    .filter((t) => t.name === 'path' && t.attrs.includes(`class="${cls}"`))
    .map((t) => t.attrs);
}

function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(attrs)?.[1];
}

function tickValues(svg: string, cls: string): number[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => Number(m[1]));
}

function assertNiceTicks(ticks: number[], lo: number, hi: number): void {
  assert.ok(ticks.length >= 5 && ticks.length <= 10, `5–10 ticks, got ${ticks.join(',')}`);
  const step = (ticks[1] ?? NaN) - (ticks[0] ?? NaN);
  ticks.forEach((t, i) => assert.ok(Math.abs(t - (ticks[0] ?? NaN) - i * step) < 1e-9 * Math.abs(step), 'even steps'));
  const mantissa = step / 10 ** Math.floor(Math.log10(step));
  assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9), `step ${step} is 1/2/5 × 10^k`);
  ticks.forEach((t) => assert.ok(Math.abs(t / step - Math.round(t / step)) < 1e-9, `${t} is a multiple of ${step}`));
  assert.ok((ticks[0] ?? NaN) >= lo - 1e-9 && (ticks.at(-1) ?? NaN) <= hi + 1e-9, 'ticks inside the axis range');
}

test('the document is a single, balanced <svg> root with a white background', () => {
  const svg = allocationPlotSvg([curve('fgd', saturating(95)), curve('best-fit', saturating(88))], opts);
  assert.ok(svg.startsWith('<?xml') || svg.startsWith('<svg'));
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '').trim();
  assert.ok(body.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(body.endsWith('</svg>'));
  assert.match(body, /^<svg[^>]* width="900" height="560" viewBox="0 0 900 560"/);
  assert.match(svg, /<rect width="100%" height="100%" fill="#fff"\/>/);

  const stack: string[] = [];
  let roots = 0;
  for (const t of tags(body)) {
    if (t.close) assert.equal(stack.pop(), t.name, `</${t.name}> closes the open element`);
    else if (!t.selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(t.name);
    } else assert.ok(stack.length > 0, `<${t.name}/> is inside the root`);
  }
  assert.deepEqual(stack, [], 'every element is closed');
  assert.equal(roots, 1);
});

test('one line path per series, in the palette, dashed where asked', () => {
  const series = Array.from({ length: 12 }, (_, i) => curve(`s${i}`, saturating(80 + i), { dashed: i === 3 }));
  const lines = paths(allocationPlotSvg(series, opts), 'line');
  assert.equal(lines.length, 12);
  const colours = lines.map((l) => attr(l, 'stroke'));
  assert.equal(new Set(colours.slice(0, 10)).size, 10, 'ten distinct colours before cycling');
  assert.equal(colours[10], colours[0]);
  assert.equal(attr(lines[3] ?? '', 'stroke-dasharray'), '6 4');
  assert.equal(attr(lines[2] ?? '', 'stroke-dasharray'), undefined);
});

test('the legend lists every label, escaped, with a dashed swatch for dashed series', () => {
  const nasty = `run <&> "a" 'b'.csv`;
  const svg = allocationPlotSvg(
    [curve('fgd (4.77% unallocated)', saturating(95)), curve(nasty, saturating(90), { dashed: true })],
    { ...opts, title: 'A & B' },
  );
  assert.ok(svg.includes('>fgd (4.77% unallocated)</text>'));
  assert.ok(svg.includes('>run &lt;&amp;&gt; &quot;a&quot; &#39;b&#39;.csv</text>'));
  assert.ok(!svg.includes('<&>'), 'raw label text never reaches the markup');
  assert.ok(svg.includes('>A &amp; B</text>'));
  const swatches = tags(svg).filter((t) => t.name === 'line' && attr(t.attrs, 'stroke-width') === '2');
  assert.equal(swatches.length, 2);
  assert.equal(attr(swatches[1]?.attrs ?? '', 'stroke-dasharray'), '6 4');
  assert.equal(attr(swatches[0]?.attrs ?? '', 'stroke-dasharray'), undefined);
});

test('a NaN point breaks the line into two M segments', () => {
  const broken: PlotSeries = { label: 'gap', points: [[0, 0], [10, 10], [20, NaN], [30, 30], [40, 40]] };
  const whole: PlotSeries = { label: 'whole', points: [[0, 0], [40, 40]] };
  const [gap, full] = paths(allocationPlotSvg([broken, whole], opts), 'line').map((l) => attr(l, 'd') ?? '');
  assert.equal(gap?.match(/M/g)?.length, 2);
  assert.equal(gap?.match(/L/g)?.length, 2);
  assert.equal(full?.match(/M/g)?.length, 1);
  assert.ok(!/NaN|Infinity/.test(gap ?? ''));
});

test('a band is drawn as a filled, translucent path in the series colour only when given', () => {
  const band: [number, number, number][] = [];
  for (let x = 0; x <= 130; x += 5) band.push([x, Math.min(x, 85), Math.min(x, 97)]);
  const svg = allocationPlotSvg([curve('with band', saturating(90), { band }), curve('no band', saturating(80))], opts);
  const bands = paths(svg, 'band');
  assert.equal(bands.length, 1);
  const b = bands[0] ?? '';
  assert.equal(attr(b, 'fill'), attr(paths(svg, 'line')[0] ?? '', 'stroke'));
  assert.ok(Number(attr(b, 'fill-opacity')) < 0.5);
  assert.match(attr(b, 'd') ?? '', /^M.* Z$/);
  assert.ok(svg.indexOf('class="band"') < svg.indexOf('class="line"'), 'band is under the lines');
  assert.equal(paths(allocationPlotSvg([curve('no band', saturating(80))], opts), 'band').length, 0);
});

test('ticks are nice numbers', () => {
  const svg = allocationPlotSvg([curve('c', saturating(95))], { ...opts, xRange: [0, 130], yRange: [0, 130] });
  const xs = tickValues(svg, 'x-tick');
  assertNiceTicks(xs, 0, 130);
  assert.deepEqual(xs, [0, 20, 40, 60, 80, 100, 120]);

  for (const [lo, hi] of [[0, 1], [0.03, 0.97], [-3, 7], [12, 13.7], [0, 1e6]] as const) {
    const s = allocationPlotSvg([{ label: 'c', points: [[lo, lo], [hi, hi]] }], opts);
    const ys = tickValues(s, 'y-tick');
    assertNiceTicks(ys, -Infinity, Infinity);
    // The default y axis is padded out to whole ticks, so the data sits on labelled grid lines.
    assert.ok((ys[0] ?? NaN) <= lo && (ys.at(-1) ?? NaN) >= hi, `y ticks ${ys.join(',')} cover ${lo}..${hi}`);
    const xt = tickValues(s, 'x-tick');
    assertNiceTicks(xt, lo, hi);
  }
});

test('a flat series still gets an axis', () => {
  const svg = allocationPlotSvg([{ label: 'flat', points: [[0, 50], [100, 50]] }], opts);
  assertNiceTicks(tickValues(svg, 'y-tick'), -Infinity, Infinity);
  assert.ok(!/NaN|Infinity/.test(svg));
});

test('lines, bands and the ideal diagonal are clipped to the plot area', () => {
  const band: [number, number, number][] = [[0, 0, 5], [100, 90, 110]];
  const svg = allocationPlotSvg([curve('c', (x) => x, { band })], { ...opts, xRange: [0, 50], yRange: [0, 50], diagonal: true });
  const id = /<clipPath id="([^"]+)"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"\/>/.exec(svg);
  assert.ok(id, 'a clipPath with the plot rectangle is defined');
  const frame = new RegExp(`<rect x="${id[2]}" y="${id[3]}" width="${id[4]}" height="${id[5]}" fill="none"`);
  assert.match(svg, frame, 'the clip rectangle is the drawn plot frame');
  const clipped = tags(svg).filter((t) => attr(t.attrs, 'clip-path') === `url(#${id[1]})`);
  assert.deepEqual(
    clipped.map((t) => attr(t.attrs, 'class')),
    ['ideal', 'band', 'line'],
  );
  // The points beyond the range really are drawn past the frame, which is why the clip matters.
  const right = Number(id[2]) + Number(id[4]);
  const xs = (attr(paths(svg, 'line')[0] ?? '', 'd') ?? '').match(/[\d.]+(?= )/g)?.map(Number) ?? [];
  assert.ok(xs.some((x) => x > right));
  assert.match(svg, />ideal<\/text>/);
});

test('numbers are rounded to two decimals', () => {
  const svg = allocationPlotSvg([{ label: 'c', points: [[0, 0], [1 / 3, 2 / 7], [1, 1]] }], { ...opts, width: 901.23456 });
  const numbers = svg.replace(/^<\?xml[^>]*\?>/, '').match(/\d+\.\d+/g) ?? [];
  assert.ok(numbers.length > 0);
  for (const n of numbers) assert.ok((n.split('.')[1] ?? '').length <= 2, n);
});

test('RangeError on unusable input', () => {
  const ok = curve('ok', saturating(90));
  assert.throws(() => allocationPlotSvg([], opts), RangeError);
  assert.throws(() => allocationPlotSvg([ok, { label: 'empty', points: [] }], opts), /series "empty"/);
  assert.throws(() => allocationPlotSvg([{ label: 'nan', points: [[0, NaN], [NaN, 1]] }], opts), RangeError);
  for (const bad of [0, -1, NaN, Infinity]) {
    assert.throws(() => allocationPlotSvg([ok], { ...opts, width: bad }), /width/);
    assert.throws(() => allocationPlotSvg([ok], { ...opts, height: bad }), /height/);
  }
  assert.throws(() => allocationPlotSvg([ok], { ...opts, xRange: [10, 10] }), /xRange/);
  assert.throws(() => allocationPlotSvg([ok], { ...opts, yRange: [0, NaN] }), /yRange/);
});

test('writes a sample a person can open', (t) => {
  const band: [number, number, number][] = [];
  for (let x = 0; x <= 130; x += 5) band.push([x, Math.min(x, 93), Math.min(x, 96.5)]);
  const series: PlotSeries[] = [
    curve('fgd (4.77% unallocated)', saturating(95.2), { band }),
    curve('best-fit (9.1% unallocated)', saturating(90.9)),
    curve('random <&> (12% unallocated)', (x) => (x === 60 ? NaN : Math.min(x, 88))),
    curve('fgd, published', saturating(95.5), { dashed: true }),
  ];
  const file = join(tmpdir(), 'tessera-allocation-plot-sample.svg');
  writeFileSync(file, allocationPlotSvg(series, { ...opts, diagonal: true, yRange: [0, 100] }));
  assert.ok(statSync(file).size > 0);
  t.diagnostic(`sample plot: ${file}`);
});
