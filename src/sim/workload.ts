/**
 * The arrival sequence of a one-shot replay, by the FGD paper's method: tasks sorted by name and
 * shuffled by the seed, then inflated to `tune` × the cluster's GPU capacity by appending tasks
 * drawn with replacement from the original trace (or deflated by removing random tasks when the
 * trace asks for more). The reference simulator's quirk is kept: the inflation stops before a
 * draw whose *per-GPU* share would cross the target, so multi-GPU draws can overshoot slightly.
 */
import type { Rng } from './rng.js';
import { type TraceTask, taskMilli } from './trace.js';

export interface Arrivals {
  readonly tasks: readonly TraceTask[];
  /** Σ GPU request of the sequence, milli-GPU. */
  readonly requestedMilli: number;
}

function byName(a: TraceTask, b: TraceTask): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function arrivalSequence(trace: readonly TraceTask[], capacityMilli: number, tune: number, rng: Rng): Arrivals {
  const original = [...trace].sort(byName);
  const tasks = rng.shuffle([...original]);
  let requested = tasks.reduce((sum, t) => sum + taskMilli(t), 0);
  const target = tune * capacityMilli;
  // A trace without GPU tasks cannot be scaled by its GPU request: it is replayed as it is.
  const hasGpuTasks = original.some((t) => taskMilli(t) > 0);
  if (tune <= 0 || requested === target || !hasGpuTasks) return { tasks, requestedMilli: requested };
  if (requested > target) {
    while (requested > target && tasks.length > 0) {
      const [removed] = tasks.splice(rng.int(tasks.length), 1);
      if (removed) requested -= taskMilli(removed);
    }
    return { tasks, requestedMilli: requested };
  }
  for (;;) {
    const drawn = original[rng.int(original.length)];
    if (!drawn || requested + drawn.gpuMilli > target) break;
    requested += taskMilli(drawn);
    tasks.push(drawn);
  }
  return { tasks, requestedMilli: requested };
}
