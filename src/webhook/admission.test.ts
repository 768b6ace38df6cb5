/**
 * The admission decision, table by table: what is patched (checked by applying the patch to the
 * pod and comparing with the pod we expect), what is left alone, what is refused and with which
 * message, and what is not an AdmissionReview at all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { JsonValue } from '../apiserver/json.js';
import { applyJsonPatch, parseJsonPatch } from '../apiserver/patch.js';
import { DEFAULT_DEVICE_CONFIG, parseDeviceConfig } from '../config/device-config.js';
import type { Vendor } from '../core/vendors/vendor.js';
import {
  admit,
  diffJsonPatch,
  namespaceLookupNeeded,
  parseAdmissionReview,
  type AdmissionOptions,
  type AdmissionResult,
  type JsonObject,
  type NamespaceContext,
  type ReviewError,
} from './admission.js';
import type { QuotaState } from './quota.js';

const options: AdmissionOptions = { config: DEFAULT_DEVICE_CONFIG };

type Limits = Record<string, string>;

/** A container as the API server hands it over: requests defaulted from limits. */
function ctr(name: string, limits: Limits = {}, extra: JsonObject = {}): JsonObject {
  const resources: JsonObject = Object.keys(limits).length > 0 ? { limits: { ...limits }, requests: { ...limits } } : {};
  return { name, image: 'nvcr.io/nvidia/cuda:12.4.0-base', resources, ...extra };
}

function pod(containers: JsonObject[], opts: { init?: JsonObject[]; spec?: JsonObject; metadata?: JsonObject } = {}): JsonObject {
  const spec: JsonObject = { schedulerName: 'default-scheduler', containers, ...opts.spec };
  if (opts.init) spec['initContainers'] = opts.init;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team', ...opts.metadata }, spec };
}

function review(object: JsonValue | undefined, req: JsonObject = {}, apiVersion = 'admission.k8s.io/v1'): JsonObject {
  const request: JsonObject = {
    uid: 'f0b4c8a2-1111-2222-3333-444455556666',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'team',
    operation: 'CREATE',
    ...req,
  };
  if (object !== undefined) request['object'] = object;
  return { apiVersion, kind: 'AdmissionReview', request };
}

function answered(outcome: AdmissionResult | ReviewError, what: string): AdmissionResult {
  if (!outcome.ok) assert.fail(`${what}: ${outcome.message}`);
  return outcome;
}

/** The pod after the answer's patch, decoded from base64 as the API server does. */
function patched(original: JsonObject, result: AdmissionResult): JsonValue {
  const text = result.review.response.patch;
  if (text === undefined) return original;
  return applyJsonPatch(original, parseJsonPatch(JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as JsonValue));
}

/** `edit` applied to a copy of `p`: the pod a case expects. */
function expect(p: JsonObject, edit: (copy: PodShape) => void): JsonObject {
  const copy = structuredClone(p) as unknown as PodShape;
  edit(copy);
  return copy as unknown as JsonObject;
}

interface ContainerShape {
  resources: { limits: Limits; requests: Limits };
  env?: { name: string; value: string }[];
}
interface PodShape {
  spec: { schedulerName?: string; runtimeClassName?: string; containers: ContainerShape[]; initContainers: ContainerShape[] };
}

/** Sets a resource in a container's limits and requests. */
function set(c: ContainerShape | undefined, name: string, value: string): void {
  assert.ok(c);
  c.resources.limits[name] = value;
  c.resources.requests[name] = value;
}

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const PCT = 'nvidia.com/gpumem-percentage';
const CORES = 'nvidia.com/gpucores';
const PRIORITY = 'nvidia.com/priority';

