import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonObject } from './json.js';
import { CONFIG_MAPS, LEASES, NAMESPACES, NODES, PODS } from './kinds.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError } from './status.js';
import type { Change } from './storage.js';
import { Store } from './store.js';

const FIXED = new Date('2025-01-02T03:04:05.678Z');

function newStore(historyLimit = 1000): Store {
  return new Store({ historyLimit, now: () => FIXED });
}

function pod(name: string, extra: JsonObject = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...extra }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

function meta(object: JsonObject): Record<string, unknown> {
  return object['metadata'] as Record<string, unknown>;
}

function rv(object: JsonObject): number {
  return Number(meta(object)['resourceVersion']);
}

/** Asserts that `run` throws an ApiError with this code and reason. */
function rejects(run: () => unknown, code: number, reason: string, mentions = ''): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    assert.equal(e.httpCode, code, e.message);
    assert.equal(e.reason, reason, e.message);
    assert.ok(e.message.includes(mentions), `${JSON.stringify(e.message)} should mention ${JSON.stringify(mentions)}`);
    return true;
  });
}

test('resourceVersion: one counter across all kinds, strictly increasing with every write', () => {
  const store = newStore();
  const seen: number[] = [];
  store.subscribe((change) => seen.push(change.resourceVersion));
  const start = Number(store.resourceVersion);
  assert.equal(start, 4, 'the four initial namespaces took revisions 1-4');
  const versions = [
    rv(store.create(PODS, 'default', pod('a'))),
    rv(store.create(NODES, '', { metadata: { name: 'n1' } })),
    rv(store.create(CONFIG_MAPS, 'default', { metadata: { name: 'c' }, data: { k: 'v' } })),
    rv(store.patch(PODS, 'default', 'a', 'merge', { metadata: { labels: { x: 'y' } } })),
    rv(store.create(LEASES, 'kube-system', { metadata: { name: 'l' }, spec: {} })),
    rv(store.delete(NODES, '', 'n1').object),
  ];
  assert.deepEqual(versions, [5, 6, 7, 8, 9, 10]);
  assert.deepEqual(seen, versions);
  assert.equal(store.resourceVersion, '10');
});

test('create sets uid, creationTimestamp, generation and resourceVersion, and pod defaults', () => {
  const store = newStore();
  const created = store.create(PODS, 'default', pod('p', { uid: 'client-chosen', labels: { app: 'web' } }));
  const m = meta(created);
  assert.match(String(m['uid']), /^[0-9a-f-]{36}$/);
  assert.notEqual(m['uid'], 'client-chosen');
  assert.equal(m['creationTimestamp'], '2025-01-02T03:04:05Z');
  assert.equal(m['generation'], 1);
  assert.equal(m['namespace'], 'default');
  assert.deepEqual(created['status'], { phase: 'Pending', qosClass: 'BestEffort' });
  const spec = created['spec'] as Record<string, unknown>;
  assert.equal(spec['schedulerName'], 'default-scheduler');
  assert.equal(spec['restartPolicy'], 'Always');
  assert.deepEqual(store.get(PODS, 'default', 'p'), created);
});

test('pod requests default to limits, so a GPU limit is also a request', () => {
  const store = newStore();
  const body = pod('gpu');
  (body['spec'] as { containers: JsonObject[] }).containers[0] = {
    name: 'main',
    image: 'cuda:12',
    resources: { limits: { 'nvidia.com/gpu': '1', cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } },
  };
  const created = store.create(PODS, 'default', body);
  const container = (created['spec'] as { containers: JsonObject[] }).containers[0] as { resources: JsonObject };
  assert.deepEqual(container.resources['requests'], { cpu: '500m', 'nvidia.com/gpu': '1', memory: '1Gi' });
  assert.equal((created['status'] as JsonObject)['qosClass'], 'Burstable');
});

