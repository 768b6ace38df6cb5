/**
 * Turns per-seed results into what `tessera simulate` prints: per trace and policy the mean ± sd
 * over seeds of the unallocated GPU at 100% arrival, the allocation and fragmentation curves, the
 * failures by kind, and (when given) the published figures side by side; for the online replay,
 * sharing against whole-GPU allocation. A JSON document and a plain-text table carry the same
 * numbers.
 */
import type { JobResult } from './jobs.js';
import { CURVE_POINTS, type Summary, summarize } from './metrics.js';
import type { OnlineResult } from './online.js';
import type { PolicyInfo } from './policies/policy.js';
import { type PublishedRun, publishedUnallocated } from './reference-results.js';
import type { RunResult, UnallocatedBreakdown } from './replay.js';
import { TASK_KINDS, type TaskKind } from './trace.js';

export interface CurveSummary {
  readonly mean: readonly number[];
  readonly median: readonly number[];
  readonly min: readonly number[];
  readonly max: readonly number[];
}

export interface Published {
  readonly label: string;
  readonly unallocated: Summary;
  /** (ours − published mean) / published sd. */
  readonly z: number;
  readonly withinTwoSd: boolean;
  /** The published A(x), mean over seeds, for plots. */
  readonly allocation: readonly number[];
}

export interface PolicyReport {
  readonly policy: string;
  readonly family: PolicyInfo['family'];
  readonly unallocated: Summary;
  readonly allocation: CurveSummary;
  readonly fragmentation: CurveSummary;
  readonly fragmentationRatio: CurveSummary;
  /** Mean failed tasks per run by kind, over the tasks arriving up to 100% of capacity and over all. */
  readonly failedTo100: Readonly<Record<TaskKind, number>>;
  readonly failed: Readonly<Record<TaskKind, number>>;
  /** Mean over seeds of each part of the unallocated GPU once the tasks arriving by 100% are in. */
  readonly at100: Readonly<Record<keyof UnallocatedBreakdown, Summary>>;
  readonly tasksPerRun: number;
  readonly secondsPerRun: number;
  readonly runs: readonly { readonly seed: number; readonly unallocated: number; readonly at100: UnallocatedBreakdown; readonly seconds: number }[];
  readonly published: Published | null;
}

export interface OnlineReport {
  readonly policy: string;
  readonly family: PolicyInfo['family'];
  readonly sharing: OnlineSummary;
  readonly exclusive: OnlineSummary;
}

export interface OnlineSummary {
  readonly meanAllocatedPercent: Summary;
  readonly meanUsefulPercent: Summary;
  readonly peakAllocatedPercent: Summary;
  readonly meanRunning: Summary;
  readonly waited: Summary;
  readonly meanWait: Summary;
  readonly p95Wait: Summary;
  readonly maxWait: Summary;
  readonly maxQueue: Summary;
  readonly neverFits: Summary;
}

export interface TraceReport {
  readonly name: string;
  readonly nodes: string;
  readonly tasks: string;
  readonly policies: readonly PolicyReport[];
  readonly online: readonly OnlineReport[];
}

function curveSummary(curves: readonly (readonly number[])[]): CurveSummary {
  const at = Array.from({ length: CURVE_POINTS }, (_, x) => summarize(curves.map((c) => c[x] ?? NaN)));
  return { mean: at.map((s) => s.mean), median: at.map((s) => s.median), min: at.map((s) => s.min), max: at.map((s) => s.max) };
}

const BREAKDOWN_PARTS: readonly (keyof UnallocatedBreakdown)[] = ['unallocated', 'idle', 'slivers', 'floor', 'bestPacking', 'floorAllPlaced'];

/** Each part's summary over the runs (a null floorAllPlaced, shares beyond the cluster, counts as NaN: left out). */
function breakdownSummary(runs: readonly RunResult[]): Record<keyof UnallocatedBreakdown, Summary> {
  return Object.fromEntries(BREAKDOWN_PARTS.map((part) => [part, summarize(runs.map((r) => r.at100[part] ?? NaN))])) as Record<keyof UnallocatedBreakdown, Summary>;
}

function meanByKind(runs: readonly RunResult[], pick: (r: RunResult) => Readonly<Record<TaskKind, { tasks: number }>>): Record<TaskKind, number> {
  return Object.fromEntries(TASK_KINDS.map((k) => [k, summarize(runs.map((r) => pick(r)[k].tasks)).mean])) as Record<TaskKind, number>;
}