test('pods asking for GPUs are routed to hami-scheduler and get HAMi defaults', () => {
  const cases: { name: string; pod: JsonObject; want: (p: PodShape) => void; opts?: AdmissionOptions }[] = [
    {
      name: 'memory and cores: routed only',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '3000', [CORES]: '30' })]),
      want: (p) => (p.spec.schedulerName = 'hami-scheduler'),
    },
    {
      name: 'bare nvidia.com/gpu: the whole card, gpucores 100 (HAMi #1354)',
      pod: pod([ctr('main', { [GPU]: '2' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.containers[0], CORES, '100');
      },
    },
    {
      name: 'memory without a count: defaultGPUNum, no compute default',
      pod: pod([ctr('main', { [MEM]: '3000' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.containers[0], GPU, '1');
      },
    },
    {
      name: 'cores without a count: defaultGPUNum',
      pod: pod([ctr('main', { [CORES]: '50' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.containers[0], GPU, '1');
      },
    },
    {
      name: '100% memory without a count: a count, then the whole compute',
      pod: pod([ctr('main', { [PCT]: '100' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.containers[0], GPU, '1');
        set(p.spec.containers[0], CORES, '100');
      },
    },
    {
      name: 'a percentage below 100: a share, no compute default',
      pod: pod([ctr('main', { [GPU]: '1', [PCT]: '50' })]),
      want: (p) => (p.spec.schedulerName = 'hami-scheduler'),
    },
    {
      name: 'priority: CUDA_TASK_PRIORITY for HAMi-core',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '1000', [PRIORITY]: '1' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        const c = p.spec.containers[0];
        assert.ok(c);
        c.env = [{ name: 'CUDA_TASK_PRIORITY', value: '1' }];
      },
    },
    {
      name: 'init container asking: defaulted in place, the CPU container untouched',
      pod: pod([ctr('app')], { init: [ctr('warmup', { [GPU]: '1' })] }),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.initContainers[0], CORES, '100');
      },
    },
    {
      name: 'several containers, each defaulted on its own',
      pod: pod([ctr('a', { [MEM]: '2000' }), ctr('cpu'), ctr('b', { [GPU]: '1' })]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        set(p.spec.containers[0], GPU, '1');
        set(p.spec.containers[2], CORES, '100');
      },
    },
    {
      name: 'no schedulerName at all',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '1000' })], { spec: { schedulerName: '' } }),
      want: (p) => (p.spec.schedulerName = 'hami-scheduler'),
    },
    {
      name: 'limits only (no requests map): limits are set',
      pod: pod([{ name: 'main', resources: { limits: { [CORES]: '20' } } }]),
      want: (p) => {
        p.spec.schedulerName = 'hami-scheduler';
        const c = p.spec.containers[0];
        assert.ok(c);
        c.resources.limits[GPU] = '1';
      },
    },
    {
      name: 'a configured scheduler name',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '1000' })]),
      opts: { config: DEFAULT_DEVICE_CONFIG, schedulerName: 'tessera' },
      want: (p) => (p.spec.schedulerName = 'tessera'),
    },
  ];
  for (const c of cases) {
    const result = answered(admit(review(c.pod), c.opts ?? options), c.name);
    assert.equal(result.review.response.allowed, true, c.name);
    assert.equal(result.outcome, 'mutated', c.name);
    assert.equal(result.review.response.patchType, 'JSONPatch', c.name);
    assert.deepEqual(patched(c.pod, result), expect(c.pod, c.want), c.name);
  }
});

test('the answer is an AdmissionReview echoing uid and version', () => {
  const p = pod([ctr('main', { [GPU]: '1' })]);
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const result = answered(admit(review(p, { uid: 'abc' }, apiVersion), options), apiVersion);
    const { patch, ...rest } = result.review.response;
    assert.equal(result.review.apiVersion, apiVersion);
    assert.equal(result.review.kind, 'AdmissionReview');
    assert.deepEqual(rest, { uid: 'abc', allowed: true, patchType: 'JSONPatch' });
    assert.deepEqual(JSON.parse(Buffer.from(patch ?? '', 'base64').toString('utf8')), [
      { op: 'replace', path: '/spec/schedulerName', value: 'hami-scheduler' },
      { op: 'add', path: '/spec/containers/0/resources/limits/nvidia.com~1gpucores', value: '100' },
      { op: 'add', path: '/spec/containers/0/resources/requests/nvidia.com~1gpucores', value: '100' },
    ]);
    assert.equal(result.pod, 'team/p');
  }
});

