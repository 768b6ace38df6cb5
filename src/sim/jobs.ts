/**
 * One unit of simulation work — a trace, a policy, a seed and a mode — and how to run it. Shared by
 * the in-process runner and the worker threads, so both produce the same results.
 */
import { typicalTasks, type TypicalTask } from './fgd-fragmentation.js';
import { loadTrace, type TraceSpec } from './files.js';
import { type OnlineResult, replayOnline } from './online.js';
import { policyByName } from './policies/index.js';
import { replay, type RunResult } from './replay.js';
import type { Trace } from './trace.js';

export interface Job {
  readonly trace: number;
  readonly policy: string;
  readonly seed: number;
  readonly mode: 'one-shot' | 'online-sharing' | 'online-exclusive';
  readonly tune: number;
  readonly speedup: number;
}

export type JobResult = { readonly job: Job; readonly run: RunResult } | { readonly job: Job; readonly online: OnlineResult };

/** Loads each trace once and remembers FGD's typical tasks for it. */
export class TraceCache {
  private readonly loaded = new Map<number, { trace: Trace; typical: readonly TypicalTask[] }>();

  constructor(private readonly specs: readonly TraceSpec[]) {}

  get(index: number): { trace: Trace; typical: readonly TypicalTask[] } {
    let entry = this.loaded.get(index);
    if (!entry) {
      const spec = this.specs[index];
      if (!spec) throw new RangeError(`no trace number ${String(index)}`);
      const trace = loadTrace(spec);
      entry = { trace, typical: typicalTasks(trace.tasks) };
      this.loaded.set(index, entry);
    }
    return entry;
  }
}

export function runJob(cache: TraceCache, job: Job): JobResult {
  const { trace, typical } = cache.get(job.trace);
  const policy = policyByName(job.policy);
  if (job.mode === 'one-shot') return { job, run: replay(trace, policy, { seed: job.seed, tune: job.tune, typical }) };
  const online = replayOnline(trace, policy, { seed: job.seed, exclusive: job.mode === 'online-exclusive', speedup: job.speedup });
  return { job, online };
}
