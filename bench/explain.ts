/**
 * Benchmark: the memory `tessera explain`'s log holds on a large cluster. 10,000 pods are filtered
 * on a 5,000-node cluster and each walked past 1,000 nodes (a different run of names per pod, two
 * reasons), the worst a binpack burst gives. Measured twice on a collected heap: the
 * explanations as one node → reason object per pod (what the log kept before 2026-12-07), and
 * `ExplanationLog` as it keeps them (names grouped under their reason, at most 4 million reasons).
 *
 *   npm run bench -- explain
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { ExplanationLog, type FilterExplanation } from '../src/scheduler/explain.js';

const NODES = 5000;
const PODS = 10_000;
const WALKED_PAST = 1000;
const REASONS = ['1/8 CardInsufficientCore, 7/8 CardInsufficientMemory', '8/8 CardInsufficientCore'];

const names = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(4, '0')}`);

function explanation(pod: number): FilterExplanation {
  const start = (pod * 37) % (NODES - WALKED_PAST);
  // As Filter builds it: the engine's map of node → reason, made an object.
  const failed = new Map<string, string>();
  for (let n = 0; n < WALKED_PAST; n++) failed.set(names[start + n] ?? '', REASONS[(n + pod) % 2] ?? '');
  const failedNodes = Object.fromEntries(failed);
  return { at: '2026-12-07T08:00:00.000Z', outcome: 'placed', node: 'node-4999', score: 1, fits: 1, candidates: NODES, failedNodes };
}

// A full collection before each reading, without asking for node --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap MiB that `fill` leaves reachable (through what it returns). */
function heldMiB(fill: () => unknown): { mib: number; kept: unknown } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = fill();
  gc();
  return { mib: +((process.memoryUsage().heapUsed - before) / 1048576).toFixed(1), kept };
}

export function main(): Promise<void> {
  const objectsMiB = heldMiB(() => Array.from({ length: PODS }, (_, p) => explanation(p))).mib;
  const log = new ExplanationLog();
  const asKept = heldMiB(() => {
    for (let p = 0; p < PODS; p++) log.filtered('default', `pod-${String(p)}`, explanation(p));
    return log;
  });
  const result = {
    benchmark: 'explain',
    setup: { nodes: NODES, pods: PODS, walkedPastPerPod: WALKED_PAST },
    asObjects: { pods: PODS, heapMiB: objectsMiB },
    explanationLog: { pods: log.size, heapMiB: asKept.mib },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return Promise.resolve();
}
