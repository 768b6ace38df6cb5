/**
 * The Helm chart `deploy/helm/tessera`, rendered without helm (none is installed here) by
 * test/support/helm-render.ts, a renderer for exactly the template subset the chart keeps to; it
 * throws on anything outside it, so a template change that leaves the subset fails here rather
 * than rendering differently from Helm. The rendered documents are parsed with `yaml` and checked
 * against the code they deploy: the container's flags against the real `tessera scheduler`
 * options, the RBAC against the calls src/k8s/client.ts makes, the device configuration through
 * the real loader, the generated TLS chain with node:crypto. Where kubectl is installed, the kinds
 * the in-memory API server serves (ConfigMaps) also go through `kubectl apply --dry-run=client`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Command } from '@commander-js/extra-typings';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';

import { startApiServer } from '../../src/apiserver/index.js';
import { nodeAgentCommand } from '../../src/cli/commands/node-agent.js';
import { schedulerCommand } from '../../src/cli/commands/scheduler.js';
import { DEFAULT_DEVICE_CONFIG, parseDeviceConfig } from '../../src/config/device-config.js';
import { OpensslMissingError, renderChart, TemplateError, type RenderOptions } from '../support/helm-render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chartDir = join(root, 'deploy', 'helm', 'tessera');

// ---------------------------------------------------------------------------------------------
// Helpers

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `${what} is not a mapping`);
  return v as Obj;
}
function arr(v: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(v), `${what} is not a list`);
  return v;
}
function str(v: unknown, what: string): string {
  assert.equal(typeof v, 'string', `${what} is not a string`);
  return v as string;
}

interface Manifest {
  readonly docs: Obj[];
}

const rendered = new Map<string, Manifest>();

/** Renders the chart (once per options) and parses every document; undefined, and the test skipped, without openssl. */
function render(t: TestContext, options: RenderOptions = {}): Manifest | undefined {
  const key = JSON.stringify(options);
  const cached = rendered.get(key);
  if (cached) return cached;
  const manifest = renderUncached(t, options);
  if (manifest) rendered.set(key, manifest);
  return manifest;
}

function renderUncached(t: TestContext, options: RenderOptions): Manifest | undefined {
  let files;
  try {
    files = renderChart(chartDir, options);
  } catch (error) {
    if (error instanceof OpensslMissingError) {
      t.skip(`the default (self-signed TLS) path needs openssl for genCA/genSignedCert: ${error.message}`);
      return undefined;
    }
    throw error;
  }
  const docs: Obj[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(file.text)) {
      assert.deepEqual(doc.errors, [], `${file.path}: YAML errors`);
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      const o = obj(value, file.path);
      str(o['apiVersion'], `${file.path}: apiVersion`);
      str(o['kind'], `${file.path}: kind`);
      str(obj(o['metadata'], `${file.path}: metadata`)['name'], `${file.path}: metadata.name`);
      docs.push(o);
    }
  }
  return { docs };
}

function meta(o: Obj): Obj {
  return obj(o['metadata'], 'metadata');
}
function all(m: Manifest, kind: string): Obj[] {
  return m.docs.filter((d) => d['kind'] === kind);
}
function one(m: Manifest, kind: string, name?: string): Obj {
  const found = all(m, kind).filter((d) => name === undefined || meta(d)['name'] === name);
  assert.equal(found.length, 1, `expected one ${kind}${name === undefined ? '' : ` named ${name}`}, found ${String(found.length)}`);
  return found[0] as Obj;
}

function podSpec(m: Manifest): Obj {
  return obj(obj(obj(one(m, 'Deployment')['spec'], 'spec')['template'], 'template')['spec'], 'pod spec');
}
function container(m: Manifest, name: string): Obj {
  const found = arr(podSpec(m)['containers'], 'containers').map((c) => obj(c, 'container')).find((c) => c['name'] === name);
  assert.ok(found, `no container ${name}`);
  return found;
}
function args(m: Manifest): string[] {
  return arr(container(m, 'tessera')['args'], 'args').map((a) => str(a, 'arg'));
}
/** The value after a flag in the container's args. */
function flag(list: readonly string[], name: string): string | undefined {
  const i = list.indexOf(name);
  return i === -1 ? undefined : list[i + 1];
}

