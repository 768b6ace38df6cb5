import { availableParallelism } from 'node:os';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, basename } from 'node:path';

import { InvalidArgumentError } from '@commander-js/extra-typings';

import { loadTrace, readInput, type TraceSpec, traceName } from '../../sim/files.js';
import type { Job, JobResult } from '../../sim/jobs.js';
import { allocationPlotSvg, type PlotSeries } from '../../sim/plot.js';
import { ALL_POLICIES, policyByName } from '../../sim/policies/index.js';
import { type PublishedRun, parsePublishedResults } from '../../sim/reference-results.js';
import { formatTrace, onlineReport, policyReport, type TraceReport } from '../../sim/report.js';
import { runStudy } from '../../sim/study.js';
import type { CommandFactory } from './index.js';

/** `42-51`, `42,45,50` or `7`. */
export function parseSeeds(value: string): number[] {
  const seeds: number[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$/.exec(part);
    if (!m?.[1]) throw new InvalidArgumentError(`'${value}' is not a seed list: write 42-51, 42,45 or 7.`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 9999) throw new InvalidArgumentError(`'${part.trim()}' is not a seed range from low to high (at most 10000 seeds).`);
    for (let s = from; s <= to; s++) seeds.push(s);
  }
  return [...new Set(seeds)];
}

function positive(what: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`'${value}' is not a ${what} between 0 (excluded) and ${String(max)}.`);
    return n;
  };
}

function tune(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 10) throw new InvalidArgumentError(`'${value}' is not a tune ratio between 0 (no scaling) and 10.`);
  return n;
}