test('pods that are not ours are allowed untouched', () => {
  const gpuPod = pod([ctr('main', { [GPU]: '1' })]);
  const cases: { name: string; body: JsonObject; ns?: NamespaceContext; opts?: AdmissionOptions; summary: RegExp }[] = [
    { name: 'no GPU', body: review(pod([ctr('web', { cpu: '1' })])), summary: /no managed resource/ },
    { name: 'nvidia.com/gpu: 0 alone asks for nothing', body: review(pod([ctr('main', { [GPU]: '0' })])), summary: /no managed resource/ },
    {
      name: 'pod labelled hami.io/webhook=ignore (even privileged with a nodeName)',
      body: review(
        pod([ctr('main', { [GPU]: '1' }, { securityContext: { privileged: true } })], {
          metadata: { labels: { 'hami.io/webhook': 'ignore' } },
          spec: { nodeName: 'node-a' },
        }),
      ),
      summary: /pod carries hami.io\/webhook=ignore/,
    },
    {
      name: 'namespace labelled hami.io/webhook=ignore',
      body: review(gpuPod),
      ns: { labels: { 'hami.io/webhook': 'ignore' } },
      summary: /namespace "team" carries/,
    },
    {
      name: 'another scheduler assigned',
      body: review(pod([ctr('main', { [GPU]: '1' })], { spec: { schedulerName: 'volcano' } })),
      summary: /different scheduler assigned \(spec.schedulerName="volcano"\)/,
    },
    {
      name: 'default-scheduler kept when force-overwrite is off',
      body: review(gpuPod),
      opts: { config: DEFAULT_DEVICE_CONFIG, forceOverwriteDefaultScheduler: false },
      summary: /different scheduler assigned/,
    },
    {
      name: 'already routed and complete',
      body: review(pod([ctr('main', { [GPU]: '1', [MEM]: '1000', [CORES]: '10' })], { spec: { schedulerName: 'hami-scheduler' } })),
      summary: /nothing to change/,
    },
    { name: 'UPDATE', body: review(gpuPod, { operation: 'UPDATE', oldObject: gpuPod }), summary: /operation UPDATE is not handled/ },
    { name: 'DELETE (no object)', body: review(undefined, { operation: 'DELETE', oldObject: gpuPod }), summary: /operation DELETE/ },
    {
      name: 'a subresource',
      body: review({ apiVersion: 'policy/v1', kind: 'Eviction' }, { subResource: 'eviction', kind: { group: 'policy', version: 'v1', kind: 'Eviction' } }),
      summary: /not a Pod/,
    },
  ];
  for (const c of cases) {
    const result = answered(admit(c.body, c.opts ?? options, c.ns), c.name);
    assert.equal(result.review.response.allowed, true, c.name);
    assert.equal(result.review.response.patch, undefined, c.name);
    assert.equal(result.review.response.patchType, undefined, c.name);
    assert.deepEqual(result.patch, [], c.name);
    assert.match(result.summary, c.summary, c.name);
  }
});

