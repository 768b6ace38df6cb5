import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULT_DEVICE_CONFIG } from '../config/device-config.js';
import type { DeviceGrant } from '../core/device.js';
import { ClusterState } from '../core/placement/cluster.js';
import { gpu, node } from '../core/testing/builders.js';
import { quotaResourcesFromConfig, type QuotaResources, type ResourceQuotaLike } from '../webhook/quota.js';
import { filterResult } from './extender-wire.js';
import {
  AllocationText,
  allocationSamples,
  filterFailureReasons,
  filterSucceeded,
  MIB,
  quotaSamples,
  reasonTokens,
  renderAllocation,
  type Sample,
  SchedulerMetrics,
  startMetricsServer,
} from './metrics.js';
import { SchedulerCache } from './scheduler-cache.js';

const A100 = 'NVIDIA-NVIDIA A100-SXM4-80GB';
const T4 = 'NVIDIA-Tesla T4';
const RESOURCES = quotaResourcesFromConfig(DEFAULT_DEVICE_CONFIG);

function share(id: string, memoryMiB: number, cores: number): DeviceGrant {
  return { id, vendor: 'NVIDIA', memoryMiB, cores };
}

/**
 * Two nodes of two GPUs and three pods:
 * - team-a/train: container 0 3000 MiB/30 % on n1-0; container 1 2000/20 on n1-0 and 4000/50 on n1-1.
 * - team-b/infer: 15360/100 on n2-1 (the whole T4).
 * - team-a/prep: an init container 8000/50 on n1-1, then an app container 1000/10 on n1-1
 *   (charged at the peak: 8000/50, one task).
 */
function cluster(): SchedulerCache {
  const cache = new SchedulerCache(new ClusterState(), () => {});
  cache.cluster.setNode(node('n1', [gpu('GPU-n1-0'), gpu('GPU-n1-1')]));
  cache.cluster.setNode(node('n2', [gpu('GPU-n2-0', { type: T4, memoryMiB: 15360 }), gpu('GPU-n2-1', { type: T4, memoryMiB: 15360 })]));
  cache.assume('uid-train', 'n1', [[share('GPU-n1-0', 3000, 30)], [share('GPU-n1-0', 2000, 20), share('GPU-n1-1', 4000, 50)]], 0, 'team-a', 'train');
  cache.assume('uid-infer', 'n2', [[share('GPU-n2-1', 15360, 100)]], 0, 'team-b', 'infer');
  cache.assume('uid-prep', 'n1', [[share('GPU-n1-1', 8000, 50)], [share('GPU-n1-1', 1000, 10)]], 1, 'team-a', 'prep');
  return cache;
}

/** Samples as `label=value,… → value` lines, sorted, for exact comparison. */
function lines(samples: readonly Sample[]): string[] {
  return samples.map((s) => `${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')} → ${String(s.value)}`).sort();
}

describe('allocationSamples: devices', () => {
  const samples = allocationSamples({ cache: cluster(), quotas: () => [], quotaResources: RESOURCES });
  const dev = (n: string, i: number, type = A100): string => `node=${n},device_uuid=GPU-${n}-${String(i)},device_index=${String(i)},device_type=${type}`;

  const cases: { name: keyof typeof samples; want: string[] }[] = [
    {
      name: 'hami_gpu_memory_limit_bytes',
      want: [`${dev('n1', 0)} → ${String(81920 * MIB)}`, `${dev('n1', 1)} → ${String(81920 * MIB)}`, `${dev('n2', 0, T4)} → ${String(15360 * MIB)}`, `${dev('n2', 1, T4)} → ${String(15360 * MIB)}`],
    },
    { name: 'hami_gpu_core_limit_ratio', want: [`${dev('n1', 0)} → 100`, `${dev('n1', 1)} → 100`, `${dev('n2', 0, T4)} → 100`, `${dev('n2', 1, T4)} → 100`] },
    {
      name: 'hami_gpu_memory_allocated_bytes',
      want: [
        `node=n1,device_uuid=GPU-n1-0,device_index=0,device_cores=100,device_type=${A100} → 5242880000`,
        `node=n1,device_uuid=GPU-n1-1,device_index=1,device_cores=100,device_type=${A100} → 12582912000`,
        `node=n2,device_uuid=GPU-n2-0,device_index=0,device_cores=100,device_type=${T4} → 0`,
        `node=n2,device_uuid=GPU-n2-1,device_index=1,device_cores=100,device_type=${T4} → 16106127360`,
      ],
    },
    { name: 'hami_gpu_shared_count', want: [`${dev('n1', 0)} → 2`, `${dev('n1', 1)} → 2`, `${dev('n2', 0, T4)} → 0`, `${dev('n2', 1, T4)} → 1`] },
    { name: 'hami_gpu_core_allocated_ratio', want: [`${dev('n1', 0)} → 50`, `${dev('n1', 1)} → 100`, `${dev('n2', 0, T4)} → 0`, `${dev('n2', 1, T4)} → 100`] },
    {
      name: 'hami_node_gpu_overview',
      want: [
        `node=n1,device_uuid=GPU-n1-0,device_index=0,device_cores=100,device_memory_limit=81920,device_type=${A100} → 5242880000`,
        `node=n1,device_uuid=GPU-n1-1,device_index=1,device_cores=100,device_memory_limit=81920,device_type=${A100} → 12582912000`,
        `node=n2,device_uuid=GPU-n2-0,device_index=0,device_cores=100,device_memory_limit=15360,device_type=${T4} → 0`,
        `node=n2,device_uuid=GPU-n2-1,device_index=1,device_cores=100,device_memory_limit=15360,device_type=${T4} → 16106127360`,
      ],
    },
    {
      name: 'hami_node_gpu_memory_allocated_ratio',
      want: [`${dev('n1', 0)} → ${String(5000 / 81920)}`, `${dev('n1', 1)} → ${String(12000 / 81920)}`, `${dev('n2', 0, T4)} → 0`, `${dev('n2', 1, T4)} → 1`],
    },
  ];
  for (const { name, want } of cases) test(name, () => assert.deepEqual(lines(samples[name]), want.sort()));

  test('no quota samples without ResourceQuotas', () => {
    assert.deepEqual([samples.hami_resource_quota_used, samples.hami_resource_quota_limit], [[], []]);
  });
});

