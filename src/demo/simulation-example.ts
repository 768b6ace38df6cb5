/**
 * The simulation part of `tessera tour`: the built-in example cluster fills with a seeded synthetic
 * workload (shaped like Alibaba's openb GPU-sharing trace) under a few policies, by the FGD
 * paper's method — how much of the GPU is allocated when the demand that arrived equals the
 * cluster's capacity. No trace file is needed; `tessera simulate --nodes … --pods …` runs the real
 * trace.
 */
import type { JobResult } from '../sim/jobs.js';
import { policyByName } from '../sim/policies/index.js';
import { formatTrace, policyReport } from '../sim/report.js';
import { runStudy } from '../sim/study.js';

export const DEMO_POLICIES = ['best-fit', 'fgd', 'binpack', 'fragmentation'] as const;
export const DEMO_SEEDS = [1, 2, 3, 4, 5];

export async function runSimulationExample(): Promise<string> {
  const specs = [{ kind: 'synthetic' as const, options: { seed: 1 } }];
  const jobs = DEMO_POLICIES.flatMap((policy) => DEMO_SEEDS.map((seed) => ({ trace: 0, policy, seed, mode: 'one-shot' as const, tune: 1.3, speedup: 1 })));
  const results: JobResult[] = await runStudy(specs, jobs, { workers: 1 });
  const policies = DEMO_POLICIES.map((name) =>
    policyReport(
      policyByName(name),
      results.flatMap((r) => ('run' in r && r.job.policy === name ? [r.run] : [])),
      null,
    ),
  );
  const table = formatTrace({ name: 'simulation', nodes: 'built-in example cluster (48 nodes, 272 GPUs)', tasks: 'synthetic openb-like workload, inflated to 1.3× capacity', policies, online: [] }, DEMO_SEEDS.length);
  return `${table}\n\n(tessera simulate --help: the same on real traces, more policies, plots, the online replay)`;
}
