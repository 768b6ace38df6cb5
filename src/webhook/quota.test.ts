/**
 * GPU quota arithmetic: what a pod is charged, what a namespace's pods hold, and the verdict
 * against each ResourceQuota.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_DEVICE_CONFIG, parseDeviceConfig } from '../config/device-config.js';
import { vendorsFromConfig } from '../config/vendors.js';
import type { PodLike } from '../core/pod.js';
import { podRequest } from '../core/request.js';
import { pod } from '../core/testing/builders.js';
import {
  checkQuota,
  grantsQuotaCharge,
  namespaceQuotaUsage,
  podQuotaCharge,
  quotaResourcesFromConfig,
  type QuotaAmounts,
  type QuotaState,
  type ResourceQuotaLike,
} from './quota.js';

const resources = quotaResourcesFromConfig(DEFAULT_DEVICE_CONFIG);
const vendors = vendorsFromConfig(DEFAULT_DEVICE_CONFIG);
const MEM = 'nvidia.com/gpumem';
const CORES = 'nvidia.com/gpucores';

test('the quota resources come from the device config', () => {
  assert.deepEqual(resources, [
    {
      vendor: 'NVIDIA',
      memoryResource: MEM,
      coreResource: CORES,
      memoryFactor: 1,
      allocatedAnnotation: 'hami.io/vgpu-devices-allocated',
    },
  ]);
  const renamed = quotaResourcesFromConfig(parseDeviceConfig('nvidia:\n  resourceMemoryName: example.com/vram\n  memoryFactor: 1024\n'));
  assert.equal(renamed[0]?.memoryResource, 'example.com/vram');
  assert.equal(renamed[0]?.memoryFactor, 1024);
  assert.deepEqual(quotaResourcesFromConfig(parseDeviceConfig('cambricon: {}\n')), []);
});

test("a pod's charge: MiB × devices and cores × devices, init containers collapsed", () => {
  const cases = [
    { name: 'one share', pod: pod().gpu(1).mem(3000).cores(30), want: { [MEM]: 3000, [CORES]: 30 } },
    { name: 'per device × devices', pod: pod().gpu(2).mem(1500).cores(25), want: { [MEM]: 3000, [CORES]: 50 } },
    { name: 'a bare GPU: whole compute, memory unknown before placement', pod: pod().gpu(1), want: { [MEM]: 0, [CORES]: 100 } },
    { name: 'a percentage: 0 MiB before placement', pod: pod().gpu(1).memPercent(40).cores(10), want: { [MEM]: 0, [CORES]: 10 } },
    { name: 'app containers add up', pod: pod().gpu(1).mem(1000).cores(10).container('b').gpu(1).mem(2000).cores(20), want: { [MEM]: 3000, [CORES]: 30 } },
    {
      name: 'the biggest init container when larger, term by term',
      pod: pod().gpu(1).mem(3000).cores(30).initContainer('warm').gpu(1).mem(4000).cores(10).initContainer('small').gpu(1).mem(100).cores(5),
      want: { [MEM]: 4000, [CORES]: 30 },
    },
    { name: 'no GPU', pod: pod().resource('cpu', 1), want: { [MEM]: 0, [CORES]: 0 } },
  ];
  for (const c of cases) {
    assert.deepEqual(podQuotaCharge(podRequest(c.pod.build(), vendors), resources), c.want, c.name);
  }
  const factor = parseDeviceConfig('nvidia:\n  memoryFactor: 1024\n');
  assert.deepEqual(
    podQuotaCharge(podRequest(pod().gpu(2).mem(4).build(), vendorsFromConfig(factor)), quotaResourcesFromConfig(factor)),
    { [MEM]: 8192, [CORES]: 0 },
    'memoryFactor applies to the request',
  );
});

test('what a namespace holds, from its pods\' allocation annotations', () => {
  const withGrants = (name: string, allocated: string | undefined, initContainers = 0): PodLike => ({
    metadata: { name, namespace: 'team', ...(allocated === undefined ? {} : { annotations: { 'hami.io/vgpu-devices-allocated': allocated } }) },
    spec: {
      initContainers: Array.from({ length: initContainers }, (_, i) => ({ name: `init${i}` })),
      containers: [{ name: 'main' }],
    },
  });
  const { used, unreadable } = namespaceQuotaUsage(
    [
      withGrants('a', 'GPU-a,NVIDIA,3000,30:;'),
      withGrants('b', 'GPU-a,NVIDIA,1000,10:GPU-b,NVIDIA,1000,10:;'),
      // init 5000/10, app 2000/40: holds 5000 MiB and 40 %.
      withGrants('c', 'GPU-a,NVIDIA,5000,10:;GPU-b,NVIDIA,2000,40:;', 1),
      withGrants('not-yet-placed', undefined),
      withGrants('served', ';'),
      withGrants('garbled', 'GPU-a,NVIDIA,lots,30:;'),
      withGrants('other-vendor', 'MLU-a,MLU,9999,99:;'),
    ],
    resources,
  );
  assert.deepEqual(used, { [MEM]: 3000 + 2000 + 5000, [CORES]: 30 + 20 + 40 });
  assert.equal(unreadable.length, 1);
  assert.equal(unreadable[0]?.pod, 'team/garbled');
  assert.match(unreadable[0]?.message ?? '', /hami.io\/vgpu-devices-allocated\[0\]\[0\]\.usedmem/);

  assert.deepEqual(
    grantsQuotaCharge([[{ id: 'GPU-a', vendor: 'NVIDIA', memoryMiB: 100, cores: 100 }], [], [{ id: 'GPU-b', vendor: 'NVIDIA', memoryMiB: 50, cores: 5 }]], 2, resources),
    { [MEM]: 100, [CORES]: 100 },
    'an init container bigger than the app containers',
  );
});

test('the verdict against each ResourceQuota', () => {
  const q = (name: string, hard: Record<string, string | number>): ResourceQuotaLike => ({ metadata: { name }, spec: { hard } });
  const cases: {
    name: string;
    charge: QuotaAmounts;
    state: QuotaState;
    want: null | { quota: string; key: string; requested: number; used: number; hard: number };
  }[] = [
    { name: 'no quotas', charge: { [MEM]: 1e9 }, state: { quotas: [], used: {} }, want: null },
    {
      name: 'exactly at the limit fits',
      charge: { [MEM]: 2000, [CORES]: 50 },
      state: { quotas: [q('gpu', { 'limits.nvidia.com/gpumem': '10000', 'limits.nvidia.com/gpucores': 100 })], used: { [MEM]: 8000, [CORES]: 50 } },
      want: null,
    },
    {
      name: 'one MiB over',
      charge: { [MEM]: 2001 },
      state: { quotas: [q('gpu', { 'limits.nvidia.com/gpumem': '10000' })], used: { [MEM]: 8000 } },
      want: { quota: 'gpu', key: 'limits.nvidia.com/gpumem', requested: 2001, used: 8000, hard: 10000 },
    },
    {
      name: 'each quota on its own: the second one refuses',
      charge: { [CORES]: 60 },
      state: { quotas: [q('loose', { 'limits.nvidia.com/gpucores': '1000' }), q('tight', { 'limits.nvidia.com/gpucores': '100' })], used: { [CORES]: 50 } },
      want: { quota: 'tight', key: 'limits.nvidia.com/gpucores', requested: 60, used: 50, hard: 100 },
    },
    {
      name: 'a resource not charged never refuses, even over quota',
      charge: { [MEM]: 0, [CORES]: 10 },
      state: { quotas: [q('gpu', { 'limits.nvidia.com/gpumem': '100' })], used: { [MEM]: 5000 } },
      want: null,
    },
    {
      name: 'hard 0 refuses any charge',
      charge: { [CORES]: 1 },
      state: { quotas: [q('none', { 'limits.nvidia.com/gpucores': '0' })], used: {} },
      want: { quota: 'none', key: 'limits.nvidia.com/gpucores', requested: 1, used: 0, hard: 0 },
    },
    {
      name: 'quantity suffixes are read',
      charge: { [MEM]: 2000 },
      state: { quotas: [q('gpu', { 'limits.nvidia.com/gpumem': '1k' })], used: {} },
      want: { quota: 'gpu', key: 'limits.nvidia.com/gpumem', requested: 2000, used: 0, hard: 1000 },
    },
    {
      name: 'a hard value that is not a whole number is skipped, as HAMi skips it',
      charge: { [MEM]: 2000 },
      state: { quotas: [q('gpu', { 'limits.nvidia.com/gpumem': '1.5' })], used: {} },
      want: null,
    },
    {
      name: 'other keys are not ours (requests.nvidia.com/gpu is the quota controller\'s)',
      charge: { [MEM]: 2000 },
      state: { quotas: [q('gpu', { 'requests.nvidia.com/gpumem': '1', 'requests.nvidia.com/gpu': '1', 'limits.cpu': '1' })], used: {} },
      want: null,
    },
  ];
  for (const c of cases) {
    const verdict = checkQuota(c.charge, c.state, resources, 'team');
    if (c.want === null) {
      assert.deepEqual(verdict, { fits: true }, c.name);
      continue;
    }
    assert.equal(verdict.fits, false, c.name);
    if (verdict.fits) continue;
    const { quota, key, requested, used, hard } = verdict;
    assert.deepEqual({ quota, key, requested, used, hard }, c.want, c.name);
    for (const part of [`"${c.want.quota}"`, 'namespace "team"', c.want.key, `requested ${c.want.requested}`, `used ${c.want.used}`, `hard ${c.want.hard}`]) {
      assert.ok(verdict.message.includes(part), `${c.name}: ${verdict.message} should mention ${part}`);
    }
  }
});
