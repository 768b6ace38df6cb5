/**
 * The scheduler's view of the cluster, kept from Node and Pod events in any order: node inventories
 * from their device annotations, usage from pods' allocation annotations, plus the decisions Filter
 * has made that the pod informer has not yet echoed back ("assumed" pods, as kube-scheduler calls
 * them). A pod seen before its node is kept aside and charged when the node registers; a node
 * that goes away keeps its pods aside too, so they are charged again if it returns.
 */
import type { PodGrants } from '../core/device.js';
import type { ClusterState } from '../core/placement/cluster.js';
import { grantsQuotaCharge, type QuotaResources } from '../webhook/quota.js';
import { type PodAllocation, type PodObject, podAllocation, podCacheKey } from './pod-allocation.js';
import { inventoryInputs, type NodeObject, nodeInventory, NVIDIA_NODE_KEYS, type VendorNodeKeys } from './node-inventory.js';

export class SchedulerCache {
  /** Every pod holding devices, whether or not its node is registered now. */
  private readonly pods = new Map<string, PodAllocation>();
  /** Pods recorded by `assume` whose annotations the informer has not shown yet. */
  private readonly assumed = new Set<string>();
  /** Per node, what its inventory was last read from (`inventoryInputs`). */
  private readonly nodeInputs = new Map<string, string>();
  /** Last problem reported per node or pod, so a steady problem is reported once, not on every event. */
  private readonly reported = new Map<string, string>();

  constructor(
    readonly cluster: ClusterState,
    private readonly report: (problem: string) => void,
    private readonly keys: readonly VendorNodeKeys[] = [NVIDIA_NODE_KEYS],
  ) {}

  private tell(subject: string, problems: readonly string[]): void {
    const text = problems.join('; ');
    if (text === '') {
      this.reported.delete(subject);
      return;
    }
    if (this.reported.get(subject) === text) return;
    this.reported.set(subject, text);
    this.report(text);
  }

  /** A node was added or changed: its inventory is read again, and pods on it are charged on the new devices. */
  upsertNode(node: NodeObject): void {
    const name = node.metadata?.name ?? '';
    // Most node updates touch nothing the inventory is read from (the node lock is taken and
    // released on every bind): reading it again would only invalidate every cached score.
    const inputs = inventoryInputs(node, this.keys);
    if (this.nodeInputs.get(name) === inputs) return;
    this.nodeInputs.set(name, inputs);
    const { inventory, problems } = nodeInventory(node, this.keys);
    this.tell(`node/${name}`, problems);
    if (!inventory) {
      this.cluster.removeNode(name);
      return;
    }
    const known = this.cluster.node(name) !== undefined;
    this.cluster.setNode(inventory);
    if (known) return; // setNode carried the node's pods over
    for (const [key, a] of this.pods) if (a.node === name) this.cluster.addPod(name, key, a.grants, a.initContainers);
  }

  removeNode(name: string): void {
    this.nodeInputs.delete(name);
    this.cluster.removeNode(name);
    this.reported.delete(`node/${name}`);
  }

  /** A pod was added or changed. A malformed allocation is reported and the pod's previous record kept. */
  upsertPod(pod: PodObject): void {
    const key = podCacheKey(pod);
    let allocation: PodAllocation | null;
    try {
      allocation = podAllocation(pod);
    } catch (error) {
      this.tell(`pod/${key}`, [`pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}: ${(error as Error).message}`]);
      return;
    }
    this.tell(`pod/${key}`, []);
    if (allocation) this.hold(key, allocation);
    else if (!this.assumedOnly(key, pod)) this.forget(key);
  }

  removePod(pod: PodObject): void {
    this.forget(podCacheKey(pod));
    this.reported.delete(`pod/${podCacheKey(pod)}`);
  }

  /** Records Filter's decision before the pod's annotations come back through the informer. */
  assume(key: string, node: string, grants: PodGrants, initContainers: number, namespace = 'default', name = ''): void {
    this.hold(key, { node, namespace, name, grants, initContainers }, true);
  }

  /** What the namespace's pods hold, per quota resource (assumed pods included). */
  namespaceUsage(namespace: string, resources: readonly QuotaResources[]): Record<string, number> {
    const used: Record<string, number> = {};
    for (const a of this.pods.values()) {
      if (a.namespace !== namespace) continue;
      for (const [name, amount] of Object.entries(grantsQuotaCharge(a.grants, a.initContainers, resources))) used[name] = (used[name] ?? 0) + amount;
    }
    return used;
  }

  /** Drops a pod's usage (deleted, finished, or about to be filtered again). */
  forget(key: string): void {
    this.pods.delete(key);
    this.assumed.delete(key);
    this.cluster.removePod(key);
  }

  /** Where the cache holds the pod, if anywhere. */
  allocation(key: string): PodAllocation | undefined {
    return this.pods.get(key);
  }

  /** Pods filed, with their allocations (for quota accounting and checks). */
  entries(): IterableIterator<[string, PodAllocation]> {
    return this.pods.entries();
  }

  /**
   * An update of an assumed pod that does not carry the annotations yet (the informer can deliver
   * an older version of the pod after Filter patched it) must not drop the assumption.
   */
  private assumedOnly(key: string, pod: PodObject): boolean {
    const phase = pod.status?.phase;
    return this.assumed.has(key) && phase !== 'Succeeded' && phase !== 'Failed';
  }

  private hold(key: string, allocation: PodAllocation, assumed = false): void {
    this.pods.set(key, allocation);
    if (assumed) this.assumed.add(key);
    else this.assumed.delete(key);
    if (this.cluster.node(allocation.node)) this.cluster.addPod(allocation.node, key, allocation.grants, allocation.initContainers);
    else this.cluster.removePod(key);
  }
}
