/**
 * Cross-check of the in-memory API server with an independent real client: kubectl, speaking to
 * it with `--server`, an empty kubeconfig and a private cache directory (so the machine's own
 * cluster configuration is never read or written). Results are asserted through the store.
 *
 * `kubectl apply` runs with its default `--validate=strict`: the server's minimal OpenAPI v3
 * documents tell kubectl it may leave field validation to the server (see openapi.ts). kubectl
 * before 1.27 may validate against the OpenAPI v2 document instead, in protobuf, which this server
 * does not serve (1.20, Debian 12's `kubernetes-client`, does); with such a kubectl apply runs with
 * `--validate=false`, and says so.
 *
 * Skipped, with the reason printed, where kubectl is not installed.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { CONFIG_MAPS, NAMESPACES, NODES, PODS, startApiServer, type ApiServer, type JsonObject } from '../../src/apiserver/index.js';

/** kubectl on PATH and its client minor version, or undefined where it is not installed. */
function findKubectl(): { path: string; minor: number } | undefined {
  try {
    const text = execFileSync('kubectl', ['version', '--client', '--output=json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    const version = (JSON.parse(text) as { clientVersion?: { minor?: string } }).clientVersion;
    // Distributions write minors like "27+"; unreadable means recent enough to try strict.
    const minor = Number.parseInt(version?.minor ?? '', 10);
    return { path: 'kubectl', minor: Number.isNaN(minor) ? Number.POSITIVE_INFINITY : minor };
  } catch {
    return undefined;
  }
}

const found = findKubectl();
const kubectlPath = found?.path;
/** From 1.27 (OpenAPI v3 GA) kubectl validates with v3 or leaves it to the server; earlier ones may ask for v2. */
const VALIDATES_WITH_V3 = 27;
let api: ApiServer;
let scratch: string;

before(async () => {
  api = await startApiServer();
  scratch = mkdtempSync(join(tmpdir(), 'tessera-kubectl-'));
  writeFileSync(join(scratch, 'kubeconfig'), '');
});

after(async () => {
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs kubectl against the server; resolves with its exit code and output, never rejects. */
function kubectl(args: readonly string[], stdin?: string): Promise<Run> {
  const fullArgs = [
    `--server=${api.url}`,
    `--kubeconfig=${join(scratch, 'kubeconfig')}`,
    `--cache-dir=${join(scratch, 'cache')}`,
    '--request-timeout=10s',
    ...args,
  ];
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath ?? 'kubectl',
      fullArgs,
      { timeout: 20_000, env: { ...process.env, KUBECONFIG: join(scratch, 'kubeconfig'), HOME: scratch } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

function requireKubectl(t: TestContext): boolean {
  if (kubectlPath !== undefined) return true;
  t.skip('kubectl not on PATH');
  return false;
}

function pod(name: string, labels: Record<string, string> = {}): JsonObject {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

function annotations(object: JsonObject): Record<string, string> {
  return ((object['metadata'] as JsonObject)['annotations'] ?? {}) as Record<string, string>;
}

test('kubectl get nodes -o json lists the nodes in the store', async (t) => {
  if (!requireKubectl(t)) return;
  api.store.create(NODES, '', { metadata: { name: 'gpu-node-1', labels: { 'nvidia.com/gpu.present': 'true' } }, status: { capacity: { 'nvidia.com/gpu': '4' } } });
  api.store.create(NODES, '', { metadata: { name: 'cpu-node-1' } });
  const run = await kubectl(['get', 'nodes', '-o', 'json']);
  assert.equal(run.code, 0, run.stderr);
  const list = JSON.parse(run.stdout) as { items: { kind: string; metadata: { name: string }; status?: { capacity?: Record<string, string> } }[] };
  assert.deepEqual(list.items.map((n) => n.metadata.name), ['cpu-node-1', 'gpu-node-1']);
  assert.equal(list.items[1]?.kind, 'Node');
  assert.equal(list.items[1]?.status?.capacity?.['nvidia.com/gpu'], '4');
});

test('kubectl get pods -A with jsonpath and a label selector', async (t) => {
  if (!requireKubectl(t)) return;
  api.store.create(NAMESPACES, '', { metadata: { name: 'team-a' } });
  api.store.create(PODS, 'default', pod('web-1', { app: 'web' }));
  api.store.create(PODS, 'team-a', pod('db-1', { app: 'db' }));
  const all = await kubectl(['get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.phase}{"\\n"}{end}']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(all.stdout.trim().split('\n'), ['default/web-1 Pending', 'team-a/db-1 Pending']);
  const web = await kubectl(['get', 'pods', '-A', '-l', 'app in (web)', '-o', 'name']);
  assert.equal(web.code, 0, web.stderr);
  assert.equal(web.stdout.trim(), 'pod/web-1');
});

test('kubectl annotate patches the pod', async (t) => {
  if (!requireKubectl(t)) return;
  api.store.create(PODS, 'default', pod('annotate-me'));
  const run = await kubectl(['annotate', 'pod', 'annotate-me', 'hami.io/vgpu-node=gpu-node-1']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /pod\/annotate-me annotated/);
  assert.equal(annotations(api.store.get(PODS, 'default', 'annotate-me'))['hami.io/vgpu-node'], 'gpu-node-1');
});

test('kubectl apply -f - creates a ConfigMap, then patches it', async (t) => {
  if (!requireKubectl(t)) return;
  const manifest = (data: string): string =>
    ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: device-config', '  namespace: default', 'data:', data, ''].join('\n');
  const validate: string[] = [];
  if ((found?.minor ?? Number.POSITIVE_INFINITY) < VALIDATES_WITH_V3) {
    validate.push('--validate=false');
    t.diagnostic(`kubectl 1.${String(found?.minor)} validates against OpenAPI v2, which this server does not serve: apply runs with --validate=false`);
  }
  const created = await kubectl(['apply', ...validate, '-f', '-'], manifest('  mode: share'));
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /configmap\/device-config created/);
  const first = api.store.get(CONFIG_MAPS, 'default', 'device-config');
  assert.deepEqual(first['data'], { mode: 'share' });
  assert.ok(annotations(first)['kubectl.kubernetes.io/last-applied-configuration']?.includes('"mode":"share"'));

  const configured = await kubectl(['apply', ...validate, '-f', '-'], manifest('  mode: exclusive\n  split: "4"'));
  assert.equal(configured.code, 0, configured.stderr);
  assert.match(configured.stdout, /configmap\/device-config configured/);
  const second = api.store.get(CONFIG_MAPS, 'default', 'device-config');
  assert.deepEqual(second['data'], { mode: 'exclusive', split: '4' });
  assert.equal((second['metadata'] as JsonObject)['uid'], (first['metadata'] as JsonObject)['uid']);
});

test('kubectl reads the kubeconfig the server writes', async (t) => {
  if (!requireKubectl(t)) return;
  const file = join(scratch, 'generated-kubeconfig');
  writeFileSync(file, api.kubeconfigYaml());
  const run = await new Promise<Run>((resolve) => {
    execFile(
      kubectlPath ?? 'kubectl',
      [`--kubeconfig=${file}`, `--cache-dir=${join(scratch, 'cache')}`, '--request-timeout=10s', 'get', 'namespaces', '-o', 'name'],
      { timeout: 20_000, env: { ...process.env, KUBECONFIG: file, HOME: scratch } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : 1, stdout, stderr }),
    );
  });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.split('\n').includes('namespace/kube-system'), run.stdout);
});

test('kubectl delete pod removes it; errors come back as kubectl prints server Status', async (t) => {
  if (!requireKubectl(t)) return;
  api.store.create(PODS, 'default', pod('delete-me'));
  const run = await kubectl(['delete', 'pod', 'delete-me']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /pod "delete-me" deleted/);
  assert.equal(api.store.find(PODS, 'default', 'delete-me'), undefined);
  const missing = await kubectl(['get', 'pod', 'delete-me']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Error from server \(NotFound\): pods "delete-me" not found/);
});
