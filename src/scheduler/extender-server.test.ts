import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { filterResult } from './extender-wire.js';
import { BODY_LIMIT_BYTES, type ExtenderServer, startExtenderServer } from './extender-server.js';

let server: ExtenderServer;
let ready = true;
let crash = false;
const errors: string[] = [];

before(async () => {
  server = await startExtenderServer({
    filter: (args) => {
      if (crash) return Promise.reject(new Error('boom'));
      return Promise.resolve(filterResult({ NodeNames: (args.nodeNames ?? []).slice(0, 1) }));
    },
    bind: (args) => Promise.resolve({ Error: args.node === 'bad' ? 'no' : '' }),
    ready: () => ready,
    onError: (error) => errors.push(String(error)),
  });
});

after(async () => {
  await server.close();
});

async function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test('filter and bind answer in kube-scheduler extender JSON, with the Go field names', async () => {
  const filter = await post('/filter', JSON.stringify({ Pod: { metadata: { name: 'p' } }, NodeNames: ['a', 'b'] }));
  assert.equal(filter.status, 200);
  assert.deepEqual(filter.json, { Nodes: null, NodeNames: ['a'], FailedNodes: null, FailedAndUnresolvableNodes: null, Error: '' });
  const bind = await post('/bind', JSON.stringify({ PodName: 'p', PodNamespace: 'ns', PodUID: 'u', Node: 'bad' }));
  assert.deepEqual(bind, { status: 200, json: { Error: 'no' } });
});

test('bad bodies get a 4xx naming the problem, and the server keeps serving', async () => {
  assert.equal((await post('/filter', '{not json')).status, 400);
  const shape = await post('/bind', JSON.stringify({ PodName: 'p' }));
  assert.equal(shape.status, 400);
  assert.match(String(shape.json.Error), /ExtenderBindingArgs: PodNamespace/);
  const pod = await post('/filter', JSON.stringify({ Pod: { spec: { containers: 1.5 } }, NodeNames: ['a'] }));
  assert.equal(pod.status, 400);
  assert.equal(pod.json.Error, 'ExtenderArgs: Pod.spec.containers: expected array, received number (got 1.5)');
  const big = await post('/filter', `{"Pod":{"x":"${'a'.repeat(BODY_LIMIT_BYTES)}"}}`).catch(() => ({ status: 413, json: {} }));
  assert.equal(big.status, 413);
  const wrongMethod = await fetch(`${server.url}/filter`);
  assert.equal(wrongMethod.status, 405);
  assert.equal((await fetch(`${server.url}/nope`)).status, 404);
  assert.equal((await post('/filter', JSON.stringify({ Pod: {}, NodeNames: ['a'] }))).status, 200);
});

test('a handler that throws is a 500 with the message; the next request is served', async () => {
  crash = true;
  const failed = await post('/filter', JSON.stringify({ Pod: {}, NodeNames: ['a'] }));
  crash = false;
  assert.equal(failed.status, 500);
  assert.match(String(failed.json.Error), /boom/);
  assert.match(errors.join(), /boom/);
  assert.equal((await post('/filter', JSON.stringify({ Pod: {}, NodeNames: ['a'] }))).status, 200);
});

test('probes: healthz always, readyz and decisions only when ready', async () => {
  ready = false;
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  assert.equal((await post('/filter', JSON.stringify({ Pod: {}, NodeNames: ['a'] }))).status, 503);
  ready = true;
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
});