test('create refusals: AlreadyExists, Invalid, BadRequest, missing namespace', () => {
  const store = newStore();
  store.create(PODS, 'default', pod('p'));
  rejects(() => store.create(PODS, 'default', pod('p')), 409, 'AlreadyExists', 'pods "p" already exists');
  rejects(() => store.create(PODS, 'default', { metadata: {}, spec: { containers: [{ name: 'c', image: 'i' }] } }), 422, 'Invalid', 'metadata.name: Required value');
  rejects(() => store.create(PODS, 'default', pod('Bad_Name')), 422, 'Invalid', 'metadata.name: Invalid value: "Bad_Name"');
  rejects(() => store.create(PODS, 'default', { metadata: { name: 'x' }, spec: { containers: [] } }), 422, 'Invalid', 'spec.containers: Required value');
  rejects(() => store.create(PODS, 'default', { metadata: { name: 'x' }, spec: { containers: [{ name: 'c' }] } }), 422, 'Invalid', 'spec.containers[0].image');
  rejects(() => store.create(PODS, 'default', { ...pod('x'), kind: 'ConfigMap' }), 400, 'BadRequest', 'must be of type Pod');
  rejects(() => store.create(PODS, 'default', { ...pod('x'), apiVersion: 'apps/v1' }), 400, 'BadRequest', 'API version in the data (apps/v1)');
  rejects(() => store.create(PODS, 'default', pod('x', { namespace: 'other' })), 400, 'BadRequest', 'does not match the namespace');
  rejects(() => store.create(PODS, 'default', pod('x', { resourceVersion: '3' })), 400, 'BadRequest', 'resourceVersion should not be set');
  rejects(() => store.create(PODS, 'default', pod('x', { labels: { ok: 5 } })), 400, 'BadRequest', 'cannot unmarshal number');
  rejects(() => store.create(PODS, 'nowhere', pod('x')), 404, 'NotFound', 'namespaces "nowhere" not found');
  rejects(() => store.create(CONFIG_MAPS, 'default', { metadata: { name: 'c' }, data: { 'bad key': 'v' } }), 422, 'Invalid', 'data[bad key]');
});