describe('allocationSamples: shares', () => {
  const samples = allocationSamples({ cache: cluster(), quotas: () => [], quotaResources: RESOURCES });
  const at = (ns: string, n: string, pod: string, c: number, uuid: string): string => `namespace=${ns},node=${n},pod=${pod},container_index=${String(c)},device_uuid=${uuid}`;

  test('hami_vgpu_memory_allocated_bytes: one series per device of each container, init containers first', () => {
    assert.deepEqual(
      lines(samples.hami_vgpu_memory_allocated_bytes),
      [
        `${at('team-a', 'n1', 'train', 0, 'GPU-n1-0')} → ${String(3000 * MIB)}`,
        `${at('team-a', 'n1', 'train', 1, 'GPU-n1-0')} → ${String(2000 * MIB)}`,
        `${at('team-a', 'n1', 'train', 1, 'GPU-n1-1')} → ${String(4000 * MIB)}`,
        `${at('team-b', 'n2', 'infer', 0, 'GPU-n2-1')} → ${String(15360 * MIB)}`,
        `${at('team-a', 'n1', 'prep', 0, 'GPU-n1-1')} → ${String(8000 * MIB)}`,
        `${at('team-a', 'n1', 'prep', 1, 'GPU-n1-1')} → ${String(1000 * MIB)}`,
      ].sort(),
    );
  });

  test('hami_vgpu_core_allocated_ratio: percent of one device', () => {
    assert.deepEqual(
      lines(samples.hami_vgpu_core_allocated_ratio),
      [
        `${at('team-a', 'n1', 'train', 0, 'GPU-n1-0')} → 30`,
        `${at('team-a', 'n1', 'train', 1, 'GPU-n1-0')} → 20`,
        `${at('team-a', 'n1', 'train', 1, 'GPU-n1-1')} → 50`,
        `${at('team-b', 'n2', 'infer', 0, 'GPU-n2-1')} → 100`,
        `${at('team-a', 'n1', 'prep', 0, 'GPU-n1-1')} → 50`,
        `${at('team-a', 'n1', 'prep', 1, 'GPU-n1-1')} → 10`,
      ].sort(),
    );
  });

  test('a pod without a name is labelled with its cache key', () => {
    const cache = cluster();
    cache.assume('uid-anon', 'n2', [[share('GPU-n2-0', 100, 0)]], 0);
    const s = allocationSamples({ cache, quotas: () => [], quotaResources: RESOURCES });
    assert.ok(lines(s.hami_vgpu_memory_allocated_bytes).includes(`${at('default', 'n2', 'uid-anon', 0, 'GPU-n2-0')} → ${String(100 * MIB)}`));
  });
});

