import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';

import { ClusterState } from '../core/placement/cluster.js';
import { gpu, node } from '../core/testing/builders.js';
import type { Explanation } from '../scheduler/explain.js';
import { NO_MONITOR, type WaitingPod } from './build-view.js';
import type { NodeUsage } from './node-usage.js';
import { Dashboard, type DashboardOptions } from './server.js';
import { podsOf, type DashboardView, type WhatIfView } from './view.js';

const grant = (id: string, memoryMiB: number, cores: number) => [[{ id, vendor: 'NVIDIA', memoryMiB, cores }]];
const NOW = new Date('2026-11-27T12:00:00Z');

function fixture(): { cluster: ClusterState; waiting: WaitingPod[]; options: DashboardOptions; setUsage: (next: NodeUsage) => void } {
  const cluster = new ClusterState();
  cluster.setNode(node('gpu-b', [gpu('GPU-b0', { memoryMiB: 16000 })]));
  cluster.setNode(node('gpu-a', [gpu('GPU-a0', { memoryMiB: 40000 }), gpu('GPU-a1', { memoryMiB: 40000 })]));
  cluster.addPod('gpu-a', 'uid-1', grant('GPU-a0', 10000, 30), 0);
  cluster.addPod('gpu-a', 'uid-2', grant('GPU-a0', 5000, 20), 0);
  const owners: Record<string, { namespace: string; name: string }> = { 'uid-1': { namespace: 'team-llm', name: 'chat' }, 'uid-2': { namespace: 'research', name: 'nb' } };
  let usage: NodeUsage = {
    devices: new Map([['GPU-a0', { memoryUsedMiB: 9000, utilization: 40 }], ['GPU-a1', { memoryUsedMiB: 0, utilization: 0 }]]),
    containers: new Map([['team-llm/chat/GPU-a0', 8000]]),
    problem: null,
  };
  const waiting: WaitingPod[] = [{ namespace: 'research', name: 'huge', createdAt: '2026-11-27T11:58:00.000Z' }];
  const explanations: Record<string, Explanation> = {
    'research/huge': {
      namespace: 'research',
      name: 'huge',
      filter: { at: NOW.toISOString(), outcome: 'unschedulable', candidates: 2, failedNodes: { 'gpu-a': '2/2 CardInsufficientMemory' }, message: 'no node fits: <b>2/2</b> CardInsufficientMemory </script>' },
    },
  };
  const options: DashboardOptions = {
    cluster,
    owner: (key) => owners[key],
    usage: (name) => (name === 'gpu-a' ? usage : undefined),
    waiting: () => waiting,
    explanation: (ns, name) => explanations[`${ns}/${name}`],
    now: () => NOW,
    pushIntervalMs: 20,
  };
  return {
    cluster,
    waiting,
    options,
    setUsage: (next) => {
      usage = next;
    },
  };
}