test('generateName gets a five-character suffix', () => {
  const store = newStore();
  const created = store.create(PODS, 'default', { metadata: { generateName: 'worker-' }, spec: { containers: [{ name: 'c', image: 'i' }] } });
  assert.match(String(meta(created)['name']), /^worker-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

test('update: stale resourceVersion conflicts, unset updates unconditionally, no-op keeps the version', () => {
  const store = newStore();
  const created = store.create(CONFIG_MAPS, 'default', { metadata: { name: 'c' }, data: { k: '1' } });
  const first = store.update(CONFIG_MAPS, 'default', 'c', { ...created, data: { k: '2' } }).object;
  assert.equal(rv(first), rv(created) + 1);
  assert.equal(meta(first)['generation'], 2, 'data changed: generation bumped');
  rejects(() => store.update(CONFIG_MAPS, 'default', 'c', { ...created, data: { k: '3' } }), 409, 'Conflict', 'the object has been modified');
  const unconditional = store.update(CONFIG_MAPS, 'default', 'c', { metadata: { name: 'c' }, data: { k: '3' } }).object;
  assert.equal(meta(unconditional)['uid'], meta(created)['uid'], 'uid kept');
  assert.equal(meta(unconditional)['creationTimestamp'], meta(created)['creationTimestamp']);
  const same = store.update(CONFIG_MAPS, 'default', 'c', unconditional).object;
  assert.equal(rv(same), rv(unconditional), 'an update that changes nothing writes nothing');
  const labelled = store.update(CONFIG_MAPS, 'default', 'c', { ...same, metadata: { ...meta(same), labels: { a: 'b' } } }).object;
  assert.equal(meta(labelled)['generation'], meta(same)['generation'], 'metadata changes do not bump generation');
  rejects(() => store.update(CONFIG_MAPS, 'default', 'other', { metadata: { name: 'c' } }), 400, 'BadRequest', 'does not match the name on the URL');
  rejects(() => store.update(CONFIG_MAPS, 'default', 'missing', { metadata: { name: 'missing' } }), 404, 'NotFound');
  rejects(() => store.update(CONFIG_MAPS, 'default', 'c', { metadata: { name: 'c', uid: 'other' } }), 409, 'Conflict', 'Precondition failed: UID');
});

test('leases are created by PUT when missing', () => {
  const store = newStore();
  const { object, created } = store.update(LEASES, 'kube-system', 'leader', { metadata: { name: 'leader' }, spec: { holderIdentity: 'a' } });
  assert.equal(created, true);
  assert.equal(meta(object)['generation'], 1);
});

test('status: main-resource writes keep it, the status subresource writes only it', () => {
  const store = newStore();
  const created = store.create(PODS, 'default', pod('p'));
  const patched = store.patch(PODS, 'default', 'p', 'merge', { status: { phase: 'Running' }, metadata: { labels: { a: 'b' } } });
  assert.equal((patched['status'] as JsonObject)['phase'], 'Pending', 'status change through the main resource is dropped');
  const running = store.patch(PODS, 'default', 'p', 'merge', { status: { phase: 'Running' }, metadata: { labels: { a: 'c' } } }, 'status');
  assert.equal((running['status'] as JsonObject)['phase'], 'Running');
  assert.deepEqual(meta(running)['labels'], { a: 'b' }, 'metadata changes through status are dropped');
  assert.equal(meta(running)['generation'], meta(created)['generation'], 'status changes do not bump generation');
  const node = store.create(NODES, '', { metadata: { name: 'n1' }, status: { capacity: { 'nvidia.com/gpu': '4' } } });
  assert.deepEqual(node['status'], { capacity: { 'nvidia.com/gpu': '4' } }, 'node status is kept on create (the kubelet registers with it)');
  const updated = store.updateStatus(NODES, '', 'n1', { ...node, status: { capacity: { 'nvidia.com/gpu': '8' } }, spec: { unschedulable: true } });
  assert.deepEqual(updated['status'], { capacity: { 'nvidia.com/gpu': '8' } });
  assert.equal(updated['spec'], undefined);
  rejects(() => store.updateStatus(NODES, '', 'n1', node), 409, 'Conflict');
});

test('patch: all three types, and a stale resourceVersion in the patch conflicts', () => {
  const store = newStore();
  const created = store.create(PODS, 'default', pod('p', { labels: { app: 'web' } }));
  store.patch(PODS, 'default', 'p', 'merge', { metadata: { annotations: { 'hami.io/bind-phase': 'allocating' } } });
  store.patch(PODS, 'default', 'p', 'json', [{ op: 'add', path: '/metadata/labels/tier', value: 'front' }]);
  const result = store.patch(PODS, 'default', 'p', 'strategic', { metadata: { labels: { app: null } } });
  assert.deepEqual(meta(result)['labels'], { tier: 'front' });
  assert.deepEqual(meta(result)['annotations'], { 'hami.io/bind-phase': 'allocating' });
  rejects(
    () => store.patch(PODS, 'default', 'p', 'merge', { metadata: { resourceVersion: meta(created)['resourceVersion'] as string, labels: { x: 'y' } } }),
    409,
    'Conflict',
  );
  const fresh = store.patch(PODS, 'default', 'p', 'merge', { metadata: { resourceVersion: String(rv(result)), labels: { x: 'y' } } });
  assert.equal(rv(fresh), rv(result) + 1);
  rejects(() => store.patch(PODS, 'default', 'p', 'json', [{ op: 'test', path: '/metadata/name', value: 'q' }]), 422, 'Invalid', 'test failed');
  rejects(() => store.patch(PODS, 'default', 'missing', 'merge', {}), 404, 'NotFound');
  rejects(() => store.patch(PODS, 'default', 'p', 'merge', { metadata: { name: 'renamed' } }), 400, 'BadRequest');
});

test('binding sets nodeName, copies annotations, marks PodScheduled; conflicts as upstream', () => {
  const store = newStore();
  store.create(PODS, 'default', pod('p'));
  const binding = (node: string, name = 'p'): JsonObject => ({
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name, annotations: { 'hami.io/vgpu-node': node } },
    target: { apiVersion: 'v1', kind: 'Node', name: node },
  });
  const bound = store.bind('default', 'p', binding('n1'));
  assert.equal((bound['spec'] as JsonObject)['nodeName'], 'n1');
  assert.deepEqual(meta(bound)['annotations'], { 'hami.io/vgpu-node': 'n1' });
  const conditions = (bound['status'] as { conditions: JsonObject[] }).conditions;
  assert.equal(conditions.find((c) => c['type'] === 'PodScheduled')?.['status'], 'True');
  rejects(() => store.bind('default', 'p', binding('n2')), 409, 'Conflict', 'pod p is already assigned to node "n1"');
  rejects(() => store.bind('default', 'missing', binding('n1', 'missing')), 404, 'NotFound', 'pods "missing" not found');
  rejects(() => store.bind('default', 'p', binding('n1', 'q')), 400, 'BadRequest', 'name in URL does not match');
  store.create(PODS, 'default', pod('r'));
  rejects(() => store.bind('default', 'r', { metadata: { name: 'r' }, target: { kind: 'Pod', name: 'x' } }), 422, 'Invalid', 'target.kind');
  rejects(() => store.bind('default', 'r', { metadata: { name: 'r' }, target: {} }), 422, 'Invalid', 'target.name: Required value');
});

test('list: selectors, namespaces, items without kind, list resourceVersion', () => {
  const store = newStore();
  store.create(NAMESPACES, '', { metadata: { name: 'team-a' } });
  store.create(PODS, 'default', pod('a', { labels: { app: 'web' } }));
  store.create(PODS, 'team-a', pod('b', { labels: { app: 'db' } }));
  store.create(PODS, 'team-a', pod('c', { labels: { app: 'web' } }));
  store.bind('team-a', 'c', { metadata: { name: 'c' }, target: { name: 'n1' } });
  const names = (items: JsonObject[]): string[] => items.map((i) => `${String(meta(i)['namespace'])}/${String(meta(i)['name'])}`);
  const all = store.list(PODS);
  assert.deepEqual(names(all.items), ['default/a', 'team-a/b', 'team-a/c']);
  assert.equal(all.resourceVersion, store.resourceVersion);
  assert.equal(all.items[0]?.['kind'], undefined, 'list items carry no kind, as upstream');
  assert.deepEqual(names(store.list(PODS, { namespace: 'team-a' }).items), ['team-a/b', 'team-a/c']);
  assert.deepEqual(names(store.list(PODS, { labelSelector: parseLabelSelector('app=web') }).items), ['default/a', 'team-a/c']);
  assert.deepEqual(names(store.list(PODS, { fieldSelector: parseFieldSelector('spec.nodeName=n1') }).items), ['team-a/c']);
  assert.deepEqual(names(store.list(PODS, { fieldSelector: parseFieldSelector('spec.nodeName=') }).items), ['default/a', 'team-a/b']);
  rejects(() => store.list(PODS, { fieldSelector: parseFieldSelector('spec.bogus=1') }), 400, 'BadRequest', 'field label not supported');
  rejects(() => store.list(PODS, { resourceVersion: '99999' }), 504, 'Timeout', 'Too large resource version');
});

test('list paging: limit/continue read one consistent snapshot; too old continue is 410', () => {
  const store = newStore();
  for (const name of ['a', 'b', 'c', 'd', 'e']) store.create(PODS, 'default', pod(name));
  const first = store.list(PODS, { limit: 2 });
  assert.deepEqual(first.items.map((i) => meta(i)['name']), ['a', 'b']);
  assert.equal(first.remainingItemCount, 3);
  assert.ok(first.continue !== undefined);
  // Changes after the first page do not show in later pages.
  store.delete(PODS, 'default', 'c');
  store.create(PODS, 'default', pod('bb'));
  const second = store.list(PODS, { limit: 2, continue: first.continue ?? '' });
  assert.deepEqual(second.items.map((i) => meta(i)['name']), ['c', 'd']);
  assert.equal(second.resourceVersion, first.resourceVersion);
  const third = store.list(PODS, { limit: 2, continue: second.continue ?? '' });
  assert.deepEqual(third.items.map((i) => meta(i)['name']), ['e']);
  assert.equal(third.continue, undefined);
  const exact = store.list(PODS, { resourceVersion: first.resourceVersion, resourceVersionMatch: 'Exact' });
  assert.deepEqual(exact.items.map((i) => meta(i)['name']), ['a', 'b', 'c', 'd', 'e']);
  store.compact();
  rejects(() => store.list(PODS, { limit: 2, continue: first.continue ?? '' }), 410, 'Expired', 'continue parameter is too old');
  rejects(() => store.list(PODS, { limit: 2, continue: 'garbage!' }), 400, 'BadRequest', 'continue key is not valid');
});

test('delete: returns the object with the deletion revision; finalizers hold it until removed', () => {
  const store = newStore();
  const changes: Change[] = [];
  store.subscribe((c) => changes.push(c));
  store.create(CONFIG_MAPS, 'default', { metadata: { name: 'held', finalizers: ['tessera.io/cleanup'] } });
  const marked = store.delete(CONFIG_MAPS, 'default', 'held');
  assert.equal(marked.deleted, false);
  assert.equal(meta(marked.object)['deletionTimestamp'], '2025-01-02T03:04:05Z');
  assert.ok(store.find(CONFIG_MAPS, 'default', 'held') !== undefined);
  const current = store.get(CONFIG_MAPS, 'default', 'held');
  store.update(CONFIG_MAPS, 'default', 'held', { ...current, metadata: { ...meta(current), finalizers: [] } });
  assert.equal(store.find(CONFIG_MAPS, 'default', 'held'), undefined);
  assert.deepEqual(
    changes.map((c) => c.type),
    ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED'],
  );
  const last = changes[changes.length - 1];
  assert.equal(last?.resourceVersion, Number(store.resourceVersion));
  assert.equal(meta(last?.object ?? {})['resourceVersion'], store.resourceVersion);

  store.create(PODS, 'default', pod('p'));
  rejects(() => store.delete(PODS, 'default', 'p', { resourceVersion: '1' }), 409, 'Conflict', 'Precondition failed: ResourceVersion');
  const gone = store.delete(PODS, 'default', 'p');
  assert.equal(gone.deleted, true);
  assert.equal(meta(gone.object)['resourceVersion'], store.resourceVersion);
  rejects(() => store.delete(PODS, 'default', 'p'), 404, 'NotFound');
});

test('deleting a namespace deletes what is in it', () => {
  const store = newStore();
  store.create(NAMESPACES, '', { metadata: { name: 'team-b' } });
  store.create(PODS, 'team-b', pod('p'));
  store.create(CONFIG_MAPS, 'team-b', { metadata: { name: 'c' } });
  store.create(PODS, 'default', pod('stays'));
  const result = store.delete(NAMESPACES, '', 'team-b');
  assert.equal(result.deleted, true);
  assert.deepEqual(store.list(PODS).items.map((i) => meta(i)['name']), ['stays']);
  assert.equal(store.list(CONFIG_MAPS, { namespace: 'team-b' }).items.length, 0);
});

test('history is bounded per resource type; changesSince reports where it starts', () => {
  const store = newStore(3);
  const base = Number(store.resourceVersion);
  for (const name of ['a', 'b', 'c', 'd']) store.create(PODS, 'default', pod(name));
  const tooOld = store.changesSince(PODS, base);
  assert.deepEqual(tooOld, { complete: false, oldest: base + 1 });
  const fine = store.changesSince(PODS, base + 1);
  assert.ok(fine.complete);
  assert.equal(fine.changes.length, 3);
  // Other kinds have their own window.
  assert.ok(store.changesSince(CONFIG_MAPS, base).complete);
});

test('put seeds objects with their status, for tests', () => {
  const store = newStore();
  const running = store.put(PODS, { ...pod('p'), spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Running' } });
  assert.equal((running['status'] as JsonObject)['phase'], 'Running');
  const again = store.put(PODS, { ...pod('p'), spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Succeeded' } });
  assert.equal((again['status'] as JsonObject)['phase'], 'Succeeded');
  assert.equal(meta(again)['uid'], meta(running)['uid']);
});

test('stored objects cannot be changed through returned copies', () => {
  const store = newStore();
  const created = store.create(PODS, 'default', pod('p'));
  meta(created)['name'] = 'changed';
  assert.equal(meta(store.get(PODS, 'default', 'p'))['name'], 'p');
});