test('refusals name the container and the field', () => {
  const cases: { name: string; pod: JsonObject; code: number; reason: string; mentions: string[] }[] = [
    {
      name: 'a privileged sidecar in a GPU pod',
      pod: pod([ctr('main', { [GPU]: '1' }), ctr('sidecar', {}, { securityContext: { privileged: true } })]),
      code: 403,
      reason: 'Forbidden',
      mentions: ['container sidecar is privileged', 'spec.containers[1].securityContext.privileged=true'],
    },
    {
      name: 'a privileged init container',
      pod: pod([ctr('main', { [MEM]: '1000' })], { init: [ctr('setup', {}, { securityContext: { privileged: true } })] }),
      code: 403,
      reason: 'Forbidden',
      mentions: ['container setup is privileged', 'spec.initContainers[0].securityContext'],
    },
    {
      name: 'spec.nodeName preset',
      pod: pod([ctr('main', { [GPU]: '1' })], { spec: { nodeName: 'node-a' } }),
      code: 403,
      reason: 'Forbidden',
      mentions: ['pod has node assigned', 'spec.nodeName="node-a"', 'nodeSelector'],
    },
    {
      name: 'gpumem-percentage over 100',
      pod: pod([ctr('main', { [GPU]: '1', [PCT]: '150' })]),
      code: 422,
      reason: 'Invalid',
      mentions: ['container "main"', 'nvidia.com/gpumem-percentage="150"', 'between 0 and 100', 'spec.containers[0]'],
    },
    {
      name: 'gpucores over 100',
      pod: pod([ctr('cpu'), ctr('train', { [GPU]: '1', [CORES]: '101' })]),
      code: 422,
      reason: 'Invalid',
      mentions: ['container "train"', 'nvidia.com/gpucores="101"', 'spec.containers[1]'],
    },
    {
      name: 'a count of 0 with memory',
      pod: pod([ctr('main', { [GPU]: '0', [MEM]: '3000' })]),
      code: 422,
      reason: 'Invalid',
      mentions: ['container "main"', 'nvidia.com/gpu="0" must be at least 1', 'nvidia.com/gpumem is asked for'],
    },
    {
      name: 'a negative count',
      pod: pod([ctr('main', { [GPU]: '-1' })]),
      code: 422,
      reason: 'Invalid',
      mentions: ['container "main"', 'nvidia.com/gpu="-1"', 'negative'],
    },
    {
      name: 'a fractional count',
      pod: pod([ctr('main', { [GPU]: '1.5' })]),
      code: 422,
      reason: 'Invalid',
      mentions: ['nvidia.com/gpu="1.5"', 'not a whole number'],
    },
    {
      name: 'a bad value in an init container',
      pod: pod([ctr('app')], { init: [ctr('warmup', { [GPU]: '1', [PCT]: '101' })] }),
      code: 422,
      reason: 'Invalid',
      mentions: ['container "warmup"', 'nvidia.com/gpumem-percentage="101"', 'spec.initContainers[0]'],
    },
    {
      name: 'a policy annotation the scheduler would refuse',
      pod: pod([ctr('main', { [GPU]: '1' })], { metadata: { annotations: { 'hami.io/gpu-scheduler-policy': 'binpack,spread' } } }),
      code: 422,
      reason: 'Invalid',
      mentions: ['hami.io/gpu-scheduler-policy="binpack,spread"', 'both binpack and spread'],
    },
    {
      name: 'no containers',
      pod: pod([]),
      code: 422,
      reason: 'Invalid',
      mentions: ['pod has no containers', 'spec.containers'],
    },
  ];
  for (const c of cases) {
    const result = answered(admit(review(c.pod, { uid: 'u-1' }), options), c.name);
    const r = result.review.response;
    assert.equal(r.allowed, false, c.name);
    assert.equal(r.uid, 'u-1', c.name);
    assert.equal(r.patch, undefined, c.name);
    assert.equal(result.outcome, 'denied', c.name);
    assert.equal(r.status?.code, c.code, c.name);
    assert.equal(r.status?.reason, c.reason, c.name);
    for (const m of c.mentions) assert.ok(r.status?.message.includes(m), `${c.name}: ${r.status?.message ?? ''} should mention ${m}`);
  }
});

