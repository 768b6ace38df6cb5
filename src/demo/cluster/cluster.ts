/**
 * The embedded demo cluster behind `npm start`: in one process, the in-memory API server, the
 * scheduler extender with its webhook and metrics, a kube-scheduler stand-in calling the extender
 * as kube-scheduler does, four GPU nodes (each a node agent on mock GPUs with a kubelet stand-in),
 * and a workload generator. Everything talks over the real protocols on loopback: HTTP to the API
 * server and the extender, gRPC over unix sockets between kubelet and node agent. So
 * `kubectl --server <api>` works against it, and pods submitted by hand are scheduled too.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NAMESPACES, NODES, startApiServer, type ApiServer } from '../../apiserver/index.js';
import { startNodeAgent, type RunningNodeAgent } from '../../node-agent/agent.js';
import { openBackend } from '../../node-agent/discovery/index.js';
import { DEFAULT_SCHEDULER_NAME, startScheduler, type RunningScheduler } from '../../scheduler/scheduler.js';
import { KubeSchedulerStandIn } from './kube-scheduler.js';
import { DemoKubelet } from './kubelet.js';
import { DEMO_NODES, devicesYaml, type DemoNode } from './mock-gpus.js';
import { DemoUsage } from './usage.js';
import { WorkloadGenerator } from './workload.js';

export const DEMO_NAMESPACES = ['team-vision', 'team-llm', 'research'] as const;

export interface DemoClusterOptions {
  /** API server port. @default 0 (any free port) */
  readonly apiPort?: number;
  /** Scheduler metrics, explain and dashboard port. @default 0 */
  readonly metricsPort?: number;
  /** Run the workload generator. @default true */
  readonly workload?: boolean;
  /** Pods the generator keeps alive. @default 40 */
  readonly target?: number;
  /** Time between two generated pods. @default 1000 */
  readonly intervalMs?: number;
  readonly lifetimeSeconds?: readonly [number, number];
  readonly seed?: number;
  /** Where the dashboard's bundle is. @default dist/ui */
  readonly bundleDir?: string;
  /** How often the mock GPUs' usage is rewritten. @default 2000 */
  readonly usageIntervalMs?: number;
  readonly nodes?: readonly DemoNode[];
  readonly log?: (line: string) => void;
}

export interface DemoCluster {
  readonly api: ApiServer;
  readonly scheduler: RunningScheduler;
  readonly agents: readonly RunningNodeAgent[];
  readonly kubelets: readonly DemoKubelet[];
  readonly kubeScheduler: KubeSchedulerStandIn;
  readonly workload: WorkloadGenerator | null;
  readonly nodes: readonly DemoNode[];
  /** Where the demo keeps its sockets and per-container files; removed on close. */
  readonly dir: string;
  close(): Promise<void>;
}

export async function startDemoCluster(options: DemoClusterOptions = {}): Promise<DemoCluster> {
  const log = options.log ?? (() => {});
  const nodes = options.nodes ?? DEMO_NODES;
  // Short: unix socket paths must stay under 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'tdemo-'));
  const api = await startApiServer({ ...(options.apiPort === undefined ? {} : { port: options.apiPort }), namespaces: [...DEMO_NAMESPACES] });
  const closers: (() => Promise<void>)[] = [async () => api.close()];
  const close = async (): Promise<void> => {
    for (const stop of closers.splice(0).reverse()) await stop().catch((error: unknown) => log(`demo: shutting down: ${String(error)}`));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const node of nodes) {
      api.store.put(NODES, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node.name, labels: { gpu: 'on', 'kubernetes.io/hostname': node.name } },
        status: { allocatable: { cpu: '64', memory: '512Gi', pods: '110' }, capacity: { cpu: '64', memory: '512Gi', pods: '110' } },
      });
    }
    const agents: RunningNodeAgent[] = [];
    const deviceFiles: { node: DemoNode; path: string }[] = [];
    const kubelets: DemoKubelet[] = [];
    for (const node of nodes) {
      const home = join(dir, node.name);
      const pluginDir = join(home, 'dp');
      mkdirSync(pluginDir, { recursive: true });
      const devices = join(home, 'devices.yaml');
      writeFileSync(devices, devicesYaml(node));
      deviceFiles.push({ node, path: devices });
      const kubelet = await DemoKubelet.start({ api, nodeName: node.name, pluginDir, log });
      closers.push(() => kubelet.close());
      kubelets.push(kubelet);
      const agent = await startNodeAgent({
        kubeConfig: api.kubeConfig(),
        nodeName: node.name,
        backend: await openBackend({ devices, nodeName: node.name }),
        pluginDir,
        layout: { hookPath: join(home, 'vgpu'), library: 'libtessera.so' },
        healthIntervalMs: 1000,
        registerIntervalMs: 5000,
        metrics: { host: '127.0.0.1', port: 0, advertiseUrl: 'http://127.0.0.1:{port}/metrics' },
        log,
      });
      closers.push(() => agent.close());
      agents.push(agent);
    }
    const scheduler = await startScheduler({
      kubeConfig: api.kubeConfig(),
      log,
      webhook: { port: 0 },
      metrics: { host: '127.0.0.1', port: options.metricsPort ?? 0 },
      // Usage read even while nobody looks, so the chart has it from the start (four monitors).
      dashboard: { usageIntervalMs: 2000, historyIntervalMs: 2000, readUsage: 'always', ...(options.bundleDir !== undefined && { bundleDir: options.bundleDir }) },
    });
    closers.push(() => scheduler.close());
    // The GPUs report usage that follows what is placed on them, as real ones would.
    const usage = new DemoUsage(scheduler.cache.cluster, deviceFiles, options.usageIntervalMs ?? 2000);
    usage.start();
    closers.push(async () => usage.stop());
    const kubeScheduler = new KubeSchedulerStandIn({ api, extenderUrl: scheduler.url, schedulerName: DEFAULT_SCHEDULER_NAME, log });
    kubeScheduler.start();
    closers.push(() => kubeScheduler.close());
    let workload: WorkloadGenerator | null = null;
    if (options.workload ?? true) {
      workload = new WorkloadGenerator({
        api,
        webhookUrl: scheduler.webhookUrl ?? '',
        namespaces: DEMO_NAMESPACES,
        ...(options.target === undefined ? {} : { target: options.target }),
        ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
        ...(options.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.lifetimeSeconds }),
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        log,
      });
      workload.start();
      closers.push(() => workload?.close() ?? Promise.resolve());
    }
    // Namespaces exist for kubectl users too.
    for (const ns of DEMO_NAMESPACES) if (api.store.find(NAMESPACES, '', ns) === undefined) api.store.create(NAMESPACES, '', { metadata: { name: ns } });
    return { api, scheduler, agents, kubelets, kubeScheduler, workload, nodes, dir, close };
  } catch (error) {
    await close();
    throw error;
  }
}
