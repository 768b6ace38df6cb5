/**
 * The extender's Filter (`POST /filter`), HAMi's semantics (its control plane §2.3): a pod that
 * asks for no managed device passes through untouched; otherwise the placement engine picks one
 * node among the candidates, its devices are charged in the cache, kube-scheduler is told that
 * node alone, and the decision is written into the pod's annotations (`hami.io/vgpu-node`,
 * `-time`, `-devices-to-allocate`, `-devices-allocated`) for the device plugin to serve. The write
 * runs after the answer; Bind waits for it (allocation-writes.ts). Nodes that do not fit get HAMi's
 * reason strings, which kube-scheduler shows in its `FailedScheduling` event.
 */
import { POD_DEVICES_ALLOCATED, POD_DEVICES_TO_ALLOCATE, POD_NODE, POD_TIME } from '../core/annotations.js';
import { encodePodGrants } from '../core/codec/index.js';
import { TesseraError } from '../core/errors.js';
import { ClusterState } from '../core/placement/cluster.js';
import { type Placement, PlacementEngine } from '../core/placement/engine.js';
import { type PodRequest, podRequest } from '../core/request.js';
import type { Vendor } from '../core/vendors/vendor.js';
import type { AllocationWrites } from './allocation-writes.js';
import type { BusyNodes } from './busy-nodes.js';
import { checkQuota, grantsQuotaCharge, type QuotaResources, type ResourceQuotaLike } from '../webhook/quota.js';
import { type ExtenderArgs, type ExtenderFilterResult, filterResult } from './extender-wire.js';
import { type FilterExplanation, nodesByReason } from './explain.js';
import { nodeInventory } from './node-inventory.js';
import { type PodObject, podCacheKey } from './pod-allocation.js';
import type { SchedulerCache } from './scheduler-cache.js';

export type EventType = 'Normal' | 'Warning';

/** What Filter needs from the outside world; the HTTP server wires these to the Kubernetes API. */
export interface FilterDeps {
  readonly cache: SchedulerCache;
  readonly engine: PlacementEngine;
  readonly vendors: readonly Vendor[];
  /** Merge-patches the pod's annotations; rejects when the API server refuses. */
  readonly annotatePod: (pod: PodObject, annotations: Readonly<Record<string, string>>) => Promise<void>;
  /** The annotation writes in flight, shared with Bind, which waits for them. */
  readonly writes: AllocationWrites;
  /** Records a Kubernetes Event on the pod; must not throw. */
  readonly event: (pod: PodObject, type: EventType, reason: string, message: string) => void;
  readonly now: () => Date;
  /** Hears every decision on a pod that asks for devices, for `tessera explain` (see explain.ts). */
  readonly explain?: (pod: PodObject, explanation: FilterExplanation) => void;
  /**
   * Nodes where another pod is between Filter and Allocate (busy-nodes.ts): passed over while
   * another node fits, as a second pod there would fail its Bind on the node lock. Absent: HAMi's
   * choice exactly.
   */
  readonly busy?: BusyNodes;
  /** GPU quota (`limits.nvidia.com/gpumem`, `limits.nvidia.com/gpucores`): the namespace's ResourceQuotas. */
  readonly quota?: { readonly resources: readonly QuotaResources[]; readonly quotas: (namespace: string) => readonly ResourceQuotaLike[] };
}

function podName(pod: PodObject): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}

/** HAMi's FilteringFailed text: one `"<n> nodes <reason>(<node>,…)"` per distinct reason. */
export function failureSummary(failed: ReadonlyMap<string, string>): string {
  const byReason = nodesByReason(failed);
  if (byReason.size === 0) return 'no available node, 0 nodes do not meet';
  return [...byReason.entries()]
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
    .map(([reason, nodes]) => `${String(nodes.length)} nodes ${reason}(${nodes.sort().join(',')})`)
    .join('; ');
}

/** The allocation annotations for a placement (NVIDIA's keys: the only vendor module so far). */
function allocationAnnotations(placement: Placement, now: Date): Record<string, string> {
  const allocation = encodePodGrants(placement.grants);
  return {
    [POD_NODE]: placement.node,
    [POD_TIME]: String(Math.floor(now.getTime() / 1000)),
    [POD_DEVICES_TO_ALLOCATE]: allocation,
    [POD_DEVICES_ALLOCATED]: allocation,
  };
}

function parseRequest(pod: PodObject, deps: FilterDeps): PodRequest | string {
  try {
    return podRequest(pod, deps.vendors);
  } catch (error) {
    if (error instanceof TesseraError) return error.message;
    throw error;
  }
}

/**
 * Cluster Autoscaler's path: full Node objects (often templates of nodes that do not exist yet).
 * The decision is made on a scratch copy of those nodes, with whatever the cache holds on nodes of
 * the same names, and nothing is written or remembered.
 */
function filterSimulation(args: ExtenderArgs & { nodes: NonNullable<ExtenderArgs['nodes']> }, request: PodRequest, deps: FilterDeps): ExtenderFilterResult {
  const scratch = new ClusterState();
  const failed: Record<string, string> = {};
  for (const node of args.nodes) {
    const name = node.metadata?.name ?? '';
    const { inventory } = nodeInventory(node);
    if (!inventory) {
      failed[name] = 'node unregistered';
      continue;
    }
    scratch.setNode(inventory);
    for (const pod of deps.cache.cluster.node(name)?.pods.values() ?? []) {
      scratch.addPod(name, pod.key, pod.grants, pod.initContainers, pod.host);
    }
  }
  const engine = new PlacementEngine(scratch, deps.vendors, deps.engine.defaults, deps.engine.shapes);
  const outcome = engine.filter(request);
  for (const [name, reason] of outcome.failed) failed[name] = reason;
  const chosen = outcome.placement ? args.nodes.filter((n) => n.metadata?.name === outcome.placement?.node) : [];
  return filterResult({ Nodes: { apiVersion: 'v1', kind: 'NodeList', items: chosen }, FailedNodes: failed });
}

