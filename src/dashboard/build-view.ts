/**
 * Builds the dashboard's document from what the scheduler knows (its cache of nodes and pods,
 * the last Filter of each pod) and what the node monitors report. Pure: the server gathers the
 * inputs and this decides nothing but presentation.
 */
import type { ClusterState, NodeState } from '../core/placement/cluster.js';
import type { Explanation } from '../scheduler/explain.js';
import { byText, type GpuView, type HistoryView, type NodeView, type PendingView, type ShareView, type Totals } from './view.js';
import type { NodeUsage } from './node-usage.js';

/** Who holds a cache key: a pod's namespace and name. */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
}

/** A pod waiting for the scheduler. */
export interface WaitingPod extends PodIdentity {
  readonly createdAt: string | null;
}

/** The parts of a Pod {@link waitingPods} reads; a client-node `V1Pod` fits as is. */
export interface WaitingPodObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly creationTimestamp?: Date | string; readonly deletionTimestamp?: Date | string };
  readonly spec?: { readonly schedulerName?: string; readonly nodeName?: string };
  readonly status?: { readonly phase?: string };
}

/** Pods that ask this scheduler for a node and have none yet (not being deleted). */
export function waitingPods(pods: readonly WaitingPodObject[], schedulerName: string): WaitingPod[] {
  const out: WaitingPod[] = [];
  for (const pod of pods) {
    if (pod.spec?.schedulerName !== schedulerName || (pod.spec.nodeName ?? '') !== '' || pod.metadata?.deletionTimestamp !== undefined) continue;
    const phase = pod.status?.phase;
    if (phase !== undefined && phase !== 'Pending') continue;
    const created = new Date(pod.metadata?.creationTimestamp ?? Number.NaN);
    out.push({
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      createdAt: Number.isNaN(created.getTime()) ? null : created.toISOString(),
    });
  }
  return out;
}

export interface ViewInputs {
  readonly cluster: ClusterState;
  /** The pod behind a cache key (undefined: shown under the key itself). */
  readonly owner: (key: string) => PodIdentity | undefined;
  /** Usage per node name, as the node monitors last reported it. */
  readonly usage: (node: string) => NodeUsage | undefined;
  readonly waiting: readonly WaitingPod[];
  readonly explanation: (namespace: string, name: string) => Explanation | undefined;
  readonly history: HistoryView;
  readonly now: Date;
}

export const NO_MONITOR = 'no usage: the node advertises no monitor (tessera.io/node-monitor-url)';

/** One line on why a waiting pod waits. */
export function pendingReason(explanation: Explanation | undefined): string {
  const filter = explanation?.filter;
  if (filter === undefined) return 'waiting for the scheduler: no Filter recorded yet';
  if (filter.outcome === 'placed') {
    const bind = explanation?.bind;
    if (bind !== undefined && bind.error !== '') return `bind to ${bind.node} failed: ${bind.error}`;
    return `placed on ${filter.node ?? '?'}, waiting for bind`;
  }
  if (filter.message !== undefined && filter.message !== '') return filter.message;
  const nodes = Object.keys(filter.failedNodes).length;
  return nodes === 0 ? 'no node was offered to the scheduler' : `no node fits (${String(nodes)} refused)`;
}

function shareOf(owner: PodIdentity | undefined, key: string, memoryMiB: number, cores: number, used: number | null): ShareView {
  return { namespace: owner?.namespace ?? '', pod: owner?.name ?? key, memoryMiB, cores, memoryUsedMiB: used };
}