export function policyReport(info: PolicyInfo, runs: readonly RunResult[], published: { runs: readonly PublishedRun[]; workload: string; tune: number } | null): PolicyReport {
  const unallocated = summarize(runs.map((r) => r.unallocatedAt100));
  let pub: Published | null = null;
  if (published && info.publishedAs) {
    const s = publishedUnallocated(published.runs, published.workload, info.publishedAs, published.tune);
    if (s) {
      const z = s.sd > 0 ? (unallocated.mean - s.mean) / s.sd : unallocated.mean === s.mean ? 0 : Infinity;
      const matching = published.runs.filter((r) => r.workload === published.workload && r.policy === info.publishedAs && Math.abs(r.tune - published.tune) < 1e-9);
      pub = {
        label: info.publishedAs,
        unallocated: s,
        z,
        withinTwoSd: Math.abs(z) <= 2,
        allocation: curveSummary(matching.map((r) => r.curve)).mean,
      };
    }
  }
  return {
    policy: info.name,
    family: info.family,
    unallocated,
    allocation: curveSummary(runs.map((r) => r.curves.allocation)),
    fragmentation: curveSummary(runs.map((r) => r.curves.fragmentation)),
    fragmentationRatio: curveSummary(runs.map((r) => r.curves.fragmentationRatio)),
    failedTo100: meanByKind(runs, (r) => r.failuresTo100),
    failed: meanByKind(runs, (r) => r.failures),
    at100: breakdownSummary(runs),
    tasksPerRun: summarize(runs.map((r) => r.tasks)).mean,
    secondsPerRun: summarize(runs.map((r) => r.seconds)).mean,
    runs: runs.map((r) => ({ seed: r.seed, unallocated: r.unallocatedAt100, at100: r.at100, seconds: r.seconds })),
    published: pub,
  };
}

function onlineSummary(runs: readonly OnlineResult[]): OnlineSummary {
  const s = (f: (r: OnlineResult) => number): Summary => summarize(runs.map(f));
  return {
    meanAllocatedPercent: s((r) => r.meanAllocatedPercent),
    meanUsefulPercent: s((r) => r.meanUsefulPercent),
    peakAllocatedPercent: s((r) => r.peakAllocatedPercent),
    meanRunning: s((r) => r.meanRunning),
    waited: s((r) => r.waited),
    meanWait: s((r) => r.wait.mean),
    p95Wait: s((r) => r.wait.p95),
    maxWait: s((r) => r.wait.max),
    maxQueue: s((r) => r.maxQueue),
    neverFits: s((r) => r.neverFits),
  };
}

export function onlineReport(info: PolicyInfo, results: readonly JobResult[]): OnlineReport {
  const online = results.flatMap((r) => ('online' in r ? [r.online] : []));
  return {
    policy: info.name,
    family: info.family,
    sharing: onlineSummary(online.filter((r) => r.mode === 'sharing')),
    exclusive: onlineSummary(online.filter((r) => r.mode === 'exclusive')),
  };
}

const fixed = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