/**
 * The namespace's GPU quota against what the chosen devices would add to what its pods hold
 * (HAMi's `ResourceQuotaNotFit`), or null when it fits or no quota applies. The charge is the
 * grant's, so a percentage share costs what it takes on the device chosen.
 */
function quotaRefusal(deps: FilterDeps, namespace: string, grants: Placement['grants'], initContainers: number): string | null {
  if (!deps.quota) return null;
  const quotas = deps.quota.quotas(namespace);
  if (quotas.length === 0) return null;
  const { resources } = deps.quota;
  const verdict = checkQuota(grantsQuotaCharge(grants, initContainers, resources), { quotas, used: deps.cache.namespaceUsage(namespace, resources) }, resources, namespace);
  return verdict.fits ? null : verdict.message;
}

export async function filterPod(args: ExtenderArgs, deps: FilterDeps): Promise<ExtenderFilterResult> {
  const candidates = args.nodeNames?.length ?? args.nodes?.length ?? 0;
  const explain = (pod: PodObject, outcome: FilterExplanation['outcome'], details: Omit<FilterExplanation, 'at' | 'outcome' | 'candidates' | 'failedNodes'> & { failedNodes?: Readonly<Record<string, string>> }): void => {
    deps.explain?.(pod, { at: deps.now().toISOString(), outcome, candidates, failedNodes: {}, ...details });
  };
  const pod = args.pod;
  if (!pod) return filterResult({ Error: 'extender args missing pod' });
  const request = parseRequest(pod, deps);
  if (typeof request === 'string') {
    deps.event(pod, 'Warning', 'FilteringFailed', request);
    explain(pod, 'error', { message: request });
    return filterResult({ Error: request });
  }
  // Not ours to place: kube-scheduler's own filters have decided.
  if (!request.asksDevices) return filterResult({ NodeNames: args.nodeNames, Nodes: args.nodes ? { apiVersion: 'v1', kind: 'NodeList', items: args.nodes } : null });
  if (args.nodes) return filterSimulation({ ...args, nodes: args.nodes }, request, deps);

  const key = podCacheKey(pod);
  // A pod filtered again (its bind failed, or kube-scheduler retried) gives back what it was given,
  // once its earlier decision's write has landed: the two writes must not cross.
  const earlierWrite = deps.writes.pending(key);
  if (earlierWrite) await earlierWrite;
  deps.cache.forget(key);
  deps.busy?.forget(key);
  deps.engine.observe(request);
  const busy = deps.busy;
  const outcome = deps.engine.filter(request, args.nodeNames ?? [], busy ? { avoid: (node) => busy.busy(node) } : {});
  const failed = Object.fromEntries(outcome.failed);
  const placement = outcome.placement;
  if (!placement) {
    const summary = failureSummary(outcome.failed);
    deps.event(pod, 'Warning', 'FilteringFailed', summary);
    explain(pod, 'unschedulable', { failedNodes: failed, fits: 0, message: summary });
    return filterResult({ FailedNodes: failed });
  }
  const initContainers = request.containers.filter((c) => c.init).length;
  const namespace = pod.metadata?.namespace ?? 'default';
  const overQuota = quotaRefusal(deps, namespace, placement.grants, initContainers);
  if (overQuota !== null) {
    deps.event(pod, 'Warning', 'FilteringFailed', overQuota);
    const reason = `ResourceQuotaNotFit (${overQuota})`;
    const refused = Object.fromEntries((args.nodeNames ?? []).map((n) => [n, outcome.failed.get(n) ?? reason]));
    explain(pod, 'unschedulable', { failedNodes: refused, fits: 0, message: overQuota });
    return filterResult({ FailedNodes: refused });
  }
  // Charged at once, so the next Filter already sees this pod's usage while its write is in flight.
  deps.cache.assume(key, placement.node, placement.grants, initContainers, namespace, pod.metadata?.name ?? '');
  // Bind takes the node lock only for a pod given devices.
  if (placement.grants.some((c) => c.length > 0)) deps.busy?.sent(key, placement.node, namespace, pod.metadata?.name ?? '');
  const succeeded = `find fit node(${placement.node}), ${String(outcome.failed.size)} nodes not fit, ${String(outcome.fits)} nodes fit(${placement.node}:${placement.score.toFixed(2)})`;
  deps.writes.track(key, deps.annotatePod(pod, allocationAnnotations(placement, deps.now())), (failure) => {
    if (failure === null) {
      deps.event(pod, 'Normal', 'FilteringSucceed', succeeded);
      return;
    }
    deps.cache.forget(key);
    deps.busy?.forget(key);
    const message = `writing the allocation of ${podName(pod)} failed: ${failure}`;
    deps.event(pod, 'Warning', 'FilteringFailed', message);
    explain(pod, 'error', { message, failedNodes: failed });
  });
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  explain(pod, 'placed', {
    node: placement.node,
    score: placement.score,
    grants: placement.grants,
    containers,
    fits: outcome.fits,
    failedNodes: failed,
    ...(outcome.avoided.length > 0 && { busyNodes: outcome.avoided }),
  });
  // HAMi answers a fit with the chosen node alone: kube-scheduler has no use for the others'
  // reasons once a node passes, and under binpack they are every full node, each Filter.
  return filterResult({ NodeNames: [placement.node] });
}
