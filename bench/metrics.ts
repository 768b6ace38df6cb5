/**
 * Benchmark: rendering the scheduler's `/metrics` for a cluster of 1,000 nodes × 8 GPUs holding
 * 8,000 shares (one per GPU on average), the size the dashboard issue sets. Each scrape writes
 * every family from the cache (device, share and quota series), as Prometheus would trigger it:
 * on a cluster at rest, after 200 pods on 100 nodes changed, and with nothing kept from earlier
 * scrapes. Target: ≤ 100 ms per scrape.
 *
 *   npm run bench -- metrics
 */
import { get } from 'node:http';
import { createHistogram, performance } from 'node:perf_hooks';

import { ClusterState } from '../src/core/placement/cluster.js';
import { gpu } from '../src/core/testing/builders.js';
import { AllocationText, allocationSamples, renderAllocation, SchedulerMetrics, startMetricsServer } from '../src/scheduler/metrics.js';
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
  const server = await startMetricsServer(metrics, { port: 0 });
  const text = await metrics.scrape(); // warm-up, and the size
  const bytes = Buffer.byteLength(text);
  const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  /** One scrape over HTTP as Prometheus makes it: request to the last byte received (and dropped). */
  const scrape = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      get(server.url, (response) => {
        response.on('data', () => {});
        response.on('end', () => resolve(performance.now() - t0));
      }).on('error', reject);
    });
  await scrape(); // warm-up of the HTTP path
  const histogram = createHistogram();
  for (let i = 0; i < SCRAPES; i++) histogram.record(Math.max(1, Math.round((await scrape()) * 1000)));
  // Between two scrapes (15-30 s) some pods come and go: 200 of them on 100 nodes here, so those
  // nodes' series are written again and the rest reused.
  const churn = createHistogram();
  for (let i = 0; i < SCRAPES; i++) {
    for (let k = 0; k < 100; k++) {
      const name = `node-${String((i * 100 + k) % NODES).padStart(4, '0')}`;
      cache.forget(`uid-${name}-0`);
      cache.assume(`uid-${name}-0`, name, [[{ id: `GPU-${name}-0`, vendor: 'NVIDIA', memoryMiB: 3000 + i, cores: 30 }]], 0, 'team-0', `pod-${name}-0`);
    }
    churn.record(Math.max(1, Math.round((await scrape()) * 1000)));
  }
  // Nothing kept: every series written from scratch (the first scrape after a restart).
  const cold = createHistogram();
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    new AllocationText().render({ cache, quotas: () => [], quotaResources: [] });
    cold.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
  }
  // The reference path, for comparison: a sample object per series, then the text.
  const computing = createHistogram();
  const writing = createHistogram();
  for (let i = 0; i < 10; i++) {
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
    what: `scheduler GET /metrics over loopback HTTP, ${NODES} nodes × ${GPUS} GPUs, ${NODES * GPUS} shares`,
    series,
    bytes,
    scrapes: SCRAPES,
    p50Ms: ms(histogram.percentile(50)),
    p99Ms: ms(histogram.percentile(99)),
    maxMs: ms(histogram.max),
    afterChurnP50Ms: ms(churn.percentile(50)),
    afterChurnP99Ms: ms(churn.percentile(99)),
    coldAllocationTextP50Ms: ms(cold.percentile(50)),
    referencePathP50Ms: { computeSamples: ms(computing.percentile(50)), writeText: ms(writing.percentile(50)) },
    target: { p99Ms: TARGET_MS },
    met: ms(histogram.percentile(99)) <= TARGET_MS && ms(churn.percentile(99)) <= TARGET_MS,
  };
  await server.close();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