/** The plain-text report of one trace. */
export function formatTrace(t: TraceReport, seeds: number): string {
  const out: string[] = [`${t.name}  (nodes: ${t.nodes}; tasks: ${t.tasks}; ${String(seeds)} seed${seeds === 1 ? '' : 's'})`];
  if (t.policies.length > 0) {
    const hasPublished = t.policies.some((p) => p.published);
    const head = ['policy', 'unallocated % (mean ± sd)', 'min–max'];
    if (hasPublished) head.push('published', 'z', 'within 2 sd');
    head.push('frag % @100', 'frag ratio % @100', 's/run');
    const rows = [head];
    for (const p of t.policies) {
      const row = [p.policy, `${fixed(p.unallocated.mean)} ± ${fixed(p.unallocated.sd)}`, `${fixed(p.unallocated.min)}–${fixed(p.unallocated.max)}`];
      if (hasPublished) {
        row.push(
          p.published ? `${fixed(p.published.unallocated.mean)} ± ${fixed(p.published.unallocated.sd)}` : '—',
          p.published ? fixed(p.published.z, 1) : '—',
          p.published ? (p.published.withinTwoSd ? 'yes' : 'NO') : '—',
        );
      }
      row.push(fixed(p.fragmentation.mean[100] ?? NaN), fixed(p.fragmentationRatio.mean[100] ?? NaN, 1), fixed(p.secondsPerRun, 1));
      rows.push(row);
    }
    out.push('', table(rows));
    const xs = [50, 70, 80, 85, 90, 92, 95, 100, 110, 120, 130];
    out.push('', 'GPU allocation A(x), % of capacity, mean over seeds, at arrived demand x % of capacity:');
    out.push(table([['policy', ...xs.map((x) => `x=${String(x)}`)], ...t.policies.map((p) => [p.policy, ...xs.map((x) => fixed(p.allocation.mean[x] ?? NaN))])]));
    out.push('', 'Failed tasks per run (mean), arriving up to 100% of capacity / over the whole run:');
    out.push(
      table([
        ['policy', ...TASK_KINDS],
        ...t.policies.map((p) => [p.policy, ...TASK_KINDS.map((k) => `${fixed(p.failedTo100[k], 1)} / ${fixed(p.failed[k], 1)}`)]),
      ]),
    );
    out.push(
      '',
      'Unallocated GPU once the tasks arriving by 100% are in, % of capacity (mean over seeds): idle GPUs + slivers',
      'left on shared GPUs. The packing floor is the least the shares placed by then leave however they are packed',
      '(a range where no packing found meets the bound); slivers above it are what the placement lost:',
    );
    out.push(
      table([
        ['policy', 'unallocated', 'idle GPUs', 'slivers', 'packing floor', 'packing loss'],
        ...t.policies.map((p) => {
          const { unallocated, idle, slivers, floor, bestPacking } = p.at100;
          const range = bestPacking.mean - floor.mean >= 0.005 ? `${fixed(floor.mean)}–${fixed(bestPacking.mean)}` : fixed(floor.mean);
          return [p.policy, fixed(unallocated.mean), fixed(idle.mean), fixed(slivers.mean), range, fixed(Math.max(0, slivers.mean - floor.mean))];
        }),
      ]),
    );
    const all = t.policies[0]?.at100.floorAllPlaced;
    if (all) {
      out.push(
        all.n > 0
          ? `Had every share arriving by 100% been placed, no packing would leave less than ${fixed(all.mean)}% (a policy that drops shares can).`
          : 'The shares arriving by 100% alone need more GPUs than the cluster has.',
      );
    }
  }
  if (t.online.length > 0) {
    out.push('', 'Online replay (arrive at creation_time, leave after the task lifetime; waiting tasks queue):');
    const rows = [['policy', 'mode', 'GPU allocated %', 'GPU useful %', 'tasks running', 'tasks waited', 'mean wait s', 'p95 wait s', 'max queue']];
    for (const o of t.online) {
      for (const [mode, s] of [
        ['sharing', o.sharing],
        ['whole GPUs', o.exclusive],
      ] as const) {
        rows.push([
          o.policy,
          mode,
          fixed(s.meanAllocatedPercent.mean),
          fixed(s.meanUsefulPercent.mean),
          fixed(s.meanRunning.mean, 1),
          fixed(s.waited.mean, 0),
          fixed(s.meanWait.mean, 0),
          fixed(s.p95Wait.mean, 0),
          fixed(s.maxQueue.mean, 0),
        ]);
      }
    }
    out.push(table(rows));
    for (const o of t.online) {
      const held = o.exclusive.meanAllocatedPercent.mean / o.sharing.meanAllocatedPercent.mean;
      const waits =
        o.exclusive.waited.mean + o.sharing.waited.mean > 0
          ? ` Tasks that waited: ${fixed(o.sharing.waited.mean, 0)} with sharing, ${fixed(o.exclusive.waited.mean, 0)} with whole GPUs (mean wait ${fixed(o.sharing.meanWait.mean, 0)} s against ${fixed(o.exclusive.meanWait.mean, 0)} s).`
          : ' No task waited in either mode: raise --speedup to load the cluster.';
      out.push(
        `  ${o.policy}: the same tasks hold ${fixed(o.exclusive.meanAllocatedPercent.mean)}% of the GPUs as whole GPUs and ${fixed(o.sharing.meanAllocatedPercent.mean)}% shared: sharing fits ${fixed(held, 2)}× the work in the same cluster.${waits}`,
      );
    }
  }
  return out.join('\n');
}
