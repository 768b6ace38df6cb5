/**
 * The online (time-driven) replay: tasks arrive at their creation time, run for their lifetime
 * (deletion − creation) once started, then leave and free what they held. A task that does not
 * fit on arrival waits in a FIFO queue instead of being dropped, so the run measures what the
 * one-shot replay cannot: how much GPU the same cluster carries over time, and how long tasks wait
 * for it. Replayed twice, once with the tasks as written (`sharing`) and once with every GPU task
 * rounded up to whole GPUs (`exclusive`, what a cluster without GPU sharing gives), it shows how
 * much more useful work sharing lets the same cluster hold, and how much queueing it saves.
 *
 * Time-averaged quantities are integrated exactly (the state is piecewise constant between events)
 * over [first arrival, last arrival], the span in which the trace offers load; afterwards the
 * cluster only drains its queue. `speedup` compresses the arrival times only: lifetimes stay as
 * written, so arrivals come faster and the cluster carries more (dividing lifetimes too would
 * scale every time alike and change nothing but the clock). Waits are therefore in the trace's
 * own seconds. Pure computation: the caller reads the files and prints.
 */
import { FgdFragmentation, typicalTasks } from './fgd-fragmentation.js';
import { type Decision, SimCluster, type SimTask, TaskCompiler } from './model.js';
import type { PolicyInfo } from './policies/policy.js';
import { checkDecision, seededNodeOrder } from './replay.js';
import { Rng } from './rng.js';
import { MILLI, type Trace, type TraceTask, taskMilli } from './trace.js';

export interface OnlineOptions {
  /** Node tie order and policy randomness, as in replay(). */
  readonly seed: number;
  /** Round every GPU task up to whole GPUs (gpuMilli 1000, gpus unchanged). */
  readonly exclusive: boolean;
  /** Divide the arrival times by this (compress the trace to load the cluster); default 1. Must be > 0. */
  readonly speedup?: number;
}

export interface OnlineResult {
  readonly policy: string;
  readonly mode: 'sharing' | 'exclusive';
  readonly seed: number;
  readonly tasks: number;
  readonly capacityMilli: number;
  /** Time-averaged GPU allocated, % of capacity, over [first arrival, last arrival]; allocated = Σ milli held by running tasks (exclusive mode: whole GPUs). */
  readonly meanAllocatedPercent: number;
  /** Time-averaged GPU requested by running tasks in their original (unrounded) sizes, % of capacity, same span. Equals meanAllocatedPercent in sharing mode. */
  readonly meanUsefulPercent: number;
  /** Highest GPU allocated at any instant of the whole run, % of capacity. */
  readonly peakAllocatedPercent: number;
  /** Time-averaged number of tasks running, same span. */
  readonly meanRunning: number;
  /** Tasks that waited a positive time before starting. */
  readonly waited: number;
  /** Waits of those tasks in seconds (percentiles by nearest rank); zeros when none waited. */
  readonly wait: { readonly mean: number; readonly p50: number; readonly p95: number; readonly max: number };
  /** Longest the queue got. */
  readonly maxQueue: number;
  /** Tasks rejected at arrival because no node of the empty cluster could host them. */
  readonly neverFits: number;
  /** Tasks started by the end of the arrival span, % of all tasks. */
  readonly startedInSpanPercent: number;
  /** Wall-clock run time of the replay. */
  readonly seconds: number;
}

/** A binary min-heap ordered by `before`. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    let i = a.push(x) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as T;
      if (!this.before(x, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = x;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const c = l + 1 < a.length && this.before(a[l + 1] as T, a[l] as T) ? l + 1 : l;
      const child = a[c] as T;
      if (!this.before(child, last)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

interface Job {
  /** Position in the arrival order. */
  readonly index: number;
  readonly task: SimTask;
  readonly arrival: number;
  readonly lifetime: number;
  /** GPU the task asks for as written (before exclusive rounding), milli-GPU. */
  readonly useful: number;
  /** Tasks with equal keys fit exactly where each other fit. */
  readonly key: string;
}