async function serve(t: { after: (fn: () => unknown) => void }, dashboard: Dashboard): Promise<string> {
  const server = createServer((request, response) => {
    if (!dashboard.route(request, response)) response.writeHead(404).end('not the dashboard');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    dashboard.stop();
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
}

test('the data endpoint: allocated beside used per GPU, shares by tenant, pending with its reason', async (t) => {
  const { options, setUsage } = fixture();
  const dashboard = new Dashboard(options);
  dashboard.start();
  const base = await serve(t, dashboard);
  const response = await fetch(`${base}/api/v1/dashboard`);
  assert.equal(response.status, 200);
  const view = (await response.json()) as DashboardView;
  assert.deepEqual(view.nodes.map((n) => [n.name, n.usageProblem]), [['gpu-a', null], ['gpu-b', NO_MONITOR]]);
  const a0 = view.nodes[0]?.gpus[0];
  assert.deepEqual(
    { tasks: a0?.tasks, allocated: a0?.memoryAllocatedMiB, cores: a0?.coresAllocated, used: a0?.memoryUsedMiB, util: a0?.utilization },
    { tasks: 2, allocated: 15000, cores: 50, used: 9000, util: 40 },
  );
  assert.deepEqual(a0?.shares, [
    { namespace: 'research', pod: 'nb', memoryMiB: 5000, cores: 20, memoryUsedMiB: null },
    { namespace: 'team-llm', pod: 'chat', memoryMiB: 10000, cores: 30, memoryUsedMiB: 8000 },
  ]);
  assert.equal(view.nodes[1]?.gpus[0]?.memoryUsedMiB, null);
  assert.deepEqual(view.totals, {
    nodes: 2, gpus: 3, memoryMiB: 96000, memoryAllocatedMiB: 15000, memoryUsedMiB: 9000, cores: 300, coresAllocated: 50, utilization: 20, pods: 2, pending: 1,
  });
  assert.deepEqual(view.pending, [
    { namespace: 'research', name: 'huge', since: '2026-11-27T11:58:00.000Z', reason: 'no node fits: <b>2/2</b> CardInsufficientMemory </script>', failedNodes: { 'gpu-a': '2/2 CardInsufficientMemory' } },
  ]);
  assert.deepEqual(view.namespaces, ['research', 'team-llm']);
  assert.deepEqual(podsOf(view.nodes), [
    { namespace: 'research', name: 'nb', node: 'gpu-a', devices: [{ id: 'GPU-a0', memoryMiB: 5000, cores: 20, memoryUsedMiB: null }] },
    { namespace: 'team-llm', name: 'chat', node: 'gpu-a', devices: [{ id: 'GPU-a0', memoryMiB: 10000, cores: 30, memoryUsedMiB: 8000 }] },
  ]);
  assert.deepEqual(view, JSON.parse(JSON.stringify(dashboard.view())), 'the JSON assembled from kept pieces is the document');
  assert.equal(view.history.t.length, 1);
  assert.deepEqual([view.history.memoryAllocated[0], view.history.memoryUsed[0], view.history.pending[0]], [15.6, 9.4, 1]);

  // A node's view is kept between documents until its monitor is read again.
  setUsage({ devices: new Map([['GPU-a0', { memoryUsedMiB: 100, utilization: 1 }]]), containers: new Map(), problem: null });
  const again = dashboard.view();
  assert.deepEqual([again.nodes[0]?.gpus[0]?.memoryUsedMiB, again.nodes[0]?.gpus[1]?.memoryUsedMiB, again.version], [100, null, view.version + 1]);
});

test('the page renders the summary itself, escapes what pods and reasons say, and embeds the document safely', async (t) => {
  const bundleDir = await mkdtemp(join(tmpdir(), 'tessera-ui-'));
  t.after(() => rm(bundleDir, { recursive: true, force: true }));
  const dashboard = new Dashboard({ ...fixture().options, bundleDir });
  const base = await serve(t, dashboard);
  const page = await (await fetch(`${base}/ui`)).text();
  assert.match(page, /2 nodes, 3 GPUs · memory allocated 15 GiB of 94 GiB \(16%\), used 8.8 GiB \(9%\)/);
  assert.match(page, /<b>research\/huge<\/b>: no node fits: &lt;b&gt;2\/2&lt;\/b&gt; CardInsufficientMemory &lt;\/script&gt;/);
  assert.doesNotMatch(page, /<script/, 'no bundle, no script');
  assert.match(page, /run <code>npm run build<\/code>/, 'no bundle here: the page says how to build it');
  const missing = await fetch(`${base}/ui/app.js`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /is not built: run npm run build/);
});

test('the bundle is served once built, and unknown files are 404', async (t) => {
  const bundleDir = await mkdtemp(join(tmpdir(), 'tessera-ui-'));
  t.after(() => rm(bundleDir, { recursive: true, force: true }));
  await writeFile(join(bundleDir, 'app.js'), 'console.log(1)');
  await writeFile(join(bundleDir, 'app.css'), 'body{}');
  const base = await serve(t, new Dashboard({ ...fixture().options, bundleDir }));
  const js = await fetch(`${base}/ui/app.js`);
  assert.deepEqual([js.status, js.headers.get('content-type'), await js.text()], [200, 'text/javascript; charset=utf-8', 'console.log(1)']);
  assert.match(await (await fetch(`${base}/ui`)).text(), /<script type="module" src="\/ui\/app.js"><\/script>/);
  assert.equal((await fetch(`${base}/ui/../../etc/passwd`)).status, 404);
  assert.equal((await fetch(`${base}/ui/secret.txt`)).status, 404);
  assert.equal((await fetch(`${base}/ui`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/elsewhere`)).status, 404);
});

test('what-if answers for a shape and names a bad parameter', async (t) => {
  const base = await serve(t, new Dashboard(fixture().options));
  const ok = (await (await fetch(`${base}/api/v1/dashboard/what-if?gpus=1&memory=8000&cores=25`)).json()) as WhatIfView;
  // GPU-a0: 25000 MiB, 50% left -> 2; GPU-a1: 4 (cores); GPU-b0: 2 (memory).
  assert.deepEqual([ok.withSharing, ok.wholeGpus, ok.gpusConsidered], [8, 2, 3]);
  const bad = await fetch(`${base}/api/v1/dashboard/what-if?gpus=two&memory=1`);
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: 'gpus="two" is not a whole number from 1 to 64' });
});

test('server-sent events: the document at once unless the client has it, then again when the cluster changes', async (t) => {
  const { cluster, options } = fixture();
  const dashboard = new Dashboard(options);
  const base = await serve(t, dashboard);
  const first = (await (await fetch(`${base}/api/v1/dashboard`)).json()) as DashboardView;
  assert.equal(dashboard.view().version, first.version, 'nothing changed, same version');
  await streamTwo(t, `${base}/api/v1/dashboard/events`, () => cluster.removePod('uid-2'), (messages) => {
    assert.deepEqual(messages.map((m) => [m.version, m.totals.pods]), [[first.version, 2], [first.version + 1, 1]]);
  });
  await streamTwo(t, `${base}/api/v1/dashboard/events?since=${String(first.version + 1)}`, () => cluster.removePod('uid-1'), (messages) => {
    assert.deepEqual(messages.map((m) => [m.version, m.totals.pods]), [[first.version + 2, 0]], 'the current document is not sent again');
  });
});

/** Reads a stream until two events came or `change` was made and one came after it. */
async function streamTwo(t: { after: (fn: () => unknown) => void }, url: string, change: () => void, check: (messages: DashboardView[]) => void): Promise<void> {
  const messages: DashboardView[] = [];
  const request = httpRequest(url);
  t.after(() => request.destroy());
  const got = new Promise<void>((resolve, reject) => {
    request.on('response', (response) => {
      assert.equal(response.headers['content-type'], 'text/event-stream');
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(end + 2);
          if (data !== undefined) messages.push(JSON.parse(data.slice(6)) as DashboardView);
          if (messages.length === 1 && changed) resolve();
          if (messages.length === 2) resolve();
        }
      });
      // The headers are flushed once the first event (or the bare retry) is written.
      setTimeout(() => {
        changed = true;
        change();
      }, 50);
    });
    request.on('error', reject);
  });
  let changed = false;
  request.end();
  await got;
  request.destroy();
  check(messages);
}

test('the document is gzipped for clients that take it, and the same for those that do not', async (t) => {
  const dashboard = new Dashboard(fixture().options);
  const base = await serve(t, dashboard);
  const raw = async (encoding: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      httpRequest(`${base}/api/v1/dashboard`, { headers: { 'Accept-Encoding': encoding } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
  const zipped = await raw('gzip, deflate, br');
  const plain = await raw('identity');
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(gunzipSync(zipped.body).toString(), plain.body.toString(), 'nothing changed between the two: same version, same bytes');
  assert.equal((JSON.parse(plain.body.toString()) as DashboardView).version, dashboard.view().version);
});

test('event streams are capped: one past the limit is told to come back later', async (t) => {
  const base = await serve(t, new Dashboard({ ...fixture().options, maxStreams: 1 }));
  const first = await fetch(`${base}/api/v1/dashboard/events`);
  t.after(() => first.body?.cancel());
  assert.equal(first.status, 200);
  const second = await fetch(`${base}/api/v1/dashboard/events`);
  assert.equal(second.status, 503);
  assert.match(await second.text(), /^1 dashboards are following this scheduler already; close one, or poll \/api\/v1\/dashboard\n$/);
});

test('watched: after a request for the page or the document, not for the bundle alone', async (t) => {
  const dashboard = new Dashboard(fixture().options);
  const base = await serve(t, dashboard);
  assert.equal(dashboard.watched(), false);
  await (await fetch(`${base}/ui/app.js`)).text();
  assert.equal(dashboard.watched(), false);
  await (await fetch(`${base}/api/v1/dashboard`)).text();
  assert.equal(dashboard.watched(), true);
});