test('ResourceQuota limits.nvidia.com/gpumem and gpucores', () => {
  const quota = (hard: Limits, used: Record<string, number> = {}): QuotaState => ({
    quotas: [{ metadata: { name: 'gpu-quota', namespace: 'team' }, spec: { hard } }],
    used,
  });
  const cases: { name: string; pod: JsonObject; quota: QuotaState; allowed: boolean; mentions?: string[]; opts?: AdmissionOptions }[] = [
    {
      name: 'within the quota',
      pod: pod([ctr('main', { [GPU]: '2', [MEM]: '1500', [CORES]: '30' })]),
      quota: quota({ 'limits.nvidia.com/gpumem': '10000', 'limits.nvidia.com/gpucores': '100' }, { [MEM]: 7000, [CORES]: 40 }),
      allowed: true,
    },
    {
      name: 'memory over: count × MiB counted',
      pod: pod([ctr('main', { [GPU]: '2', [MEM]: '1500' })]),
      quota: quota({ 'limits.nvidia.com/gpumem': '10000' }, { [MEM]: 8000 }),
      allowed: false,
      mentions: ['exceeding resource quota', '"gpu-quota"', 'limits.nvidia.com/gpumem', 'requested 3000 MiB', 'used 8000 MiB', 'hard 10000 MiB'],
    },
    {
      name: 'compute over: a bare GPU holds 100%',
      pod: pod([ctr('main', { [GPU]: '1' })]),
      quota: quota({ 'limits.nvidia.com/gpucores': '150' }, { [CORES]: 60 }),
      allowed: false,
      mentions: ['limits.nvidia.com/gpucores', 'requested 100 %', 'used 60 %', 'hard 150 %'],
    },
    {
      name: 'hard 0 means none',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '1' })]),
      quota: quota({ 'limits.nvidia.com/gpumem': '0' }),
      allowed: false,
      mentions: ['hard 0 MiB'],
    },
    {
      name: 'a percentage is charged 0 MiB before placement',
      pod: pod([ctr('main', { [GPU]: '1', [PCT]: '50' })]),
      quota: quota({ 'limits.nvidia.com/gpumem': '0', 'limits.nvidia.com/gpucores': '0' }),
      allowed: true,
    },
    {
      name: 'init containers: the larger of the biggest init and the app sum',
      pod: pod([ctr('app', { [GPU]: '1', [MEM]: '3000', [CORES]: '30' })], { init: [ctr('warm', { [GPU]: '1', [MEM]: '4000', [CORES]: '10' })] }),
      quota: quota({ 'limits.nvidia.com/gpumem': '4000', 'limits.nvidia.com/gpucores': '30' }),
      allowed: true,
    },
    {
      name: 'memoryFactor scales the quota as it scales the request',
      pod: pod([ctr('main', { [GPU]: '1', [MEM]: '4' })]),
      quota: quota({ 'limits.nvidia.com/gpumem': '8' }, { [MEM]: 5000 }),
      opts: { config: parseDeviceConfig('nvidia:\n  memoryFactor: 1024\n') },
      allowed: false,
      mentions: ['requested 4096 MiB', 'used 5000 MiB', 'hard 8 × memoryFactor 1024 = 8192 MiB'],
    },
  ];
  for (const c of cases) {
    const result = answered(admit(review(c.pod), c.opts ?? options, { quota: c.quota }), c.name);
    const r = result.review.response;
    assert.equal(r.allowed, c.allowed, `${c.name}: ${r.status?.message ?? result.summary}`);
    if (!c.allowed) {
      assert.equal(r.status?.code, 403, c.name);
      assert.equal(r.status?.reason, 'Forbidden', c.name);
    }
    for (const m of c.mentions ?? []) assert.ok(r.status?.message.includes(m), `${c.name}: ${r.status?.message ?? ''} should mention ${m}`);
  }
});

