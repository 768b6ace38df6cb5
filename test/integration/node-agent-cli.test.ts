/**
 * `tessera node-agent` and `tessera install-hook` as an operator runs them: separate processes,
 * the agent pointed at the in-memory API server by a kubeconfig file and at a fake kubelet's
 * directory, reading the example mock devices; SIGTERM stops it cleanly and removes its socket.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NODES, startApiServer, type ApiServer } from '../../src/apiserver/index.js';
import { NODE_NVIDIA_REGISTER } from '../../src/core/annotations.js';
import { decodeNodeRegister } from '../../src/core/codec/index.js';
import { FakeKubelet } from '../support/fake-kubelet.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');
let api: ApiServer;
let dir: string;
let kubeconfig: string;

before(async () => {
  api = await startApiServer();
  dir = mkdtempSync(join(tmpdir(), 'na-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfigYaml());
  api.store.put(NODES, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'gpu-7' } });
});

after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

test('node-agent registers the example mock GPUs on the Node and with the kubelet, and stops on SIGTERM', async () => {
  const pluginDir = join(dir, 'dp');
  mkdirSync(pluginDir);
  const kubelet = await FakeKubelet.start(pluginDir);
  const args = ['--kubeconfig', kubeconfig, '--devices', join(root, 'deploy', 'examples', 'mock-devices.yaml'), '--plugin-dir', pluginDir, '--hook-path', join(dir, 'vgpu'), '--metrics-bind-address', '127.0.0.1:0'];
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'node-agent', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: 'gpu-7' } });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await kubelet.until('the slots of 8 GPUs', () => kubelet.devices.length === 80, 20_000);
    const node = api.store.get(NODES, '', 'gpu-7') as { metadata: { annotations?: Record<string, string> } };
    const devices = decodeNodeRegister(node.metadata.annotations?.[NODE_NVIDIA_REGISTER] ?? '', 'NVIDIA');
    assert.equal(devices.length, 8);
    assert.ok(existsSync(join(pluginDir, 'tessera-nvidia.sock')));
    for (const end = Date.now() + 10_000; !output.includes(' advertised') && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    assert.match(output, /node agent on gpu-7: 8 device\(s\), 80 slot\(s\) advertised, metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const metricsUrl = /metrics on (http:\S+)/.exec(output)?.[1] ?? '';
    const scraped = await (await fetch(metricsUrl)).text();
    assert.equal(scraped.split('\n').filter((line) => line.startsWith('hami_host_gpu_memory_used_bytes{node="gpu-7"')).length, 8, scraped);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    await kubelet.close();
  }
  assert.equal(existsSync(join(pluginDir, 'tessera-nvidia.sock')), false, 'the socket is removed on shutdown');
});

test('node-agent without a node name, or with a broken devices file, exits 1 with the reason', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', main, 'node-agent', '--kubeconfig', kubeconfig, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_NAME: '', ...env } });
  const nameless = run(['--devices', 'x.yaml']);
  assert.equal(nameless.status, 1);
  assert.match(nameless.stderr, /the node name is unknown: pass --node-name or set NODE_NAME/);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'devices:\n  - name: A10\n    memoryMib: 24576\n');
  const bad = run(['--node-name', 'gpu-7', '--devices', broken]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /broken\.yaml:3: devices\[0\] has unknown field "memoryMib"/);
});

test('install-hook puts the library and ld.so.preload on the host', () => {
  const library = join(dir, 'libtessera.so');
  writeFileSync(library, 'ELF');
  const hook = join(dir, 'hook');
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, 'install-hook', '--library', library, '--hook-path', hook, '--board-dir', join(dir, 'boards')], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(readFileSync(join(hook, 'ld.so.preload'), 'utf8'), `${join(hook, 'libtessera.so')}\n`);
});