test('AllocationText writes what renderAllocation writes from the samples, also as the cache changes', () => {
  const cache = cluster();
  cache.cluster.setNode(node('n3 "quoted"\\', [gpu('GPU-n3-0', { memoryMiB: 0, type: 'odd\ntype' })]));
  cache.assume('uid-anon', 'n2', [[share('GPU-n2-0', 100, 0)], [share('', 5, 5)]], 0);
  const quotas: ResourceQuotaLike[] = [{ metadata: { name: 'q', namespace: 'team-a' }, spec: { hard: { 'limits.nvidia.com/gpumem': '30000' } } }];
  const source = { cache, quotas: () => quotas, quotaResources: RESOURCES };
  const text = new AllocationText();
  const same = (when: string): void => assert.equal(text.render(source), renderAllocation(allocationSamples(source)), when);
  same('first scrape');
  same('second scrape, from the kept label text');
  cache.assume('uid-train', 'n1', [[share('GPU-n1-1', 1000, 5)]], 0, 'team-a', 'train-2');
  cache.forget('uid-infer');
  cache.cluster.setNode(node('n2', [gpu('GPU-n2-0', { type: T4, memoryMiB: 16384, cores: 200 })]));
  same('after a pod changed, one left and a node was re-registered');
});

describe('quota samples', () => {
  const quota = (namespace: string, name: string, hard: Record<string, string>): ResourceQuotaLike => ({ metadata: { name, namespace }, spec: { hard } });

  test('used and limit per namespace and GPU resource; the smallest limit of several quotas; unreadable limits skipped', () => {
    const quotas = [
      quota('team-a', 'big', { 'limits.nvidia.com/gpumem': '20000', 'limits.nvidia.com/gpucores': '200', 'requests.nvidia.com/gpu': '4' }),
      quota('team-a', 'small', { 'limits.nvidia.com/gpumem': '10000' }),
      quota('team-b', 'gpu', { 'limits.nvidia.com/gpucores': '100', 'limits.nvidia.com/gpumem': '1.5' }),
      quota('team-c', 'cpu', { 'limits.cpu': '4' }),
    ];
    const samples = allocationSamples({ cache: cluster(), quotas: () => quotas, quotaResources: RESOURCES });
    // team-a holds train (3000 + 2000 + 4000 MiB, 30 + 20 + 50 %) and prep (its init peak, 8000 MiB and 50 %).
    assert.deepEqual(lines(samples.hami_resource_quota_used), [
      'namespace=team-a,quota_name=nvidia.com/gpucores,limit=200 → 150',
      'namespace=team-a,quota_name=nvidia.com/gpumem,limit=10000 → 17000',
      'namespace=team-b,quota_name=nvidia.com/gpucores,limit=100 → 100',
    ]);
    assert.deepEqual(lines(samples.hami_resource_quota_limit), [
      'namespace=team-a,quota_name=nvidia.com/gpucores → 200',
      'namespace=team-a,quota_name=nvidia.com/gpumem → 10000',
      'namespace=team-b,quota_name=nvidia.com/gpucores → 100',
    ]);
  });

  test('a memory limit is scaled by memoryFactor, as the Filter compares it', () => {
    const resources: QuotaResources[] = [{ ...(RESOURCES[0] as QuotaResources), memoryFactor: 1024 }];
    const s = quotaSamples([quota('ns', 'q', { 'limits.nvidia.com/gpumem': '8' })], resources, () => ({ 'nvidia.com/gpumem': 4096 }));
    assert.deepEqual(lines(s.hami_resource_quota_used), ['namespace=ns,quota_name=nvidia.com/gpumem,limit=8192 → 4096']);
    assert.deepEqual(lines(s.hami_resource_quota_limit), ['namespace=ns,quota_name=nvidia.com/gpumem → 8192']);
  });
});

describe('filter failure reasons', () => {
  const cases: { input: string; want: string[] }[] = [
    { input: '2/2 CardInsufficientMemory', want: ['CardInsufficientMemory'] },
    { input: '1/4 CardInsufficientMemory, 3/4 CardTypeMismatch', want: ['CardInsufficientMemory', 'CardTypeMismatch'] },
    { input: 'node unregistered', want: ['NodeUnregistered'] },
    { input: 'Insufficient cpu', want: ['InsufficientCpu'] },
    { input: 'NodeInsufficientDevice', want: ['NodeInsufficientDevice'] },
    { input: "ResourceQuotaNotFit (exceeding resource quota: ResourceQuota 'gpu', 1, 2)", want: ['ResourceQuotaNotFit'] },
    { input: '', want: ['Unknown'] },
  ];
  for (const { input, want } of cases) test(`reasonTokens(${JSON.stringify(input)})`, () => assert.deepEqual(reasonTokens(input), want));

  test('a failed answer is counted once per distinct reason; Error and no candidates have their own', () => {
    const failed = filterResult({ FailedNodes: { a: '2/2 CardInsufficientMemory', b: '2/2 CardInsufficientMemory', c: 'node unregistered' } });
    assert.equal(filterSucceeded(failed), false);
    assert.deepEqual(filterFailureReasons(failed), ['CardInsufficientMemory', 'NodeUnregistered']);
    assert.deepEqual(filterFailureReasons(filterResult({ Error: 'bad quantity' })), ['Error']);
    assert.deepEqual(filterFailureReasons(filterResult({ FailedNodes: {} })), ['NoNodes']);
    assert.equal(filterSucceeded(filterResult({ NodeNames: ['a'], FailedNodes: { b: '1/1 CardInsufficientCore' } })), true);
  });
});

