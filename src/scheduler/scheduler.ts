/**
 * The scheduler extender process, wired: informers on nodes and pods feed the cache, Filter and
 * Bind talk to the API server through the `KubeClient` port, and Lease-based leader election
 * decides which replica may answer. Every replica keeps its caches warm, so a follower that takes
 * over answers at once; usage is rebuilt from pod annotations, so a restart loses nothing.
 */
import type { KubeConfig } from '@kubernetes/client-node';

import { DEFAULT_DEVICE_CONFIG, type CompiledDeviceConfig } from '../config/device-config.js';
import { vendorsFromConfig } from '../config/vendors.js';
import { TesseraError } from '../core/errors.js';
import { ClusterState } from '../core/placement/cluster.js';
import { PlacementEngine } from '../core/placement/engine.js';
import { podRequest } from '../core/request.js';
import {
  createKubeClient,
  createNodeInformer,
  createPodInformer,
  type Informer,
  type KubeClient,
  LeaderElector,
  type LeaderElectionOptions,
  EventRecorder,
  LeaseFollower,
  NodeLocker,
  type Node,
  type Pod,
  type ResourceQuota,
  ResilientInformer,
} from '../k8s/index.js';
import { NODE_MONITOR_URL } from '../core/annotations.js';
import { waitingPods } from '../dashboard/build-view.js';
import { Dashboard, type DashboardOptions } from '../dashboard/server.js';
import { NodeUsageScraper } from '../dashboard/node-usage.js';
import { AllocationWrites } from './allocation-writes.js';
import { type BindDeps, bindPod } from './bind.js';
import { BusyNodes } from './busy-nodes.js';
import { ExplanationLog, serveExplain } from './explain.js';
import { extenderHandler, type ExtenderServer, startExtenderServer } from './extender-server.js';
import { type FilterDeps, filterPod } from './filter.js';
import { type MetricsServer, SchedulerMetrics, startMetricsServer } from './metrics.js';
import { type PodObject, podCacheKey } from './pod-allocation.js';
import { SchedulerCache } from './scheduler-cache.js';
import { namespaceQuotaUsage, quotaResourcesFromConfig } from '../webhook/quota.js';
import { startWebhookServer, type TlsFiles, type WebhookServer } from '../webhook/server.js';

/** HAMi's scheduler name; pods routed by the webhook carry it. */
export const DEFAULT_SCHEDULER_NAME = 'hami-scheduler';

export interface SchedulerOptions {
  readonly kubeConfig: KubeConfig;
  /** @default HAMi's defaults */
  readonly config?: CompiledDeviceConfig;
  /** `source.component` of the Events recorded. @default 'hami-scheduler' */
  readonly schedulerName?: string;
  readonly host?: string;
  readonly port?: number;
  /** Several replicas: only the holder of this Lease decides. Omit for a single replica. */
  readonly leaderElection?: Pick<
    LeaderElectionOptions,
    'namespace' | 'name' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs' | 'releaseOnStop'
  >;
  /**
   * Several replicas beside kube-scheduler: lead while the kube-scheduler in this pod holds its
   * Lease (`holderIdentity` = `<identity>_…`), as HAMi's extender does. Excludes {@link leaderElection}.
   */
  readonly followLease?: { readonly namespace: string; readonly name: string; readonly identity: string; readonly pollMs?: number };
  /**
   * Serve the mutating admission webhook from this process too, as HAMi does, on its own port
   * (HTTPS when `tls` is given; the API server calls webhooks over HTTPS only).
   */
  readonly webhook?: { readonly host?: string; readonly port?: number; readonly tls?: TlsFiles; readonly shareExtenderPort?: false } | { readonly shareExtenderPort: true; readonly tls?: TlsFiles };
  /**
   * Serve Prometheus metrics (`GET /metrics`, docs/metrics.md) on their own port. HAMi's address is
   * `:9395`; `port` 0 takes any free port. @default off (the metrics are still recorded)
   */
  readonly metrics?: { readonly host?: string; readonly port?: number };
  /**
   * The web dashboard at `/ui` on the metrics port (docs/dashboard.md), with usage read from the
   * node monitors each node advertises. `false` turns it off. @default on, with metrics
   */
  readonly dashboard?:
    | false
    | (Pick<DashboardOptions, 'bundleDir' | 'historyIntervalMs' | 'pushIntervalMs'> & {
        readonly usageIntervalMs?: number;
        /** Read the node monitors only while someone looks at the dashboard ('watched'), or always. @default 'watched' */
        readonly readUsage?: 'watched' | 'always';
      });
  /**
   * Pass over a node where another pod is between Filter and the device plugin's Allocate while
   * another node fits (busy-nodes.ts): HAMi's node lock would fail the second pod's Bind. `false`
   * chooses exactly as HAMi does. @default true
   */
  readonly avoidBusyNodes?: boolean;
  /** Log lines (problems with nodes or pods, leadership changes). @default stderr */
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
  /** Tests inject a client; by default one is made from `kubeConfig`. */
  readonly client?: KubeClient;
}

