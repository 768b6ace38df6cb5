/**
 * `tessera scheduler` as an operator runs it: a separate process pointed at the in-memory API
 * server by a kubeconfig file, serving the extender and the webhook, stopping cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startApiServer, type ApiServer } from '../../src/apiserver/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');
let api: ApiServer;
let dir: string;
let kubeconfig: string;

before(async () => {
  api = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'tessera-scheduler-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfigYaml());
});

after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the command and resolves with the addresses it logs once serving. */
function start(args: string[]): Promise<{ child: ChildProcess; extender: string; webhook: string | null; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'scheduler', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /extender serving on (\S+?)(?:, webhook on (\S+)\/webhook)?\n/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, extender: m[1], webhook: m[2] ?? null, output: () => output });
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${String(code)} before serving:\n${output}`));
    });
  });
}

test('serves the extender and the webhook from a kubeconfig, and stops cleanly on SIGTERM', async () => {
  const { child, extender, webhook, output } = await start([
    '--kubeconfig',
    kubeconfig,
    '--http-bind',
    '127.0.0.1:0',
    '--webhook-bind',
    '127.0.0.1:0',
    '--metrics-bind-address',
    '127.0.0.1:0',
  ]);
  try {
    assert.equal((await fetch(`${extender}/healthz`)).status, 200);
    const metricsUrl = /metrics on (\S+)\n/.exec(output())?.[1];
    assert.ok(metricsUrl, `the metrics address is logged:\n${output()}`);
    assert.match(await (await fetch(metricsUrl)).text(), /^tessera_scheduler_nodes \d+$/m);
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await fetch(`${extender}/readyz`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(ready, 200, `ready once the caches synced:\n${output()}`);
    const filtered = (await (
      await fetch(`${extender}/filter`, { method: 'POST', body: JSON.stringify({ Pod: { metadata: { name: 'web' }, spec: { containers: [{ name: 'c' }] } }, NodeNames: ['n1'] }) })
    ).json()) as { NodeNames: string[] };
    assert.deepEqual(filtered.NodeNames, ['n1'], 'a pod without GPUs passes through');
    assert.ok(webhook);
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'r1',
        operation: 'CREATE',
        namespace: 'default',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        object: { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } },
      },
    };
    const answer = (await (await fetch(`${webhook}/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(review) })).json()) as {
      response: { uid: string; allowed: boolean; patch?: string };
    };
    assert.equal(answer.response.uid, 'r1');
    assert.equal(answer.response.allowed, true);
    assert.match(Buffer.from(answer.response.patch ?? '', 'base64').toString(), /hami-scheduler/);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('bad flags stop it with a message naming the flag and the value', () => {
  const bad = spawnSync(process.execPath, ['--import', 'tsx', main, 'scheduler', '--http-bind', 'nowhere'], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--http-bind.*'nowhere' is not an address/);
  const missing = spawnSync(process.execPath, ['--import', 'tsx', main, 'scheduler', '--kubeconfig', join(dir, 'absent')], { cwd: root, encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /kubeconfig .*absent/);
  const lease = spawnSync(process.execPath, ['--import', 'tsx', main, 'scheduler', '--follow-lease', 'no-slash'], { cwd: root, encoding: 'utf8' });
  assert.equal(lease.status, 1);
  assert.match(lease.stderr, /--follow-lease.*'no-slash' is not a Lease: write namespace\/name/);
  const both = spawnSync(process.execPath, ['--import', 'tsx', main, 'scheduler', '--leader-elect', '--follow-lease', 'kube-system/x'], { cwd: root, encoding: 'utf8' });
  assert.equal(both.status, 1);
  assert.match(both.stderr, /--leader-elect and --follow-lease exclude each other/);
});
