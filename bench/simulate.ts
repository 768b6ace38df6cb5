/**
 * Benchmarks of the cluster simulator (speed goals, never checked by tests):
 *
 *   npm run bench -- simulate        one FGD run and one Tessera fragmentation run on the openb
 *                                    default trace, in this process (one core). Goal: FGD ≤ 10 s.
 *                                    Also one fragmentation run on multigpu20, whose mix moves the
 *                                    policy's count-view weight (each move re-scores every node),
 *                                    and the packing floor of each trace's shares.
 *   npm run bench -- simulate-study  the six reference policies × every openb pod list × 10
 *                                    seeds on worker threads (all cores). Goal: < 30 min on 2.
 *
 * Both print the process's peak RSS (worker threads included).
 *
 * The trace is read from $TESSERA_OPENB (default ../shared/traces/alibaba-gpu-v2023, next to the
 * repository); it is research data and is never copied into the project. Without it the
 * benchmarks say so and stop.
 */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTrace, type TraceSpec } from '../src/sim/files.js';
import type { Job } from '../src/sim/jobs.js';
import { REFERENCE_POLICIES } from '../src/sim/policies/reference.js';
import { policyByName } from '../src/sim/policies/index.js';
import { addShare, packingFloor } from '../src/sim/packing-floor.js';
import { replay } from '../src/sim/replay.js';
import { runStudy } from '../src/sim/study.js';
import { MILLI } from '../src/sim/trace.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const openb = process.env.TESSERA_OPENB ?? join(root, '..', 'shared', 'traces', 'alibaba-gpu-v2023');
const csv = join(openb, 'csv');
const nodes = join(csv, 'openb_node_list_gpu_node.csv');

function traceAvailable(): boolean {
  if (existsSync(nodes)) return true;
  process.stdout.write(`${JSON.stringify({ benchmark: 'simulate', skipped: `no openb trace at ${openb} (set TESSERA_OPENB)` })}\n`);
  return false;
}

export function main(): Promise<void> {
  if (!traceAvailable()) return Promise.resolve();
  const cases = [
    { trace: 'default', policy: 'fgd' },
    { trace: 'default', policy: 'fragmentation' },
    { trace: 'multigpu20', policy: 'fragmentation' },
  ];
  const traces = new Map<string, ReturnType<typeof loadTrace>>();
  const runs = cases.map(({ trace: name, policy }) => {
    let trace = traces.get(name);
    if (!trace) {
      trace = loadTrace({ kind: 'files', nodes, pods: join(csv, `openb_pod_list_${name}.csv`) });
      traces.set(name, trace);
    }
    const started = performance.now();
    const r = replay(trace, policyByName(policy), { seed: 42, tune: 1.3 });
    return { trace: name, policy, seconds: (performance.now() - started) / 1000, tasks: r.tasks, unallocatedAt100: r.unallocatedAt100 };
  });
  // The packing floor a run reports twice (docs/simulator.md, "The packing floor"), over every
  // share of each trace: about as many as arrive by 100 % in a run.
  const floors = [...traces].map(([name, trace]) => {
    const shares = new Map<number, number>();
    for (const t of trace.tasks) if (t.gpuMilli > 0 && t.gpuMilli < MILLI) addShare(shares, t.gpuMilli, t.gpus);
    const started = performance.now();
    const floor = packingFloor(shares);
    return { trace: name, shareSizes: shares.size, milliseconds: Math.round(performance.now() - started), lowerBoundGpus: floor.lowerBoundGpus, packedGpus: floor.packedGpus };
  });
  const result = { benchmark: 'simulate', setup: 'openb traces, seed 42, tune 1.3, one core', runs, packingFloor: floors, goal: 'fgd ≤ 10 s', peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return Promise.resolve();
}

export async function study(): Promise<void> {
  if (!traceAvailable()) return;
  const specs: TraceSpec[] = readdirSync(csv)
    .filter((f) => f.startsWith('openb_pod_list_') && f.endsWith('.csv'))
    .sort()
    .map((f) => ({ kind: 'files', nodes, pods: join(csv, f) }));
  const jobs: Job[] = [];
  specs.forEach((_, trace) => {
    for (const p of REFERENCE_POLICIES) for (let seed = 42; seed <= 51; seed++) jobs.push({ trace, policy: p.name, seed, mode: 'one-shot', tune: 1.3, speedup: 1 });
  });
  const workers = availableParallelism();
  const started = performance.now();
  await runStudy(specs, jobs, { workers });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'simulate-study', traces: specs.length, policies: REFERENCE_POLICIES.length, seeds: 10, runs: jobs.length, workers, seconds: Math.round(seconds), goal: '< 1800 s on 2 cores', peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2)}\n`,
  );
}