test('device-config switches: gpuCorePolicy, runtimeClassName, overwriteEnv, resource names', () => {
  const config = parseDeviceConfig(
    [
      'nvidia:',
      '  resourceCountName: example.com/vgpu',
      '  gpuCorePolicy: force',
      '  runtimeClassName: nvidia',
      '  overwriteEnv: true',
    ].join('\n'),
  );
  const opts: AdmissionOptions = { config };
  const gpuPod = pod([ctr('train', { 'example.com/vgpu': '1', [MEM]: '2000' }), ctr('logs')]);
  const mutated = answered(admit(review(gpuPod), opts), 'gpu pod');
  assert.deepEqual(
    patched(gpuPod, mutated),
    expect(gpuPod, (p) => {
      p.spec.schedulerName = 'hami-scheduler';
      p.spec.runtimeClassName = 'nvidia';
      const [train, logs] = p.spec.containers;
      assert.ok(train && logs);
      train.env = [{ name: 'GPU_CORE_UTILIZATION_POLICY', value: 'force' }];
      logs.env = [{ name: 'NVIDIA_VISIBLE_DEVICES', value: 'none' }];
    }),
  );

  // overwriteEnv exists for containers without GPUs, so it patches pods HAMi does not route.
  const cpuPod = pod([ctr('web', {}, { env: [{ name: 'PORT', value: '80' }] })]);
  const hidden = answered(admit(review(cpuPod), opts), 'cpu pod');
  assert.equal(hidden.outcome, 'mutated');
  assert.deepEqual(hidden.patch, [{ op: 'add', path: '/spec/containers/0/env/1', value: { name: 'NVIDIA_VISIBLE_DEVICES', value: 'none' } }]);

  // The default resource name is not managed under this config.
  const other = answered(admit(review(pod([ctr('main', { [GPU]: '1' })])), { config, vendors: [] }), 'no vendors');
  assert.deepEqual(other.patch, [{ op: 'add', path: '/spec/containers/0/env', value: [{ name: 'NVIDIA_VISIBLE_DEVICES', value: 'none' }] }]);
});

test('admitting an admitted pod changes nothing (reinvocation)', () => {
  const p = pod([ctr('main', { [MEM]: '1000', [PRIORITY]: '0' }), ctr('side', { [GPU]: '1' })]);
  const first = answered(admit(review(p), options), 'first');
  const again = patched(p, first) as JsonObject;
  const second = answered(admit(review(again), options), 'second');
  assert.equal(second.review.response.allowed, true);
  assert.deepEqual(second.patch, []);
});

test('malformed AdmissionReviews are error values naming the field', () => {
  const good = pod([ctr('main', { [GPU]: '1' })]);
  const cases: { name: string; body: unknown; mentions: string }[] = [
    { name: 'an array', body: [], mentions: 'must be a JSON object, got an array' },
    { name: 'null', body: null, mentions: 'must be a JSON object' },
    { name: 'another apiVersion', body: { ...review(good), apiVersion: 'admission.k8s.io/v2' }, mentions: 'apiVersion' },
    { name: 'another kind', body: { ...review(good), kind: 'Pod' }, mentions: 'kind' },
    { name: 'no request', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, mentions: 'request' },
    { name: 'empty uid', body: review(good, { uid: '' }), mentions: 'request.uid' },
    { name: 'unknown operation', body: review(good, { operation: 'PATCH' }), mentions: 'request.operation' },
    { name: 'CREATE without object', body: review(undefined), mentions: 'request.object: must be the Pod' },
    { name: 'object without spec', body: review({ metadata: { name: 'p' } }), mentions: 'request.object.spec' },
    { name: 'containers not a list', body: review({ spec: { containers: {} } }), mentions: 'request.object.spec.containers' },
    { name: 'container name a number', body: review({ spec: { containers: [{ name: 7 }] } }), mentions: 'request.object.spec.containers[0].name: expected string, received number (got 7)' },
    { name: 'quantity an object', body: review(pod([{ name: 'm', resources: { limits: { [GPU]: { n: 1 } } } }])), mentions: 'limits["nvidia.com/gpu"]: expected a quantity' },
    { name: 'annotation a number', body: review({ metadata: { annotations: { 'hami.io/node-scheduler-policy': -1 } }, spec: {} }), mentions: 'request.object.metadata.annotations["hami.io/node-scheduler-policy"]: expected string, received number (got -1)' },
  ];
  for (const c of cases) {
    const outcome = admit(c.body, options);
    assert.equal(outcome.ok, false, c.name);
    if (outcome.ok) continue;
    assert.equal(outcome.code, 400, c.name);
    assert.ok(outcome.message.startsWith('malformed AdmissionReview: '), c.name);
    assert.ok(outcome.message.includes(c.mentions), `${c.name}: ${outcome.message} should mention ${c.mentions}`);
  }
});

