/**
 * HAMi's layout: the extender and the webhook on one port (its chart runs `--http_bind=0.0.0.0:443
 * --cert_file … --key_file …` and points kube-scheduler at `https://127.0.0.1:443`). Given TLS files
 * without `--webhook-bind`, `tessera scheduler` does the same: one HTTPS server for `/webhook`,
 * `/filter`, `/bind` and the probes.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { startScheduler } from '../../src/scheduler/scheduler.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let api: ApiServer;
let dir: string;

before(async () => {
  api = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'one-port-'));
});

after(async () => {
  await api.close();
});

const review = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u1',
    operation: 'CREATE',
    namespace: 'default',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } },
  },
};

test('one plain HTTP port serves the webhook, the extender and the probes', async () => {
  const scheduler = await startScheduler({ kubeConfig: api.kubeConfig(), log: () => {}, webhook: { shareExtenderPort: true } });
  try {
    assert.equal(scheduler.webhookUrl, scheduler.url);
    const admitted = await fetch(`${scheduler.url}/webhook`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(review) });
    assert.equal(admitted.status, 200);
    assert.equal(((await admitted.json()) as { response: { allowed: boolean } }).response.allowed, true);
    while (!scheduler.ready()) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await fetch(`${scheduler.url}/readyz`)).status, 200);
    const filtered = await fetch(`${scheduler.url}/filter`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Pod: review.request.object, NodeNames: [] }) });
    assert.equal(filtered.status, 200);
    assert.equal((await fetch(`${scheduler.url}/nothing`)).status, 404);
  } finally {
    await scheduler.close();
  }
});

test('tessera scheduler with TLS files and no --webhook-bind serves both over HTTPS on --http-bind', async (t) => {
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not installed');
    return;
  }
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfigYaml());
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'scheduler', '--kubeconfig', kubeconfig, '--http-bind', '127.0.0.1:0', '--cert-file', cert, '--key-file', key, '--no-metrics'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving within 20 s:\n${output}`)), 20_000);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /extender serving on (https:\/\/\S+?), webhook on \1\/webhook/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const post = (path: string, body: unknown) =>
      new Promise<number>((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = request(`${url}${path}`, { method: 'POST', ca: readFileSync(cert), headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(text);
      });
    assert.equal(await post('/webhook', review), 200);
    const filter = await post('/filter', { Pod: review.request.object, NodeNames: [] });
    assert.ok(filter === 200 || filter === 503, `the extender answers on the same port (${filter})`);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  }
});