function policyName(value: string, previous: string[] | undefined): string[] {
  try {
    policyByName(value);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
  return [...(previous ?? []), value];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Writes a file whole or not at all: a failed run leaves no partial output. */
function writeAtomically(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${String(process.pid)}.tmp`);
  writeFileSync(temp, text);
  renameSync(temp, path);
}

function plotPath(base: string, trace: string, several: boolean): string {
  if (!several) return base;
  const ext = extname(base) || '.svg';
  return `${base.slice(0, base.length - extname(base).length)}-${trace}${ext}`;
}

function plotFor(t: TraceReport): string {
  const series: PlotSeries[] = [];
  for (const p of t.policies) {
    series.push({
      label: `${p.policy} (${p.unallocated.mean.toFixed(2)}% unallocated)`,
      points: p.allocation.mean.map((y, x) => [x, y] as const),
      band: p.allocation.min.map((lo, x) => [x, lo, p.allocation.max[x] ?? lo] as const),
    });
    if (p.published) {
      series.push({
        label: `${p.policy}, published (${p.published.unallocated.mean.toFixed(2)}%)`,
        points: p.published.allocation.map((y, x) => [x, y] as const),
        dashed: true,
      });
    }
  }
  return allocationPlotSvg(series, {
    title: `GPU allocation as demand arrives — ${t.name}`,
    xLabel: 'arrived GPU demand (% of cluster GPU capacity)',
    yLabel: 'GPU allocated (% of capacity)',
    xRange: [0, 130],
    diagonal: true,
  });
}

export const simulateCommand: CommandFactory = (program) => {
  program
    .command('simulate')
    .description(
      'replay a cluster trace through the placement policies: GPU allocated as demand arrives, fragmentation and failed ' +
        'tasks (the FGD paper method), or an online replay comparing GPU sharing with whole-GPU allocation. Without ' +
        '--nodes/--pods it runs a synthetic workload on a built-in example cluster.',
    )
    .option('--nodes <csv>', 'node list (openb layout: sn,cpu_milli,memory_mib,gpu,model)')
    .option('--pods <csv>', 'task list (openb layout); repeat for several traces', collect)
    .option('--policy <name>', `placement policy; repeat to compare (${ALL_POLICIES.map((p) => p.name).join(', ')}); default all`, policyName)
    .option('--seeds <list>', 'seeds, e.g. 42-51 or 42,45', parseSeeds, parseSeeds('42-51'))
    .option('--tune <ratio>', 'scale the GPU request to this multiple of capacity (0: as is)', tune, 1.3)
    .option('--online', 'time-driven replay: tasks arrive at creation_time and leave after their lifetime; sharing vs whole GPUs')
    .option('--speedup <k>', 'online: compress arrival times by this factor to load the cluster', positive('speedup', 1e6), 1)
    .option('--synthetic-tasks <n>', 'synthetic workload size (default: about the example cluster GPU capacity)', positive('task count', 1e6))
    .option('--compare-reference <csv>', 'published per-seed results (analysis_allo_discrete.csv) to print side by side')
    .option('--plot <file.svg>', 'write the allocation curves as an SVG plot (one file per trace)')
    .option('--json', 'print the results as JSON instead of tables')
    .option('--workers <n>', 'worker threads (default: the available cores)', positive('worker count', 256), availableParallelism())
    .option('--quiet', 'no progress on stderr')
    .action(async (options) => {
      if ((options.nodes === undefined) !== (options.pods === undefined)) {
        throw new InvalidArgumentError('--nodes and --pods go together: give both, or neither for the synthetic example.');
      }
      const specs: TraceSpec[] =
        options.nodes && options.pods
          ? options.pods.map((pods) => ({ kind: 'files', nodes: options.nodes ?? '', pods }))
          : [
              {
                kind: 'synthetic',
                options: options.syntheticTasks === undefined ? { seed: 1 } : { seed: 1, tasks: Math.round(options.syntheticTasks) },
              },
            ];
      if (options.plot) {
        const dir = dirname(options.plot);
        if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
          throw new InvalidArgumentError(`--plot ${options.plot}: the folder ${dir} does not exist.`);
        }
      }
      // Every input is read and checked before any work starts: a bad file stops the run with
      // its line and column, and nothing is written.
      const traces = specs.map((s) => loadTrace(s));
      let published: PublishedRun[] | null = null;
      if (options.compareReference) {
        const path = options.compareReference;
        published = parsePublishedResults(path, readInput(path, 'published results'));
      }
      const policies = (options.policy ?? ALL_POLICIES.map((p) => p.name)).map((name) => policyByName(name));
      const modes: Job['mode'][] = options.online ? ['online-sharing', 'online-exclusive'] : ['one-shot'];
      const jobs: Job[] = [];
      specs.forEach((_, trace) => {
        for (const policy of policies) {
          for (const seed of options.seeds) for (const mode of modes) jobs.push({ trace, policy: policy.name, seed, mode, tune: options.tune, speedup: options.speedup });
        }
      });
      const started = performance.now();
      const names = specs.map((s) => traceName(s));
      const results = await runStudy(specs, jobs, {
        workers: Math.round(options.workers),
        onProgress: options.quiet
          ? undefined
          : (r: JobResult, done: number, total: number) => {
              const what = 'run' in r ? `${r.run.unallocatedAt100.toFixed(2)}% unallocated, ${r.run.seconds.toFixed(1)} s` : `${r.online.mode}, ${r.online.seconds.toFixed(1)} s`;
              process.stderr.write(`[${String(done)}/${String(total)}] ${names[r.job.trace] ?? ''} ${r.job.policy} seed ${String(r.job.seed)}: ${what}\n`);
            },
      });
      const reports: TraceReport[] = specs.map((spec, trace) => {
        const mine = results.filter((r) => r.job.trace === trace);
        const name = names[trace] ?? '';
        return {
          name,
          nodes: traces[trace]?.nodesSource ?? '',
          tasks: traces[trace]?.tasksSource ?? '',
          policies: options.online
            ? []
            : policies.map((p) =>
                policyReport(
                  p,
                  mine.flatMap((r) => ('run' in r && r.job.policy === p.name ? [r.run] : [])),
                  published ? { runs: published, workload: name, tune: options.tune } : null,
                ),
              ),
          online: options.online ? policies.map((p) => onlineReport(p, mine.filter((r) => r.job.policy === p.name))) : [],
        };
      });
      const seconds = (performance.now() - started) / 1000;
      if (options.plot && !options.online) {
        for (const t of reports) writeAtomically(plotPath(options.plot, t.name, reports.length > 1), plotFor(t));
      }
      if (options.json) {
        const document = { mode: options.online ? 'online' : 'one-shot', tune: options.tune, seeds: options.seeds, speedup: options.speedup, seconds, traces: reports };
        process.stdout.write(`${JSON.stringify(document, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      } else {
        process.stdout.write(`${reports.map((t) => formatTrace(t, options.seeds.length)).join('\n\n')}\n`);
      }
      if (!options.quiet) {
        process.stderr.write(`${String(jobs.length)} runs in ${seconds.toFixed(1)} s on ${String(Math.min(Math.round(options.workers), jobs.length))} worker(s)\n`);
      }
    });
};