describe('SchedulerMetrics', () => {
  test('one exposition: allocation families with zone="vGPU", build info, readiness, latencies and failure counts', async () => {
    const cache = cluster();
    const metrics = new SchedulerMetrics({ cache, quotas: () => [], quotaResources: RESOURCES, ready: () => true, version: '9.9.9' });
    const filter = metrics.instrumentFilter(async (ok: boolean) =>
      ok ? filterResult({ NodeNames: ['n1'] }) : filterResult({ FailedNodes: { n1: '2/2 CardInsufficientMemory', n9: 'node unregistered' } }),
    );
    await filter(true);
    await filter(false);
    await filter(false);
    const bind = metrics.instrumentBind(async () => {
      throw new Error('boom');
    });
    await assert.rejects(bind(undefined), /boom/);

    const text = await metrics.scrape();
    assert.match(text, /^hami_gpu_memory_allocated_bytes\{node="n1",device_uuid="GPU-n1-0",device_index="0",device_cores="100",device_type="NVIDIA-NVIDIA A100-SXM4-80GB",zone="vGPU"\} 5242880000$/m);
    assert.match(text, /^hami_vgpu_memory_allocated_bytes\{namespace="team-b",node="n2",pod="infer",container_index="0",device_uuid="GPU-n2-1",zone="vGPU"\} 16106127360$/m);
    assert.match(text, new RegExp(`^hami_build_info\\{version="9\\.9\\.9",platform="${process.platform}/${process.arch}",node_version="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
    assert.match(text, /^tessera_scheduler_nodes 2$/m);
    assert.match(text, /^tessera_scheduler_ready 1$/m);
    assert.match(text, /^tessera_scheduler_filter_duration_seconds_count\{result="success"\} 1$/m);
    assert.match(text, /^tessera_scheduler_filter_duration_seconds_count\{result="failure"\} 2$/m);
    assert.match(text, /^tessera_scheduler_filter_failures_total\{reason="CardInsufficientMemory"\} 2$/m);
    assert.match(text, /^tessera_scheduler_filter_failures_total\{reason="NodeUnregistered"\} 2$/m);
    assert.match(text, /^tessera_scheduler_bind_duration_seconds_count\{result="failure"\} 1$/m);

    // Per scrape: a pod gone from the cache is gone from the next exposition.
    cache.forget('uid-infer');
    const again = await metrics.scrape();
    assert.doesNotMatch(again, /pod="infer"/);
    assert.match(again, /^hami_gpu_shared_count\{node="n2",device_uuid="GPU-n2-1",device_index="1",device_type="NVIDIA-Tesla T4",zone="vGPU"\} 0$/m);
  });

  test('a failure to compute the allocation families is reported and the rest still served', async () => {
    const errors: unknown[] = [];
    const metrics = new SchedulerMetrics({
      cache: cluster(),
      quotas: () => {
        throw new Error('informer gone');
      },
      quotaResources: RESOURCES,
      ready: () => false,
      onError: (e) => errors.push(e),
    });
    const text = await metrics.scrape();
    assert.match(text, /^tessera_scheduler_ready 0$/m);
    assert.doesNotMatch(text, /^hami_gpu_memory_limit_bytes\{/m);
    assert.equal(errors.length, 1);
  });

  test('the server answers GET /metrics with the registry content type, 404 elsewhere, 405 for other methods', async () => {
    const metrics = new SchedulerMetrics({ cache: cluster(), quotas: () => [], quotaResources: RESOURCES, ready: () => true });
    const server = await startMetricsServer(metrics, { port: 0 });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const ok = await fetch(server.url);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), metrics.contentType);
      assert.match(await ok.text(), /^hami_gpu_core_limit_ratio\{/m);
      assert.equal((await fetch(server.url.replace('/metrics', '/other'))).status, 404);
      assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });

  test('a route that throws answers 500 and the server keeps serving (the explain API and the dashboard share the port)', async () => {
    const metrics = new SchedulerMetrics({ cache: cluster(), quotas: () => [], quotaResources: RESOURCES, ready: () => true });
    const errors: unknown[] = [];
    const server = await startMetricsServer(metrics, {
      port: 0,
      onError: (error) => errors.push(error),
      routes: (request) => {
        if (request.url === '/boom') throw new Error('route bug');
        return false;
      },
    });
    try {
      const failed = await fetch(server.url.replace('/metrics', '/boom'));
      assert.equal(failed.status, 500);
      assert.match(await failed.text(), /route bug/);
      assert.equal(errors.length, 1);
      assert.equal((await fetch(server.url)).status, 200);
    } finally {
      await server.close();
    }
  });
});