/** One node's view: its GPUs with what is allocated (the cache) and what is used (its monitor). */
export function buildNode(node: NodeState, usage: NodeUsage | undefined, owner: ViewInputs['owner']): NodeView {
  const shares: ShareView[][] = node.devices.map(() => []);
  for (const placed of node.pods.values()) {
    const who = owner(placed.key);
    for (const charge of placed.charges) {
      const device = node.devices[charge.position];
      const used = who && device ? (usage?.containers.get(`${who.namespace}/${who.name}/${device.id}`) ?? null) : null;
      shares[charge.position]?.push(shareOf(who, placed.key, charge.memoryMiB, charge.cores, used));
    }
  }
  const gpus: GpuView[] = node.devices.map((d, position) => {
    const u = node.usage(position);
    const measured = usage?.devices.get(d.id);
    return {
      id: d.id,
      index: d.index,
      type: d.type,
      memoryMiB: d.memoryMiB,
      cores: d.cores,
      splitCount: d.splitCount,
      healthy: d.healthy,
      cordoned: node.cordoned.has(d.id),
      tasks: u.tasks,
      memoryAllocatedMiB: u.memoryMiB,
      coresAllocated: u.cores,
      memoryUsedMiB: measured?.memoryUsedMiB ?? null,
      utilization: measured?.utilization ?? null,
      shares: (shares[position] ?? []).sort((a, b) => byText(a.namespace, b.namespace) || byText(a.pod, b.pod)),
    };
  });
  return { name: node.name, gpus, usageProblem: usage === undefined ? NO_MONITOR : usage.problem };
}

/**
 * Every node's view and its JSON, kept between documents: a node is built again only when its
 * allocations changed (the node state's version moves on every pod placed or removed, and a node
 * re-registered is a new state) or its monitor was read again (a new usage record). A cluster of
 * 1,000 nodes mostly holds still between two documents, so most of a document is reused.
 */
export class NodeViews {
  private readonly memo = new WeakMap<NodeState, { readonly version: number; readonly usage: NodeUsage | undefined; readonly view: NodeView; readonly json: string }>();

  /** The nodes sorted by name, each with its JSON. */
  build(inputs: Pick<ViewInputs, 'cluster' | 'owner' | 'usage'>): { readonly views: NodeView[]; readonly json: string[] } {
    const entries: { readonly view: NodeView; readonly json: string }[] = [];
    for (const node of inputs.cluster.nodes) {
      const usage = inputs.usage(node.name);
      let entry = this.memo.get(node);
      if (entry === undefined || entry.version !== node.version || entry.usage !== usage) {
        const view = buildNode(node, usage, inputs.owner);
        entry = { version: node.version, usage, view, json: JSON.stringify(view) };
        this.memo.set(node, entry);
      }
      entries.push(entry);
    }
    entries.sort((a, b) => byText(a.view.name, b.view.name));
    return { views: entries.map((e) => e.view), json: entries.map((e) => e.json) };
  }
}

export function buildPending(inputs: Pick<ViewInputs, 'waiting' | 'explanation'>): PendingView[] {
  return inputs.waiting
    .map((pod) => {
      const explanation = inputs.explanation(pod.namespace, pod.name);
      return {
        namespace: pod.namespace,
        name: pod.name,
        since: pod.createdAt,
        reason: pendingReason(explanation),
        failedNodes: explanation?.filter?.failedNodes ?? {},
      };
    })
    .sort((a, b) => byText(a.since ?? '', b.since ?? '') || byText(a.namespace, b.namespace) || byText(a.name, b.name));
}

export function totalsOf(nodes: readonly NodeView[], pods: number, pending: number): Totals {
  let gpus = 0;
  let memory = 0;
  let allocated = 0;
  let cores = 0;
  let coresAllocated = 0;
  let used: number | null = null;
  let utilization = 0;
  let measured = 0;
  for (const node of nodes) {
    for (const g of node.gpus) {
      gpus++;
      memory += g.memoryMiB;
      allocated += g.memoryAllocatedMiB;
      cores += g.cores;
      coresAllocated += g.coresAllocated;
      if (g.memoryUsedMiB !== null) used = (used ?? 0) + g.memoryUsedMiB;
      if (g.utilization !== null) {
        utilization += g.utilization;
        measured++;
      }
    }
  }
  return {
    nodes: nodes.length,
    gpus,
    memoryMiB: memory,
    memoryAllocatedMiB: allocated,
    memoryUsedMiB: used,
    cores,
    coresAllocated,
    utilization: measured === 0 ? null : utilization / measured,
    pods,
    pending,
  };
}

/** The namespaces that hold shares or wait, sorted. */
export function namespacesOf(nodes: readonly NodeView[], pending: readonly PendingView[]): string[] {
  const names = new Set<string>();
  for (const node of nodes) for (const gpu of node.gpus) for (const share of gpu.shares) names.add(share.namespace);
  for (const p of pending) names.add(p.namespace);
  return [...names].sort();
}
