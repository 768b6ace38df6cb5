/**
 * The FGD authors' published per-seed results (`analysis_allo_discrete.csv` and its
 * fragmentation siblings): one row per (workload, policy, tune, seed) with a value for each
 * arrived-demand percentage 0…130. Read to print a reproduction side by side with them.
 */
import { InputError } from '../core/errors.js';
import { CURVE_POINTS, type Summary, summarize } from './metrics.js';

export interface PublishedRun {
  /** Trace name as the file has it, e.g. `openb_pod_list_default`. */
  readonly workload: string;
  /** Policy label, e.g. `06-FGD`. */
  readonly policy: string;
  readonly tune: number;
  readonly seed: number;
  /** Value at each x = 0…130 (NaN where the file has none). */
  readonly curve: readonly number[];
}

export function parsePublishedResults(file: string, text: string): PublishedRun[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new InputError(file, 1, 'header', lines[0] ?? '', `lacks the column "${name}"`);
    return i;
  };
  const workload = col('workload');
  const policy = col('sc_policy');
  const tune = col('tune');
  const seed = col('seed');
  const points = Array.from({ length: CURVE_POINTS }, (_, x) => header.indexOf(String(x)));
  if (points[100] === -1) throw new InputError(file, 1, 'header', lines[0] ?? '', 'lacks the column "100"');
  const runs: PublishedRun[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const f = line.split(',');
    if (f.length !== header.length) {
      throw new InputError(file, i + 1, 'row', line.slice(0, 80), `has ${String(f.length)} fields; the header has ${String(header.length)}`);
    }
    const number = (index: number, name: string): number => {
      const raw = (f[index] ?? '').trim();
      const v = raw === '' ? NaN : Number(raw);
      if (raw !== '' && !Number.isFinite(v)) throw new InputError(file, i + 1, `column ${String(index + 1)} (${name})`, raw, 'is not a number');
      return v;
    };
    runs.push({
      workload: (f[workload] ?? '').trim(),
      policy: (f[policy] ?? '').trim(),
      tune: number(tune, 'tune'),
      seed: number(seed, 'seed'),
      curve: points.map((p, x) => (p < 0 ? NaN : number(p, String(x)))),
    });
  }
  if (runs.length === 0) throw new InputError(file, 2, 'rows', '', 'the file has no results');
  return runs;
}

/** Published unallocated GPU % (100 − A(100)) over seeds for one trace and policy label, or null when the file has none. */
export function publishedUnallocated(runs: readonly PublishedRun[], workload: string, policy: string, tune: number): Summary | null {
  const matching = runs.filter((r) => r.workload === workload && r.policy === policy && Math.abs(r.tune - tune) < 1e-9);
  if (matching.length === 0) return null;
  return summarize(matching.map((r) => 100 - (r.curve[100] ?? NaN)));
}

/** The trace name the published files use for a pod list path: its file name without `.csv`. */
export function workloadName(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/\.csv$/i, '');
}