test('the namespace is looked up only when the answer depends on it', () => {
  const cases: { name: string; body: JsonObject; opts?: AdmissionOptions; want: boolean }[] = [
    { name: 'GPU pod', body: review(pod([ctr('main', { [GPU]: '1' })])), want: true },
    { name: 'bad GPU value (the namespace may still ignore it)', body: review(pod([ctr('main', { [CORES]: '500' })])), want: true },
    { name: 'CPU pod', body: review(pod([ctr('main', { cpu: '1' })])), want: false },
    { name: 'pod ignored by its own label', body: review(pod([ctr('main', { [GPU]: '1' })], { metadata: { labels: { 'hami.io/webhook': 'ignore' } } })), want: false },
    { name: 'UPDATE', body: review(pod([ctr('main', { [GPU]: '1' })]), { operation: 'UPDATE' }), want: false },
    {
      name: 'CPU pod with overwriteEnv',
      body: review(pod([ctr('main')])),
      opts: { config: parseDeviceConfig('nvidia:\n  overwriteEnv: true\n') },
      want: true,
    },
  ];
  for (const c of cases) {
    const parsed = parseAdmissionReview(c.body);
    assert.ok(parsed.ok, c.name);
    assert.equal(namespaceLookupNeeded(parsed.request, c.opts ?? options), c.want, c.name);
  }
  const parsed = parseAdmissionReview(review(pod([ctr('main', { [GPU]: '1' })]), { namespace: '' }));
  assert.ok(parsed.ok);
  assert.equal(parsed.request.namespace, 'team', "the pod's namespace when the request names none");
});

test('a bug in a vendor module is not mistaken for a refusal', () => {
  const broken: Vendor = {
    name: 'BROKEN',
    containerAsk: () => {
      throw new TypeError('boom');
    },
    constraints: () => ({ useTypes: [], avoidTypes: [], useIds: [], avoidIds: [], numaBind: false, mode: null }),
    matches: () => null,
    grant: () => 'CardNotHealth',
    mayGrant: () => false,
  };
  assert.throws(() => admit(review(pod([ctr('main', { [GPU]: '1' })])), { config: DEFAULT_DEVICE_CONFIG, vendors: [broken] }), /boom/);
});

test('diffJsonPatch escapes keys and round-trips through RFC 6902', () => {
  const before: JsonObject = { a: { 'x/y': 1, 'c~d': [1, 2], gone: true }, list: [1, 2], same: 'v' };
  const after: JsonObject = { a: { 'x/y': 2, 'c~d': [1, 2, 3], added: null }, list: [3], same: 'v' };
  const ops = diffJsonPatch(before, after);
  assert.deepEqual(ops, [
    { op: 'remove', path: '/a/gone' },
    { op: 'replace', path: '/a/x~1y', value: 2 },
    { op: 'add', path: '/a/c~0d/2', value: 3 },
    { op: 'add', path: '/a/added', value: null },
    { op: 'replace', path: '/list', value: [3] },
  ]);
  assert.deepEqual(applyJsonPatch(before, parseJsonPatch(ops as unknown as JsonValue)), after);
});