/** The `tessera scheduler` command as the CLI registers it (its action never runs here). */
function schedulerCli() {
  const program = new Command().exitOverride();
  schedulerCommand(program as unknown as Parameters<typeof schedulerCommand>[0]);
  const command = program.commands.find((c) => c.name() === 'scheduler');
  assert.ok(command, 'no scheduler subcommand');
  return command;
}

/** The scheduler ConfigMap's KubeSchedulerConfiguration, parsed. */
function schedulerConfig(m: Manifest, fullname = 'tessera'): Obj {
  const data = obj(one(m, 'ConfigMap', `${fullname}-kube-scheduler`)['data'], 'data');
  return obj(parseYaml(str(data['config.yaml'], 'config.yaml')), 'KubeSchedulerConfiguration');
}

/** Rules as comparable strings: `group|resource|verb|resourceNames`, sorted. */
function ruleSet(rules: unknown): string[] {
  const out: string[] = [];
  for (const r of arr(rules, 'rules')) {
    const rule = obj(r, 'rule');
    const names = rule['resourceNames'] === undefined ? '*' : arr(rule['resourceNames'], 'resourceNames').join(',');
    for (const g of arr(rule['apiGroups'], 'apiGroups'))
      for (const res of arr(rule['resources'], 'resources'))
        for (const v of arr(rule['verbs'], 'verbs')) out.push(`${String(g)}|${String(res)}|${String(v)}|${names}`);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Default values

test('default values: every object the scheduler needs, each once', (t) => {
  const m = render(t);
  if (!m) return;
  const kinds = m.docs.map((d) => `${String(d['kind'])}/${String(meta(d)['name'])}`).sort();
  assert.deepEqual(kinds, [
    'ClusterRole/tessera',
    'ClusterRole/tessera-node-agent',
    'ClusterRoleBinding/tessera',
    'ClusterRoleBinding/tessera-kube-scheduler',
    'ClusterRoleBinding/tessera-node-agent',
    'ClusterRoleBinding/tessera-volume-scheduler',
    'ConfigMap/tessera-device-config',
    'ConfigMap/tessera-kube-scheduler',
    'DaemonSet/tessera-node-agent',
    'Deployment/tessera',
    'MutatingWebhookConfiguration/tessera',
    'Role/tessera-leases',
    'RoleBinding/tessera-authentication-reader',
    'RoleBinding/tessera-leases',
    'Secret/tessera-webhook-tls',
    'Service/tessera',
    'ServiceAccount/tessera',
    'ServiceAccount/tessera-node-agent',
  ]);
  for (const d of m.docs) {
    const cluster = ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(String(d['kind']));
    const expected = d['kind'] === 'RoleBinding' && meta(d)['name'] === 'tessera-authentication-reader' ? 'kube-system' : cluster ? undefined : 'kube-system';
    assert.equal(meta(d)['namespace'], expected, `${String(d['kind'])}/${String(meta(d)['name'])} namespace`);
  }
});

test('kube-scheduler: stock image, its config from the ConfigMap, the extender on loopback', (t) => {
  const m = render(t);
  if (!m) return;
  const ks = container(m, 'kube-scheduler');
  assert.match(str(ks['image'], 'image'), /^registry\.k8s\.io\/kube-scheduler:v\d+\.\d+\.\d+$/);
  const command = arr(ks['command'], 'command').map(String);
  assert.equal(command[0], 'kube-scheduler');
  const configPath = command.find((c) => c.startsWith('--config='))?.slice('--config='.length);
  const mount = arr(ks['volumeMounts'], 'volumeMounts').map((v) => obj(v, 'mount')).find((v) => configPath?.startsWith(`${String(v['mountPath'])}/`));
  assert.ok(mount, `--config=${String(configPath)} is on no mounted volume`);
  const volume = arr(podSpec(m)['volumes'], 'volumes').map((v) => obj(v, 'volume')).find((v) => v['name'] === mount['name']);
  assert.equal(obj(volume?.['configMap'], 'configMap volume')['name'], 'tessera-kube-scheduler');
  assert.equal(configPath, `${String(mount['mountPath'])}/config.yaml`, 'the file is the ConfigMap key config.yaml');

  const config = schedulerConfig(m);
  assert.equal(config['apiVersion'], 'kubescheduler.config.k8s.io/v1');
  assert.equal(config['kind'], 'KubeSchedulerConfiguration');
  assert.deepEqual(config['profiles'], [{ schedulerName: 'hami-scheduler' }]);
  assert.deepEqual(config['leaderElection'], { leaderElect: true, resourceLock: 'leases', resourceName: 'tessera-kube-scheduler', resourceNamespace: 'kube-system' });
  assert.deepEqual(config['extenders'], [
    {
      urlPrefix: 'http://127.0.0.1:8080',
      filterVerb: 'filter',
      bindVerb: 'bind',
      enableHTTPS: false,
      nodeCacheCapable: true,
      weight: 1,
      httpTimeout: '30s',
      managedResources: ['nvidia.com/gpu', 'nvidia.com/gpumem', 'nvidia.com/gpucores', 'nvidia.com/gpumem-percentage', 'nvidia.com/priority'].map((name) => ({
        name,
        ignoredByScheduler: true,
      })),
    },
  ]);
  // The extender URL is where the tessera container serves it.
  assert.equal(flag(args(m), '--http-bind'), '127.0.0.1:8080');
});

test('tessera container: every flag is a real `tessera scheduler` option, with the values it needs', (t) => {
  const m = render(t);
  if (!m) return;
  const list = args(m);
  assert.equal(list[0], 'scheduler', 'the image entrypoint is `node dist/cli/main.js`; the first argument is the subcommand');
  const command = schedulerCli();
  const options = new Map(command.options.map((o) => [o.long, o]));
  for (let i = 1; i < list.length; i++) {
    const arg = list[i] as string;
    const option = options.get(arg);
    assert.ok(option, `${arg} is not an option of tessera scheduler (${[...options.keys()].join(', ')})`);
    if (option.required) {
      i++;
      assert.ok(list[i] !== undefined && !list[i]?.startsWith('--'), `${arg} needs a value`);
    }
  }
  // The command's own parser accepts them: nothing unknown, and the values convert.
  const parsed = command.parseOptions(list.slice(1));
  assert.deepEqual(parsed, { operands: [], unknown: [] });
  const opts = command.opts();
  assert.deepEqual(opts.httpBind, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(opts.webhookBind, { host: '0.0.0.0', port: 8443 });
  assert.equal(opts.certFile, '/tls/tls.crt');
  assert.equal(opts.keyFile, '/tls/tls.key');
  assert.equal(opts.deviceConfig, '/config/device-config.yaml');
  assert.equal(opts.schedulerName, 'hami-scheduler');
  assert.equal(opts.leaderElect, undefined, 'no election of its own: it follows kube-scheduler');
  assert.deepEqual(opts.followLease, { namespace: 'kube-system', name: 'tessera-kube-scheduler' });
  assert.equal(opts.identity, '$(POD_NAME)');
  assert.deepEqual(opts.metricsBindAddress, { host: '0.0.0.0', port: 9395 }, "HAMi's metrics port, on all interfaces for Prometheus");
  assert.equal(opts.metrics, true);
  assert.equal(opts.avoidBusyNodes, true, 'busy nodes passed over by default');

  // The same flags in the real command's --help, as an operator would read them.
  const help = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'scheduler', '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0, help.stderr);
  for (const arg of list.filter((a) => a.startsWith('--'))) assert.match(help.stdout, new RegExp(`\\s${arg}\\b`), `${arg} in --help`);

  // $(POD_NAME) is expanded by the kubelet from the downward API.
  const env = arr(container(m, 'tessera')['env'], 'env').map((e) => obj(e, 'env'));
  assert.deepEqual(env.find((e) => e['name'] === 'POD_NAME'), { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  assert.equal(str(container(m, 'tessera')['image'], 'image'), 'ghcr.io/tessera/tessera:0.1.0', 'tag defaults to appVersion');
});

test('--metrics-bind-address: HAMi\'s default :9395, and two ways to turn it off', () => {
  const parsed = (list: string[]) => {
    const command = schedulerCli().configureOutput({ writeErr: () => {} });
    assert.deepEqual(command.parseOptions(list), { operands: [], unknown: [] });
    return command.opts();
  };
  const defaults = parsed([]);
  assert.deepEqual(defaults.metricsBindAddress, { host: '0.0.0.0', port: 9395 });
  assert.equal(defaults.metrics, true);
  assert.equal(parsed(['--metrics-bind-address', '']).metricsBindAddress, false);
  assert.deepEqual(parsed(['--metrics-bind-address', '127.0.0.1:0']).metricsBindAddress, { host: '127.0.0.1', port: 0 });
  assert.equal(parsed(['--no-metrics']).metrics, false);
  assert.throws(() => parsed(['--metrics-bind-address', 'nowhere']), /'nowhere' is not an address/);
});

test('tessera container: the files its flags name are mounted from the right objects', (t) => {
  const m = render(t);
  if (!m) return;
  const mounts = arr(container(m, 'tessera')['volumeMounts'], 'volumeMounts').map((v) => obj(v, 'mount'));
  const volumes = arr(podSpec(m)['volumes'], 'volumes').map((v) => obj(v, 'volume'));
  const source = (path: string): { volume: Obj; key: string } => {
    const mount = mounts.find((v) => path.startsWith(`${String(v['mountPath'])}/`));
    assert.ok(mount, `${path} is on no mount`);
    assert.equal(mount['readOnly'], true);
    const volume = volumes.find((v) => v['name'] === mount['name']);
    assert.ok(volume, `no volume ${String(mount['name'])}`);
    return { volume, key: path.slice(String(mount['mountPath']).length + 1) };
  };
  const list = args(m);
  const cert = source(flag(list, '--cert-file') ?? '');
  const key = source(flag(list, '--key-file') ?? '');
  assert.deepEqual([cert.key, key.key], ['tls.crt', 'tls.key']);
  const secretName = obj(cert.volume['secret'], 'secret volume')['secretName'];
  const secret = one(m, 'Secret', String(secretName));
  assert.equal(secret['type'], 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(obj(secret['data'], 'data')).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  const dc = source(flag(list, '--device-config') ?? '');
  assert.equal(dc.key, 'device-config.yaml');
  const configMap = one(m, 'ConfigMap', String(obj(dc.volume['configMap'], 'configMap volume')['name']));
  assert.ok(typeof obj(configMap['data'], 'data')['device-config.yaml'] === 'string');
});

test('device-config.yaml loads with the real loader and equals HAMi\'s defaults', (t) => {
  const m = render(t);
  if (!m) return;
  const text = str(obj(one(m, 'ConfigMap', 'tessera-device-config')['data'], 'data')['device-config.yaml'], 'device-config.yaml');
  const config = parseDeviceConfig(text, 'chart');
  assert.deepEqual(config.nvidia, DEFAULT_DEVICE_CONFIG.nvidia);
  assert.deepEqual(config.vendors, DEFAULT_DEVICE_CONFIG.vendors);
  // A value override reaches the file.
  const changed = render(t, { values: { deviceConfig: { nvidia: { deviceSplitCount: 4, gpuCorePolicy: 'force' } } } });
  if (!changed) return;
  const text2 = str(obj(one(changed, 'ConfigMap', 'tessera-device-config')['data'], 'data')['device-config.yaml'], 'device-config.yaml');
  const config2 = parseDeviceConfig(text2, 'chart');
  assert.equal(config2.nvidia?.deviceSplitCount, 4);
  assert.equal(config2.nvidia?.gpuCorePolicy, 'force');
  assert.equal(config2.nvidia?.resourceCountName, 'nvidia.com/gpu', 'maps merge: the other keys stay');
});

test('probes reach the webhook port over HTTPS; the extender stays on loopback', (t) => {
  const m = render(t);
  if (!m) return;
  const c = container(m, 'tessera');
  const ports = arr(c['ports'], 'ports').map((p) => obj(p, 'port'));
  assert.deepEqual(ports, [
    { name: 'webhook', containerPort: 8443, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9395, protocol: 'TCP' },
  ]);
  // The metrics port is the one --metrics-bind-address serves.
  assert.equal(flag(args(m), '--metrics-bind-address'), '0.0.0.0:9395');
  assert.equal(flag(args(m), '--webhook-bind'), '0.0.0.0:8443');
  // src/webhook/server.ts answers GET /healthz and /readyz with 200 (HTTPS with --cert-file).
  assert.deepEqual(obj(c['livenessProbe'], 'livenessProbe')['httpGet'], { path: '/healthz', port: 'webhook', scheme: 'HTTPS' });
  assert.deepEqual(obj(c['readinessProbe'], 'readinessProbe')['httpGet'], { path: '/readyz', port: 'webhook', scheme: 'HTTPS' });
  const ks = container(m, 'kube-scheduler');
  assert.deepEqual(obj(ks['livenessProbe'], 'livenessProbe')['httpGet'], { path: '/healthz', port: 10259, scheme: 'HTTPS' });
  for (const name of ['tessera', 'kube-scheduler']) {
    const x = container(m, name);
    assert.deepEqual(x['securityContext'], { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, name);
    const resources = obj(x['resources'], `${name} resources`);
    assert.ok(obj(resources['requests'], 'requests')['memory'], `${name} requests memory`);
    assert.ok(obj(resources['limits'], 'limits')['memory'], `${name} limits memory`);
  }
  const pod = podSpec(m);
  assert.equal(obj(pod['securityContext'], 'pod securityContext')['runAsNonRoot'], true);
  assert.equal(pod['serviceAccountName'], 'tessera');
  const podLabels = obj(meta(obj(obj(one(m, 'Deployment')['spec'], 'spec')['template'], 'template'))['labels'], 'labels');
  assert.equal(podLabels['hami.io/webhook'], 'ignore', 'the webhook never sees its own pods');
});

test('RBAC: exactly the calls the code makes, and the built-in roles for kube-scheduler', (t) => {
  const m = render(t);
  if (!m) return;
  assert.deepEqual(ruleSet(one(m, 'ClusterRole', 'tessera')['rules']), [
    '|events|create|*',
    '|namespaces|get|*',
    '|nodes|get|*',
    '|nodes|list|*',
    '|nodes|patch|*',
    '|nodes|watch|*',
    '|pods/binding|create|*',
    '|pods|get|*',
    '|pods|list|*',
    '|pods|patch|*',
    '|pods|watch|*',
    '|resourcequotas|get|*',
    '|resourcequotas|list|*',
    '|resourcequotas|watch|*',
  ]);
  assert.deepEqual(ruleSet(one(m, 'Role', 'tessera-leases')['rules']), [
    'coordination.k8s.io|leases|create|*',
    'coordination.k8s.io|leases|get|tessera-kube-scheduler',
    'coordination.k8s.io|leases|update|tessera-kube-scheduler',
  ]);
  // The Lease in the Role is the one kube-scheduler holds and the extender follows.
  assert.equal(flag(args(m), '--follow-lease'), 'kube-system/tessera-kube-scheduler');
  assert.equal(obj(schedulerConfig(m)['leaderElection'], 'leaderElection')['resourceName'], 'tessera-kube-scheduler');

  const sa = { kind: 'ServiceAccount', name: 'tessera', namespace: 'kube-system' };
  const bindings = [...all(m, 'ClusterRoleBinding'), ...all(m, 'RoleBinding')].filter((b) => meta(b)['name'] !== 'tessera-node-agent').map((b) => {
    assert.deepEqual(b['subjects'], [sa], `${String(meta(b)['name'])} subjects`);
    const ref = obj(b['roleRef'], 'roleRef');
    return `${String(b['kind'])}(${String(meta(b)['namespace'] ?? '')}) -> ${String(ref['kind'])}/${String(ref['name'])}`;
  });
  assert.deepEqual(bindings.sort(), [
    'ClusterRoleBinding() -> ClusterRole/system:kube-scheduler',
    'ClusterRoleBinding() -> ClusterRole/system:volume-scheduler',
    'ClusterRoleBinding() -> ClusterRole/tessera',
    'RoleBinding(kube-system) -> Role/extension-apiserver-authentication-reader',
    'RoleBinding(kube-system) -> Role/tessera-leases',
  ]);
  assert.equal(meta(one(m, 'ServiceAccount', 'tessera'))['name'], podSpec(m)['serviceAccountName']);
});

test('webhook: HAMi\'s registration pointed at the Service, with a generated CA that signs the served certificate', (t) => {
  const m = render(t);
  if (!m) return;
  const config = one(m, 'MutatingWebhookConfiguration');
  const webhooks = arr(config['webhooks'], 'webhooks').map((w) => obj(w, 'webhook'));
  assert.equal(webhooks.length, 1);
  const w = webhooks[0] as Obj;
  assert.equal(w['name'], 'vgpu.tessera.hami.io');
  assert.deepEqual(w['admissionReviewVersions'], ['v1']);
  assert.equal(w['sideEffects'], 'None');
  assert.equal(w['failurePolicy'], 'Ignore');
  assert.equal(w['timeoutSeconds'], 10);
  assert.deepEqual(w['rules'], [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }]);
  const ignore = { matchExpressions: [{ key: 'hami.io/webhook', operator: 'NotIn', values: ['ignore'] }] };
  assert.deepEqual(w['namespaceSelector'], ignore);
  assert.deepEqual(w['objectSelector'], ignore);
  const client = obj(w['clientConfig'], 'clientConfig');
  assert.deepEqual(client['service'], { name: 'tessera', namespace: 'kube-system', path: '/webhook', port: 443 });

  const service = one(m, 'Service', 'tessera');
  const spec = obj(service['spec'], 'spec');
  assert.deepEqual(spec['ports'], [
    { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' },
    { name: 'monitor', port: 9395, targetPort: 'metrics', protocol: 'TCP' },
  ]);
  const podLabels = obj(meta(obj(obj(one(m, 'Deployment')['spec'], 'spec')['template'], 'template'))['labels'], 'labels');
  for (const [k, v] of Object.entries(obj(spec['selector'], 'selector'))) assert.equal(podLabels[k], v, `selector ${k}`);

  const secret = obj(one(m, 'Secret', 'tessera-webhook-tls')['data'], 'data');
  const pem = (b64: unknown): string => Buffer.from(str(b64, 'base64'), 'base64').toString('utf8');
  const ca = new X509Certificate(pem(client['caBundle']));
  assert.equal(pem(client['caBundle']), pem(secret['ca.crt']), 'caBundle is the Secret\'s CA');
  assert.ok(ca.ca, 'caBundle is a CA certificate');
  const served = new X509Certificate(pem(secret['tls.crt']));
  assert.ok(served.verify(ca.publicKey), 'the served certificate is signed by the caBundle CA');
  assert.ok(served.checkHost('tessera.kube-system.svc'), `SANs: ${String(served.subjectAltName)}`);
  assert.ok(served.checkPrivateKey(createPrivateKey(pem(secret['tls.key']))), 'tls.key belongs to tls.crt');
});

// ---------------------------------------------------------------------------------------------
// The node agent DaemonSet

function daemonSetPod(m: Manifest): Obj {
  return obj(obj(obj(one(m, 'DaemonSet', 'tessera-node-agent')['spec'], 'spec')['template'], 'template')['spec'], 'pod spec');
}

/** A subcommand of `tessera` as the CLI registers it (its action never runs here). */
function nodeCli(name: 'node-agent' | 'install-hook') {
  const program = new Command().exitOverride();
  nodeAgentCommand(program as unknown as Parameters<typeof nodeAgentCommand>[0]);
  const command = program.commands.find((c) => c.name() === name);
  assert.ok(command, `no ${name} subcommand`);
  return command;
}

function podContainer(pod: Obj, list: 'containers' | 'initContainers', name: string): Obj {
  const found = arr(pod[list], list).map((c) => obj(c, 'container')).find((c) => c['name'] === name);
  assert.ok(found, `no ${list} entry ${name}`);
  return found;
}

test('node agent: the DaemonSet runs real `tessera install-hook` and `tessera node-agent` flags, on gpu: "on" nodes', (t) => {
  const m = render(t);
  if (!m) return;
  const pod = daemonSetPod(m);
  assert.deepEqual(pod['nodeSelector'], { gpu: 'on' }, 'a string "on", not YAML 1.1 true');
  assert.equal(pod['serviceAccountName'], 'tessera-node-agent');
  const install = arr(podContainer(pod, 'initContainers', 'install-hook')['args'], 'args').map((a) => str(a, 'arg'));
  assert.equal(install[0], 'install-hook');
  const installCli = nodeCli('install-hook');
  assert.deepEqual(installCli.parseOptions(install.slice(1)), { operands: [], unknown: [] });
  assert.deepEqual(installCli.opts(), { library: '/app/native/build/release/libtessera.so', hookPath: '/usr/local/vgpu', name: 'libtessera.so', boardDir: '/tmp/vgpulock' });

  const agent = podContainer(pod, 'containers', 'node-agent');
  const list = arr(agent['args'], 'args').map((a) => str(a, 'arg'));
  assert.equal(list[0], 'node-agent');
  const agentCli = nodeCli('node-agent');
  assert.deepEqual(agentCli.parseOptions(list.slice(1)), { operands: [], unknown: [] });
  const opts = agentCli.opts();
  assert.equal(opts.deviceConfig, '/config/device-config.yaml');
  assert.equal(opts.pluginDir, '/var/lib/kubelet/device-plugins');
  assert.equal(opts.hookPath, '/usr/local/vgpu');
  assert.equal(opts.cdi, undefined);
  assert.equal(opts.topologyScore, true);
  assert.deepEqual(opts.metricsBindAddress, { host: '0.0.0.0', port: 9394 });
  assert.deepEqual(agent['ports'], [{ name: 'metrics', containerPort: 9394, protocol: 'TCP' }]);
  const env = arr(agent['env'], 'env').map((e) => obj(e, 'env'));
  assert.deepEqual(env.find((e) => e['name'] === 'NODE_NAME'), { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });

  // Every path a flag names is a mounted volume, from the host path of the same name.
  const volumes = new Map(arr(pod['volumes'], 'volumes').map((v) => [str(obj(v, 'volume')['name'], 'name'), obj(v, 'volume')]));
  const mounts = arr(agent['volumeMounts'], 'volumeMounts').map((v) => obj(v, 'mount'));
  for (const path of ['/var/lib/kubelet/device-plugins', '/usr/local/vgpu', '/sys']) {
    const mount = mounts.find((v) => v['mountPath'] === path);
    assert.ok(mount, `${path} is mounted`);
    assert.equal(obj(volumes.get(str(mount['name'], 'name'))?.['hostPath'], 'hostPath')['path'], path);
  }
  assert.equal(mounts.find((v) => v['mountPath'] === '/config')?.['name'], 'device-config');
  // Not privileged: root for the host paths, only the capabilities that file ownership needs.
  const security = obj(agent['securityContext'], 'securityContext');
  assert.equal(security['privileged'], undefined);
  assert.equal(security['allowPrivilegeEscalation'], false);
  assert.deepEqual(obj(security['capabilities'], 'capabilities')['drop'], ['ALL']);
});

test('node agent: RBAC is its Node and pods only; CDI mode mounts the CDI directory; it can be turned off', (t) => {
  const m = render(t);
  if (!m) return;
  assert.deepEqual(ruleSet(one(m, 'ClusterRole', 'tessera-node-agent')['rules']), ['|nodes|get|*', '|nodes|patch|*', '|pods|get|*', '|pods|list|*', '|pods|patch|*']);
  assert.deepEqual(one(m, 'ClusterRoleBinding', 'tessera-node-agent')['subjects'], [{ kind: 'ServiceAccount', name: 'tessera-node-agent', namespace: 'kube-system' }]);

  const cdi = render(t, { values: { nodeAgent: { cdi: { enabled: true }, topologyScore: false } } });
  if (!cdi) return;
  const pod = daemonSetPod(cdi);
  const list = arr(podContainer(pod, 'containers', 'node-agent')['args'], 'args').map((a) => str(a, 'arg'));
  const agentCli = nodeCli('node-agent');
  assert.deepEqual(agentCli.parseOptions(list.slice(1)), { operands: [], unknown: [] });
  assert.equal(agentCli.opts().cdi, true);
  assert.equal(agentCli.opts().cdiDir, '/var/run/cdi');
  assert.equal(agentCli.opts().topologyScore, false);
  const volume = arr(pod['volumes'], 'volumes').map((v) => obj(v, 'volume')).find((v) => v['name'] === 'cdi');
  assert.deepEqual(volume?.['hostPath'], { path: '/var/run/cdi', type: 'DirectoryOrCreate' });

  const off = render(t, { values: { nodeAgent: { enabled: false } } });
  if (!off) return;
  assert.equal(off.docs.filter((d) => String(meta(d)['name']).endsWith('-node-agent')).length, 0);
});

// ---------------------------------------------------------------------------------------------
// Variants

test("user-provided TLS Secret, caBundle from values, leader election off, failurePolicy Fail, HAMi's node choice", (t) => {
  const m = render(t, {
    releaseName: 'gpu',
    namespace: 'tessera-system',
    values: { tls: { secretName: 'my-webhook-cert' }, webhook: { caBundle: 'Q0EgUEVN', failurePolicy: 'Fail' }, leaderElection: { enabled: false }, avoidBusyNodes: false },
  });
  if (!m) return;
  assert.equal(all(m, 'Secret').length, 0, 'no generated Secret');
  const tls = arr(podSpec(m)['volumes'], 'volumes').map((v) => obj(v, 'volume')).find((v) => v['name'] === 'tls');
  assert.deepEqual(tls?.['secret'], { secretName: 'my-webhook-cert' });
  const w = obj(arr(one(m, 'MutatingWebhookConfiguration', 'gpu')['webhooks'], 'webhooks')[0], 'webhook');
  assert.equal(obj(w['clientConfig'], 'clientConfig')['caBundle'], 'Q0EgUEVN');
  assert.deepEqual(obj(w['clientConfig'], 'clientConfig')['service'], { name: 'gpu', namespace: 'tessera-system', path: '/webhook', port: 443 });
  assert.equal(w['failurePolicy'], 'Fail');
  assert.equal(all(m, 'Role').length, 0, 'no Lease Role without leader election');
  assert.equal(all(m, 'RoleBinding').length, 1, 'only the authentication reader');
  assert.deepEqual(obj(schedulerConfig(m, 'gpu')['leaderElection'], 'leaderElection'), { leaderElect: false });
  const list = args(m);
  for (const gone of ['--leader-elect', '--follow-lease', '--identity']) assert.ok(!list.includes(gone), gone);
  const command = schedulerCli();
  assert.deepEqual(command.parseOptions(list.slice(1)), { operands: [], unknown: [] });
  assert.equal(command.opts().avoidBusyNodes, false, '--no-avoid-busy-nodes');
  for (const d of m.docs) {
    const ns = meta(d)['namespace'];
    if (ns !== undefined && meta(d)['name'] !== 'gpu-authentication-reader') assert.equal(ns, 'tessera-system', `${String(d['kind'])} namespace`);
  }
});

test('the renderer refuses templates outside its subset instead of guessing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'helm-subset-'));
  try {
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: x\nversion: 0.0.1\nappVersion: "1"\n');
    writeFileSync(join(dir, 'values.yaml'), 'items: [a]\nname: n\n');
    const attempt = (template: string): void => {
      writeFileSync(join(dir, 'templates', 't.yaml'), template);
      renderChart(dir);
    };
    assert.throws(() => attempt('{{ range .Values.items }}x{{ end }}'), TemplateError);
    assert.throws(() => attempt('{{ upper .Values.name }}'), TemplateError);
    assert.throws(() => attempt('a: {{ .Values.missing }}'), /missing value/);
    assert.throws(() => attempt('a: {{ .Values.items }}'), /toYaml/);
    attempt('{{- if .Values.name }}\na: {{ quote .Values.name }}\n{{- else }}\nb: 1\n{{- end }}\n');
    assert.equal(renderChart(dir)[0]?.text, '\na: "n"\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kubectl apply --dry-run=client accepts the ConfigMaps (the kinds the in-memory API server serves)', async (t) => {
  const probe = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    t.skip('kubectl not on PATH');
    return;
  }
  const m = render(t);
  if (!m) return;
  // kubectl resolves each kind through discovery; the in-memory server serves core/v1 pods,
  // nodes, namespaces, events, resourcequotas, configmaps and coordination.k8s.io leases only, so
  // the Deployment, RBAC, Service, Secret and webhook configuration cannot be checked this way.
  const served = m.docs.filter((d) => d['apiVersion'] === 'v1' && d['kind'] === 'ConfigMap');
  assert.equal(served.length, 2);
  const api = await startApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'helm-kubectl-'));
  try {
    writeFileSync(join(dir, 'kubeconfig'), api.kubeconfigYaml());
    const input = served.map((d) => stringifyYaml(d)).join('---\n');
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        'kubectl',
        [`--kubeconfig=${join(dir, 'kubeconfig')}`, `--cache-dir=${join(dir, 'cache')}`, '--request-timeout=10s', 'apply', '--dry-run=client', '--validate=false', '-f', '-'],
        { timeout: 30_000, env: { ...process.env, HOME: dir, KUBECONFIG: join(dir, 'kubeconfig') } },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
      );
      child.stdin?.end(input);
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /configmap\/tessera-kube-scheduler (created|configured) \(dry run\)/);
    assert.match(run.stdout, /configmap\/tessera-device-config (created|configured) \(dry run\)/);
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
