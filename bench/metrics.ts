/**
 * Benchmark: rendering the scheduler's `/metrics` for a cluster of 1,000 nodes × 8 GPUs holding
 * 8,000 shares (one per GPU on average), the size the dashboard issue sets. Each scrape computes
 * every family from the cache (device, share and quota series), as Prometheus would trigger it.
 * Target: ≤ 100 ms per scrape.
 *
 *   npm run bench -- metrics
 */
import { createHistogram, performance } from 'node:perf_hooks';

import { ClusterState } from '../src/core/placement/cluster.js';
import { gpu } from '../src/core/testing/builders.js';
import { allocationSamples, renderAllocation, SchedulerMetrics } from '../src/scheduler/metrics.js';
import { SchedulerCache } from '../src/scheduler/scheduler-cache.js';

const NODES = 1000;
const GPUS = 8;
const SCRAPES = 30;
const TARGET_MS = 100;

export async function main(): Promise<void> {
  const cache = new SchedulerCache(new ClusterState(), () => {});
  for (let n = 0; n < NODES; n++) {
    const name = `node-${String(n).padStart(4, '0')}`;
    const devices = Array.from({ length: GPUS }, (_, i) => gpu(`GPU-${name}-${i}`, { index: i, memoryMiB: 81920, splitCount: 10, type: 'NVIDIA-NVIDIA H100 80GB HBM3' }));
    cache.cluster.setNode({ name, devices, links: [], cordoned: new Set() });
    for (let i = 0; i < GPUS; i++) {
      cache.assume(`uid-${name}-${i}`, name, [[{ id: `GPU-${name}-${i}`, vendor: 'NVIDIA', memoryMiB: 3000, cores: 30 }]], 0, `team-${n % 20}`, `pod-${name}-${i}`);
    }
  }
  const metrics = new SchedulerMetrics({ cache, quotas: () => [], quotaResources: [], ready: () => true });
  const histogram = createHistogram();
  let bytes = 0;
  let series = 0;
  await metrics.scrape(); // warm-up
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const text = await metrics.scrape();
    histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    bytes = Buffer.byteLength(text);
    series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  }
  // Where a scrape's time goes: computing the samples from the cache, then writing them as text.
  const computing = createHistogram();
  const writing = createHistogram();
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const samples = allocationSamples({ cache, quotas: () => [], quotaResources: [] });
    const t1 = performance.now();
    renderAllocation(samples);
    computing.record(Math.max(1, Math.round((t1 - t0) * 1000)));
    writing.record(Math.max(1, Math.round((performance.now() - t1) * 1000)));
  }
  const ms = (us: number): number => Math.round(us / 10) / 100;
  const result = {
    benchmark: 'metrics',
    what: `scheduler /metrics render, ${NODES} nodes × ${GPUS} GPUs, ${NODES * GPUS} shares`,
    series,
    bytes,
    scrapes: SCRAPES,
    p50Ms: ms(histogram.percentile(50)),
    p99Ms: ms(histogram.percentile(99)),
    maxMs: ms(histogram.max),
    breakdownP50Ms: { computeSamples: ms(computing.percentile(50)), writeText: ms(writing.percentile(50)) },
    target: { p99Ms: TARGET_MS },
    met: ms(histogram.percentile(99)) <= TARGET_MS,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