export interface RunningScheduler {
  readonly url: string;
  /** The webhook's URL when `webhook` was asked for. */
  readonly webhookUrl: string | null;
  /** The metrics endpoint (`http://host:port/metrics`) when `metrics` was asked for. */
  readonly metricsUrl: string | null;
  /** The scheduler's metrics registry and the Filter and Bind recorders. */
  readonly metrics: SchedulerMetrics;
  /** The dashboard when served (with metrics, unless turned off). */
  readonly dashboard: Dashboard | null;
  /** The last Filter and Bind of each pod, as `GET /api/v1/explain/<ns>/<name>` serves them. */
  readonly explanations: ExplanationLog;
  readonly cache: SchedulerCache;
  /** Whether this replica may decide now (caches synced and, with election, leading). */
  ready(): boolean;
  isLeader(): boolean;
  close(): Promise<void>;
}

function ref(pod: PodObject): { kind: 'Pod'; name: string; namespace: string; uid?: string } {
  const uid = pod.metadata?.uid;
  return { kind: 'Pod', name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? 'default', ...(uid ? { uid } : {}) };
}

export async function startScheduler(options: SchedulerOptions): Promise<RunningScheduler> {
  if (options.leaderElection !== undefined && options.followLease !== undefined) {
    throw new TesseraError('TESSERA_ERR_INPUT', 'scheduler: choose one of leaderElection (a Lease of its own) and followLease (kube-scheduler\'s), not both');
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const component = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
  const client = options.client ?? createKubeClient(options.kubeConfig);
  const config = options.config ?? DEFAULT_DEVICE_CONFIG;
  const vendors = vendorsFromConfig(config);
  const cluster = new ClusterState();
  const cache = new SchedulerCache(cluster, log);
  const engine = new PlacementEngine(cluster, vendors);
  const writes = new AllocationWrites();

  const onError = (error: unknown, context: { informer: string; during: string }) => log(`informer ${context.informer} (${context.during}): ${String(error)}`);
  const nodes: Informer<Node> = createNodeInformer(options.kubeConfig, { client, onError });
  const pods: Informer<Pod> = createPodInformer(options.kubeConfig, { client, onError });
  const busy = options.avoidBusyNodes === false ? undefined : new BusyNodes({ node: (name) => nodes.get(name), now });
  nodes.on('add', (n) => cache.upsertNode(n));
  nodes.on('update', (n) => {
    cache.upsertNode(n);
    busy?.nodeChanged(n);
  });
  nodes.on('delete', (n) => cache.removeNode(n.metadata?.name ?? ''));
  pods.on('add', (p) => cache.upsertPod(p));
  pods.on('update', (p) => cache.upsertPod(p));
  pods.on('delete', (p) => {
    cache.removePod(p);
    writes.forget(podCacheKey(p));
    busy?.forget(podCacheKey(p));
  });
  // ResourceQuotas for GPU quota in Filter (`limits.nvidia.com/gpumem`, `limits.nvidia.com/gpucores`).
  const quotas: Informer<ResourceQuota> = new ResilientInformer<ResourceQuota>(
    options.kubeConfig,
    { path: '/api/v1/resourcequotas', description: 'resourcequotas in all namespaces', list: () => client.listResourceQuotas() },
    { onError },
  );
  nodes.start();
  pods.start();
  quotas.start();

  let leading = options.leaderElection === undefined && options.followLease === undefined;
  const follow = options.followLease;
  const follower = follow
    ? new LeaseFollower(client, {
        ...follow,
        onStartedLeading: () => {
          leading = true;
          log(`${follow.identity}: kube-scheduler in this pod holds lease ${follow.namespace}/${follow.name}; serving filter and bind`);
        },
        onStoppedLeading: () => {
          leading = false;
          log(`${follow.identity}: kube-scheduler in this pod does not hold lease ${follow.namespace}/${follow.name}; refusing filter and bind`);
        },
        onError: (error) => log(`following lease ${follow.namespace}/${follow.name}: ${String(error)}`),
      })
    : null;
  follower?.start();
  const elector = options.leaderElection
    ? new LeaderElector(client, {
        ...options.leaderElection,
        onStartedLeading: () => {
          leading = true;
          log(`${options.leaderElection?.identity ?? ''}: leading; serving filter and bind`);
        },
        onStoppedLeading: () => {
          leading = false;
          log(`${options.leaderElection?.identity ?? ''}: no longer leading; refusing filter and bind`);
        },
        onError: (error) => log(`leader election: ${String(error)}`),
      })
    : null;
  elector?.start();

  const ready = (): boolean => leading && nodes.hasSynced() && pods.hasSynced() && quotas.hasSynced();
  // Off the decision path, and a pod retried by kube-scheduler gets one Event with a count.
  const recorder = new EventRecorder(client, { onError: (message) => log(message) });
  const event = (pod: PodObject, type: 'Normal' | 'Warning', reason: string, message: string): void => {
    recorder.record({ involvedObject: ref(pod), type, reason, message, component });
  };

  const explanations = new ExplanationLog();
  const filterDeps: FilterDeps = {
    cache,
    engine,
    vendors,
    explain: (pod, explanation) => explanations.filtered(pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? '', explanation),
    annotatePod: async (pod, annotations) => {
      // From the next turn of the event loop: Filter's answer is written first, and the patch's
      // request (built and sent in this thread) does not delay it. Bind waits for the patch anyway.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await client.mergePatchPod(pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? '', { metadata: { annotations: { ...annotations } } });
    },
    writes,
    ...(busy && { busy }),
    event,
    now,
    quota: { resources: quotaResourcesFromConfig(config), quotas: (namespace) => quotas.list(namespace) },
  };
  // The node informer's copy spares a GET per bind when it is current (a stale one costs a 409).
  const locker = new NodeLocker(client, { now, cached: (name) => nodes.get(name) });
  const bindDeps: BindDeps = {
    cache,
    getPod: (r) => pods.get(r.name, r.namespace) ?? null,
    lockNode: async (node, owner) => {
      const result = await locker.acquire(node, owner);
      if (!result.acquired) throw new Error(result.message);
    },
    unlockNode: async (node, owner) => {
      await locker.release(node, owner);
    },
    asksDevices: (pod) => {
      try {
        return podRequest(pod, vendors).asksDevices;
      } catch {
        return true;
      }
    },
    bindPod: (r, uid, node, annotations) => client.bindPod(r.namespace, r.name, node, { annotations, ...(uid === '' ? {} : { uid }) }),
    writes,
    ...(busy && { busy }),
    event,
    now,
  };

  const quotaResources = quotaResourcesFromConfig(config);
  const metrics = new SchedulerMetrics({
    cache,
    quotas: () => quotas.list(),
    quotaResources,
    ready,
    onError: (error) => log(`metrics: ${String(error)}`),
  });

  const dashboardOptions = options.metrics && options.dashboard !== false ? (options.dashboard ?? {}) : null;
  const scraper: NodeUsageScraper | null = dashboardOptions
    ? new NodeUsageScraper({
        targets: function* () {
          for (const node of nodes.list()) {
            const name = node.metadata?.name ?? '';
            const url = node.metadata?.annotations?.[NODE_MONITOR_URL];
            if (url !== undefined && url !== '' && cluster.node(name) !== undefined) yield { node: name, url };
          }
        },
        ...(dashboardOptions.usageIntervalMs !== undefined && { intervalMs: dashboardOptions.usageIntervalMs }),
        ...(dashboardOptions.readUsage !== 'always' && { active: (): boolean => dashboard?.watched() ?? false }),
      })
    : null;
  const dashboard: Dashboard | null = dashboardOptions
    ? new Dashboard({
        ...dashboardOptions,
        cluster,
        owner: (key) => cache.allocation(key),
        usage: (node) => scraper?.get(node),
        waiting: () => waitingPods(pods.list(), component),
        explanation: (namespace, name) => explanations.get(namespace, name),
        now,
      })
    : null;

  let server: Pick<ExtenderServer, 'url' | 'close'> | undefined;
  let webhook: WebhookServer | undefined;
  let metricsServer: MetricsServer | undefined;
  const extenderOptions = {
    filter: metrics.instrumentFilter((args: Parameters<typeof filterPod>[0]) => filterPod(args, filterDeps)),
    bind: metrics.instrumentBind(async (args: Parameters<typeof bindPod>[0]) => {
      const result = await bindPod(args, bindDeps);
      explanations.bound(args.podNamespace, args.podName, { at: now().toISOString(), node: args.node, error: result.Error });
      return result;
    }),
    ready,
    onError: (error: unknown, path: string) => log(`extender ${path}: ${String(error)}`),
  };
  const webhookOptions = options.webhook;
  const admission: Pick<Parameters<typeof startWebhookServer>[0], 'admission' | 'lookupNamespace' | 'onError'> = {
    admission: { config, vendors, schedulerName: component },
    // The namespace's labels, its ResourceQuotas, and what its pods hold (from the pod informer).
    lookupNamespace: async (namespace) => {
      const [ns, quotas] = await Promise.all([client.getNamespace(namespace), client.listResourceQuotas({ namespace })]);
      const { used } = namespaceQuotaUsage(pods.list(namespace), quotaResourcesFromConfig(config));
      return { labels: ns.metadata?.labels ?? {}, quota: { quotas: quotas.items, used } };
    },
    onError: (error, where) => log(`webhook ${where}: ${String(error)}`),
  };
  try {
    if (webhookOptions?.shareExtenderPort === true) {
      // HAMi's layout: one (HTTPS) server for /webhook, /filter, /bind and the probes.
      webhook = await startWebhookServer({
        ...admission,
        fallback: extenderHandler(extenderOptions),
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(webhookOptions.tls === undefined ? {} : { tls: webhookOptions.tls }),
      });
      server = webhook;
    } else if (webhookOptions) {
      webhook = await startWebhookServer({
        ...admission,
        ...(webhookOptions.host === undefined ? {} : { host: webhookOptions.host }),
        ...(webhookOptions.port === undefined ? {} : { port: webhookOptions.port }),
        ...(webhookOptions.tls === undefined ? {} : { tls: webhookOptions.tls }),
      });
    }
    server ??= await startExtenderServer({
      ...extenderOptions,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    if (options.metrics) {
      metricsServer = await startMetricsServer(metrics, {
        ...options.metrics,
        onError: (error) => log(`metrics: ${String(error)}`),
        routes: (request, response) => serveExplain(explanations, request, response) || (dashboard?.route(request, response) ?? false),
      });
      scraper?.start();
      dashboard?.start();
    }
  } catch (error) {
    await Promise.all([
      nodes.stop(),
      pods.stop(),
      quotas.stop(),
      elector?.stop(),
      follower?.stop(),
      webhook?.close(),
      server !== webhook ? server?.close() : undefined,
    ]);
    throw error;
  }
  const extender = server;
  return {
    url: extender.url,
    webhookUrl: webhook?.url ?? null,
    metricsUrl: metricsServer?.url ?? null,
    metrics,
    explanations,
    dashboard,
    cache,
    ready,
    isLeader: () => leading,
    close: async () => {
      dashboard?.stop();
      await Promise.all([extender.close(), webhook !== extender ? webhook?.close() : undefined, metricsServer?.close(), scraper?.stop()]);
      await elector?.stop();
      await follower?.stop();
      await Promise.race([writes.drain().then(() => recorder.flush()), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      await Promise.all([nodes.stop(), pods.stop(), quotas.stop()]);
    },
  };
}