interface Running {
  readonly end: number;
  /** Start order, to break ties among departures at the same instant. */
  readonly seq: number;
  readonly job: Job;
  readonly decision: Decision;
}

/** The waiting tasks of one key, in arrival order, from `head` on. */
interface KeyQueue {
  readonly jobs: Job[];
  head: number;
}

function byArrival(a: TraceTask, b: TraceTask): number {
  return (a.creation ?? 0) - (b.creation ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

export function replayOnline(trace: Trace, policy: PolicyInfo, options: OnlineOptions): OnlineResult {
  const started = performance.now();
  const speedup = options.speedup ?? 1;
  if (!(speedup > 0 && Number.isFinite(speedup))) throw new RangeError(`online replay: speedup must be a positive number, got ${String(speedup)}`);
  for (const t of trace.tasks) {
    if (t.creation === null || t.deletion === null) {
      throw new Error(
        `${trace.tasksSource}: the online replay needs the creation_time and deletion_time columns; task ${t.name} (line ${String(t.line)}) has no times`,
      );
    }
  }
  const capacity = trace.nodes.reduce((s, n) => s + n.gpus * MILLI, 0);
  if (capacity === 0) throw new Error(`${trace.nodesSource}: the cluster has no GPU`);
  const round = (t: TraceTask): TraceTask => (options.exclusive && t.gpus > 0 ? { ...t, gpuMilli: MILLI } : t);
  const sources = [...trace.tasks].sort(byArrival);
  const runTasks = sources.map(round);

  const rng = new Rng(options.seed);
  const cluster = new SimCluster(seededNodeOrder(trace.nodes, rng));
  // FGD's typical tasks describe the workload the cluster receives: the rounded one in exclusive mode.
  const typical = typicalTasks(runTasks);
  const fragmentation = new FgdFragmentation(cluster, typical);
  const placer = policy.create({ cluster, typical, fragmentation, rng });
  const compiler = new TaskCompiler(cluster.modelIds);
  const empty = new SimCluster(trace.nodes);
  const fitsEmpty = new Map<string, boolean>();

  const jobs: Job[] = runTasks.map((source, index) => {
    const task = compiler.compile(source);
    const original = sources[index] ?? source;
    const creation = original.creation ?? 0;
    return {
      index,
      task,
      arrival: creation / speedup,
      lifetime: (original.deletion ?? creation) - creation,
      useful: taskMilli(original),
      key: `${String(task.shape)}/${String(task.memory)}/${String(task.modelMask)}`,
    };
  });
  const spanStart = jobs[0]?.arrival ?? 0;
  const spanEnd = jobs[jobs.length - 1]?.arrival ?? 0;

  const departures = new MinHeap<Running>((a, b) => a.end < b.end || (a.end === b.end && a.seq < b.seq));
  const queues = new Map<string, KeyQueue>();
  let queued = 0;
  let maxQueue = 0;
  let neverFits = 0;
  let seq = 0;
  let running = 0;
  let useful = 0;
  let peak = 0;
  let startedInSpan = 0;
  const waits: number[] = [];
  let clock = spanStart;
  let allocatedArea = 0;
  let usefulArea = 0;
  let runningArea = 0;
  let atSpanEnd = { allocated: 0, useful: 0, running: 0 };

  /** Integrates the current state from the clock up to t (clipped to the arrival span). */
  const advance = (t: number): void => {
    const dt = Math.min(t, spanEnd) - Math.min(clock, spanEnd);
    if (dt > 0) {
      allocatedArea += cluster.allocatedMilli * dt;
      usefulArea += useful * dt;
      runningArea += running * dt;
    }
    clock = Math.max(clock, t);
  };

  const tryStart = (job: Job): boolean => {
    const d = placer.choose(job.task);
    if (!d) return false;
    checkDecision(cluster, job.task, d, policy.name);
    cluster.place(job.task, d);
    fragmentation.refresh(d.node);
    placer.placed(job.task, d);
    running++;
    useful += job.useful;
    peak = Math.max(peak, cluster.allocatedMilli);
    if (clock <= spanEnd) startedInSpan++;
    if (clock > job.arrival) waits.push(clock - job.arrival);
    departures.push({ end: clock + job.lifetime, seq: seq++, job, decision: d });
    return true;
  };

  /**
   * Retries the queue in arrival order after capacity was freed. Backfilling: a later task may
   * start before an earlier one that still does not fit. Once a task fails in a pass, every queued
   * task of the same key would fail too (the pass only takes capacity), so the pass considers only
   * the head of each key's queue, in arrival order, and drops a key at its first failure: the same
   * outcome as scanning the whole queue, at a cost set by the number of keys.
   */
  const retry = (): void => {
    if (queued === 0) return;
    const head = (q: KeyQueue): number => q.jobs[q.head]?.index ?? Infinity;
    const heads = new MinHeap<KeyQueue>((a, b) => head(a) < head(b));
    for (const q of queues.values()) heads.push(q);
    for (let q = heads.pop(); q; q = heads.pop()) {
      const job = q.jobs[q.head];
      if (!job || !tryStart(job)) continue;
      q.head++;
      queued--;
      if (q.head < q.jobs.length) heads.push(q);
      else queues.delete(job.key);
    }
  };

  const arrive = (job: Job): void => {
    let fits = fitsEmpty.get(job.key);
    if (fits === undefined) {
      fits = false;
      for (let n = 0; n < empty.size && !fits; n++) fits = empty.fits(n, job.task);
      fitsEmpty.set(job.key, fits);
    }
    if (!fits) {
      neverFits++;
      return;
    }
    // A task of a key already waiting would not fit either (nothing was freed since its last try).
    const q = queues.get(job.key);
    if (!q && tryStart(job)) return;
    if (q) q.jobs.push(job);
    else queues.set(job.key, { jobs: [job], head: 0 });
    maxQueue = Math.max(maxQueue, ++queued);
  };

  let next = 0;
  while (next < jobs.length || departures.size > 0) {
    const leaving = departures.peek();
    const job = jobs[next];
    // Departures first at equal times, so an arrival at that instant can use what they free.
    if (leaving && (!job || leaving.end <= job.arrival)) {
      advance(leaving.end);
      for (let r = departures.peek(); r && r.end === leaving.end; r = departures.peek()) {
        departures.pop();
        cluster.remove(r.job.task, r.decision);
        fragmentation.refresh(r.decision.node);
        placer.removed(r.job.task, r.decision);
        running--;
        useful -= r.job.useful;
      }
      retry();
    } else if (job) {
      advance(job.arrival);
      next++;
      arrive(job);
      if (next === jobs.length) atSpanEnd = { allocated: cluster.allocatedMilli, useful, running };
    }
  }
  if (queued > 0) throw new Error(`policy ${policy.name} left ${String(queued)} tasks queued on the empty cluster`);

  const span = spanEnd - spanStart;
  // A trace whose tasks all arrive at one instant has no span: report the state right after it.
  const mean = (area: number, instant: number): number => (span > 0 ? area / span : instant);
  const sorted = waits.sort((a, b) => a - b);
  return {
    policy: policy.name,
    mode: options.exclusive ? 'exclusive' : 'sharing',
    seed: options.seed,
    tasks: jobs.length,
    capacityMilli: capacity,
    meanAllocatedPercent: (100 * mean(allocatedArea, atSpanEnd.allocated)) / capacity,
    meanUsefulPercent: (100 * mean(usefulArea, atSpanEnd.useful)) / capacity,
    peakAllocatedPercent: (100 * peak) / capacity,
    meanRunning: mean(runningArea, atSpanEnd.running),
    waited: sorted.length,
    wait: {
      mean: sorted.length > 0 ? sorted.reduce((s, w) => s + w, 0) / sorted.length : 0,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      max: sorted[sorted.length - 1] ?? 0,
    },
    maxQueue,
    neverFits,
    startedInSpanPercent: jobs.length > 0 ? (100 * startedInSpan) / jobs.length : 0,
    seconds: (performance.now() - started) / 1000,
  };
}
