/**
 * The node agent process: discovery → registration on the Node → the kubelet device plugin →
 * `Allocate`. One loop keeps the picture current: every health interval it asks the backend for the
 * devices; a change (a GPU turning unhealthy, a file edit in mock mode) is streamed to the kubelet
 * at once and written to the Node; and at least every registration interval it re-reads the Node to
 * answer the scheduler's handshake, pick up `hami.io/device-cordon`, and repair annotations someone
 * else changed. It then removes the files of containers whose pod is gone.
 *
 * Nothing in the loop throws past it: a backend or API failure is logged and the last good state
 * stays in force until the next round.
 *
 * With `metrics`, the node monitor (HAMi's vGPUmonitor metrics, monitor/metrics.ts) is served on
 * its own port; it reads the backend's usage and the containers' accounting regions per scrape.
 */
import type { KubeConfig } from '@kubernetes/client-node';

import { DEFAULT_DEVICE_CONFIG, nodeSettings, type CompiledDeviceConfig, type NvidiaConfig } from '../config/device-config.js';
import { NODE_DEVICE_CORDON } from '../core/annotations.js';
import { decodeDeviceCordon, encodeNodeRegister, encodeNodeScore } from '../core/codec/index.js';
import type { Device, DeviceLink } from '../core/device.js';
import { createKubeClient, type KubeClient } from '../k8s/client.js';
import { NodeLocker } from '../k8s/node-lock.js';
import { Allocator } from './allocate/allocator.js';
import type { CdiOptions } from './allocate/cdi.js';
import { DEFAULT_HOOK_LAYOUT, type HookLayout } from './allocate/container-edits.js';
import { removeOrphanedContainerFiles } from './cleanup.js';
import type { DevicePluginHandlers, PluginDevice } from './device-plugin/handlers.js';
import { DevicePluginServer } from './device-plugin/server.js';
import type { DeviceBackend, DiscoveredInventory } from './discovery/backend.js';
import { registrationPatch } from './node-annotations.js';
import { registerDevices } from './register-devices.js';
import { cachedPodLookup, NodeMonitor } from './monitor/metrics.js';
import { startMetricsServer, type RunningMetricsServer } from './monitor/server.js';
import { deviceSlots, preferredSlots } from './slots.js';

export interface NodeAgentOptions {
  readonly kubeConfig: KubeConfig;
  /** The Node this agent runs on (`NODE_NAME` from the downward API). */
  readonly nodeName: string;
  readonly backend: DeviceBackend;
  /** @default HAMi's defaults */
  readonly config?: CompiledDeviceConfig;
  /** @default '/var/lib/kubelet/device-plugins' */
  readonly pluginDir?: string;
  /** @default '<pluginDir>/kubelet.sock' */
  readonly kubeletSocket?: string;
  /** Socket file name in {@link pluginDir}. @default 'tessera-nvidia.sock' */
  readonly socketName?: string;
  readonly layout?: HookLayout;
  /** CDI mode when set. */
  readonly cdi?: CdiOptions;
  /** Publish `hami.io/node-nvidia-score`. @default true */
  readonly topologyScore?: boolean;
  /** How often the devices are re-read. @default 5000 */
  readonly healthIntervalMs?: number;
  /** Longest time between two reads of the Node. @default 30000 */
  readonly registerIntervalMs?: number;
  /** Age under which a container's files are kept even if its pod is not listed. @default 60000 */
  readonly cleanupGraceMs?: number;
  /**
   * Serve the node monitor's `GET /metrics` here (HAMi's vGPUmonitor port is 9394). Absent: no
   * metrics server. `host` @default '0.0.0.0'; `port` @default 9394 (0 picks a free one).
   */
  readonly metrics?: {
    readonly host?: string;
    readonly port?: number;
    /**
     * The `/metrics` URL others reach the monitor at, written to the Node as
     * `tessera.io/node-monitor-url` for the scheduler's dashboard; `{port}` stands for the port
     * listened on (e.g. `http://10.0.3.7:{port}/metrics`). Absent: nothing is advertised.
     */
    readonly advertiseUrl?: string;
  };
  readonly log?: (line: string) => void;
  /** For tests: the API client to use instead of one made from {@link kubeConfig}. */
  readonly client?: KubeClient;
}

export interface RunningNodeAgent {
  /** The devices registered now. */
  devices(): readonly Device[];
  /** The slots advertised to the kubelet now. */
  slots(): readonly PluginDevice[];
  /** Completed node syncs (reads of the Node, patched or not); for tests and health checks. */
  readonly syncs: number;
  /** Runs one round of the loop now (re-read devices, sync the Node). */
  syncNow(): Promise<void>;
  /** `http://<host>:<port>` of the metrics server (scrape `<metricsUrl>/metrics`); null when not serving. */
  readonly metricsUrl: string | null;
  close(): Promise<void>;
}

const NVIDIA_FALLBACK: NvidiaConfig = DEFAULT_DEVICE_CONFIG.nvidia;

export async function startNodeAgent(options: NodeAgentOptions): Promise<RunningNodeAgent> {
  const log = options.log ?? (() => {});
  const config = options.config ?? DEFAULT_DEVICE_CONFIG;
  const nvidia = config.nvidia ?? NVIDIA_FALLBACK;
  const settings = nodeSettings(config, options.nodeName);
  const layout = options.layout ?? DEFAULT_HOOK_LAYOUT;
  const healthIntervalMs = options.healthIntervalMs ?? 5000;
  const registerIntervalMs = options.registerIntervalMs ?? 30_000;
  const topologyScore = options.topologyScore ?? true;
  const client = options.client ?? createKubeClient(options.kubeConfig);
  const locker = new NodeLocker(client);

  let devices: readonly Device[] = [];
  /** `device_type` for metrics: the registered type, else `<vendor>-<name>` for GPUs not registered. */
  let deviceTypes: ReadonlyMap<string, string> = new Map();
  let links: readonly DeviceLink[] = [];
  let byId: ReadonlyMap<string, Device> = new Map();
  let cordoned: ReadonlySet<string> = new Set();
  let slots: readonly PluginDevice[] = [];
  let inventoryText = '';
  let slotsText = '';
  let lastNodeSync = 0;
  let syncs = 0;
  /** Set once the monitor listens, when it is to be advertised. */
  let monitorUrl: string | undefined;
  const listeners = new Set<() => void>();

  const refreshSlots = (): void => {
    const next = deviceSlots(devices, cordoned, settings.enableNumaTopology);
    const text = JSON.stringify(next);
    if (text === slotsText) return;
    slots = next;
    slotsText = text;
    for (const listener of listeners) listener();
  };

  /** Applies a new inventory; true when what is registered changed. */
  const applyInventory = (inventory: DiscoveredInventory): boolean => {
    const registered = registerDevices(inventory, settings);
    deviceTypes = new Map([
      ...inventory.devices.map((d): [string, string] => [d.uuid, `${d.vendor}-${d.name}`]),
      ...registered.devices.map((d): [string, string] => [d.id, d.type]),
    ]);
    const text = `${encodeNodeRegister(registered.devices)}|${registered.links.length > 0 ? encodeNodeScore(registered.links) : ''}`;
    if (text === inventoryText) return false;
    for (const problem of registered.problems) log(`node-agent: ${problem}`);
    devices = registered.devices;
    links = registered.links;
    byId = new Map(devices.map((d) => [d.id, d]));
    inventoryText = text;
    refreshSlots();
    return true;
  };

  applyInventory(await options.backend.inventory());
  log(`node-agent: ${options.backend.source}: ${devices.length} device(s) registered on node ${options.nodeName}`);

  const syncNode = async (): Promise<void> => {
    const node = await client.getNode(options.nodeName);
    const annotations = node.metadata?.annotations ?? {};
    cordoned = decodeDeviceCordon(annotations[NODE_DEVICE_CORDON]);
    refreshSlots();
    const patch = registrationPatch(annotations, { devices, links, topologyScore, ...(monitorUrl !== undefined && { monitorUrl }) }, new Date());
    if (patch !== undefined) {
      await client.mergePatchNode(options.nodeName, { metadata: { annotations: patch } });
      log(`node-agent: node ${options.nodeName}: updated ${Object.keys(patch).join(', ')}`);
    }
    lastNodeSync = Date.now();
    syncs++;
  };

  const cleanUp = async (): Promise<void> => {
    const pods = await client.listPods({ fieldSelector: `spec.nodeName=${options.nodeName}` });
    const live = new Set(pods.items.map((pod) => pod.metadata?.uid ?? ''));
    const removed = await removeOrphanedContainerFiles(
      { hookPath: layout.hookPath, ...(options.cdi && { cdiDir: options.cdi.dir }) },
      live,
      options.cleanupGraceMs ?? 60_000,
    );
    for (const path of removed) log(`node-agent: removed ${path} (its pod is gone)`);
  };

  const round = async (forceNodeSync: boolean): Promise<void> => {
    let changed = false;
    try {
      changed = applyInventory(await options.backend.inventory());
    } catch (error) {
      log(`node-agent: ${options.backend.source}: ${(error as Error).message}; keeping the last inventory`);
    }
    if (changed || forceNodeSync || Date.now() - lastNodeSync >= registerIntervalMs) {
      try {
        await syncNode();
        await cleanUp();
      } catch (error) {
        log(`node-agent: node ${options.nodeName}: ${(error as Error).message}; retrying in ${healthIntervalMs} ms`);
      }
    }
  };

  const allocator = new Allocator({
    client,
    locker,
    nodeName: options.nodeName,
    devices: () => byId,
    settings: () => settings,
    nvidia,
    layout,
    ...(options.cdi && { cdi: options.cdi }),
    log,
  });

  const handlers: DevicePluginHandlers = {
    devices: () => slots,
    onDevicesChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    preferredAllocationAvailable: settings.enableGetPreferredAllocation,
    preferredAllocation: preferredSlots,
    allocate: (requests) => allocator.allocate(requests),
  };

  const pluginDir = options.pluginDir ?? '/var/lib/kubelet/device-plugins';
  const server = new DevicePluginServer({
    pluginDir,
    kubeletSocket: options.kubeletSocket ?? `${pluginDir}/kubelet.sock`,
    socketName: options.socketName ?? 'tessera-nvidia.sock',
    resourceName: nvidia.resourceCountName,
    handlers,
    log,
  });

  // Rounds run one after another: a slow API server must not pile them up, and syncNow must not
  // overlap the timer's round.
  let chain: Promise<void> = Promise.resolve();
  const queueRound = (forceNodeSync = false): Promise<void> => (chain = chain.then(() => round(forceNodeSync)));
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => void queueRound().finally(schedule), healthIntervalMs);
  };
  await queueRound(true);
  await server.start();

  let metricsServer: RunningMetricsServer | undefined;
  if (options.metrics !== undefined) {
    const backend = options.backend;
    const monitor = new NodeMonitor({
      nodeName: options.nodeName,
      hookPath: layout.hookPath,
      ...(backend.usage !== undefined && { usage: () => backend.usage?.() ?? Promise.resolve([]) }),
      deviceTypes: () => deviceTypes,
      pods: cachedPodLookup(async () => (await client.listPods({ fieldSelector: `spec.nodeName=${options.nodeName}` })).items),
      log,
    });
    try {
      metricsServer = await startMetricsServer({
        ...options.metrics,
        render: () => monitor.metrics(),
        contentType: monitor.contentType,
        log,
      });
    } catch (error) {
      await server.stop();
      throw error;
    }
    log(`node-agent: metrics on ${metricsServer.url}/metrics`);
    const advertise = options.metrics.advertiseUrl;
    if (advertise !== undefined) {
      monitorUrl = advertise.replaceAll('{port}', new URL(metricsServer.url).port);
      await queueRound(true);
    }
  }
  schedule();

  return {
    devices: () => devices,
    slots: () => slots,
    get syncs() {
      return syncs;
    },
    async syncNow() {
      await queueRound(true);
    },
    metricsUrl: metricsServer?.url ?? null,
    async close() {
      closed = true;
      clearTimeout(timer);
      await chain;
      await metricsServer?.close();
      await server.stop();
      await options.backend.close();
    },
  };
}
