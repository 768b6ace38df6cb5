/**
 * What the placement engine sees: every node's devices and their usage, kept in flat arrays so
 * that a decision over thousands of nodes touches little memory. Usage changes only through
 * `addPod` and `removePod`, so it always equals the sum of the pods placed; `checkInvariants`
 * proves it in tests.
 */
import { type Device, type DeviceUsage, type HostResources, NO_HOST, type NodeInventory, type PodGrants } from '../device.js';

/** What one pod holds on one device: init containers at their peak, app containers summed. */
export interface DeviceCharge {
  readonly position: number;
  readonly tasks: number;
  readonly memoryMiB: number;
  readonly cores: number;
}

export interface PlacedPod {
  readonly key: string;
  readonly node: string;
  readonly grants: PodGrants;
  readonly initContainers: number;
  readonly charges: readonly DeviceCharge[];
  /** CPU and memory the pod holds on the node. */
  readonly host: HostResources;
}

export class NodeState {
  readonly name: string;
  readonly devices: readonly Device[];
  readonly cordoned: ReadonlySet<string>;
  /** Usage per device position. */
  readonly tasks: Int32Array;
  readonly memory: Float64Array;
  readonly cores: Float64Array;
  /** Pair link scores, devices × devices (0 when unknown). */
  readonly links: Float64Array;
  readonly totalTasks: number;
  readonly totalMemory: number;
  readonly totalCores: number;
  /** Allocatable CPU and memory, or null when the node does not say (then they are not fitted). */
  readonly host: HostResources | null;
  usedCpu = 0;
  usedHostMemory = 0;
  usedTasks = 0;
  usedMemory = 0;
  usedCores = 0;
  /** Bumped on every usage change: caches keyed on it stay exact. */
  version = 0;
  /** The score this node is filed under in the cluster's score order. */
  orderScore = 0;
  /** Marks the node as a candidate of the filter call with this number. */
  candidateMark = 0;
  readonly pods = new Map<string, PlacedPod>();
  private readonly positions: ReadonlyMap<string, number>;

  constructor(inventory: NodeInventory) {
    this.name = inventory.name;
    this.devices = inventory.devices;
    this.cordoned = inventory.cordoned;
    this.host = inventory.host ?? null;
    const n = inventory.devices.length;
    this.tasks = new Int32Array(n);
    this.memory = new Float64Array(n);
    this.cores = new Float64Array(n);
    this.positions = new Map(inventory.devices.map((d, i) => [d.id, i]));
    this.links = new Float64Array(n * n);
    for (const link of inventory.links) {
      const a = this.positions.get(link.from);
      const b = this.positions.get(link.to);
      if (a !== undefined && b !== undefined && a !== b) this.links[a * n + b] = link.score;
    }
    let tasks = 0;
    let memory = 0;
    let cores = 0;
    for (const d of inventory.devices) {
      tasks += d.splitCount;
      memory += d.memoryMiB;
      cores += d.cores;
    }
    this.totalTasks = tasks;
    this.totalMemory = memory;
    this.totalCores = cores;
  }

  /**
   * HAMi's node score: 10 × (tasks used / task slots + compute used / compute + memory used /
   * memory) over the node's devices. Example: 8 devices of 10 slots, 100% and 80 GiB each,
   * holding 8 tasks, 200% and 160 GiB: 10 × (8/80 + 200/800 + 160/640) = 6.
   */
  score(): number {
    if (this.totalTasks === 0 || this.totalCores === 0 || this.totalMemory === 0) return 0;
    return 10 * (this.usedTasks / this.totalTasks + this.usedCores / this.totalCores + this.usedMemory / this.totalMemory);
  }

  position(deviceId: string): number | undefined {
    return this.positions.get(deviceId);
  }

  usage(position: number): DeviceUsage {
    return { tasks: this.tasks[position] ?? 0, memoryMiB: this.memory[position] ?? 0, cores: this.cores[position] ?? 0 };
  }

  /** CPU free on the node, Infinity when the node does not say. */
  freeCpu(): number {
    return this.host ? this.host.cpuMilli - this.usedCpu : Infinity;
  }

  freeHostMemory(): number {
    return this.host ? this.host.memoryMiB - this.usedHostMemory : Infinity;
  }

  apply(charges: readonly DeviceCharge[], sign: 1 | -1, host: HostResources = NO_HOST): void {
    this.usedCpu += sign * host.cpuMilli;
    this.usedHostMemory += sign * host.memoryMiB;
    for (const c of charges) {
      this.tasks[c.position] = (this.tasks[c.position] ?? 0) + sign * c.tasks;
      this.memory[c.position] = (this.memory[c.position] ?? 0) + sign * c.memoryMiB;
      this.cores[c.position] = (this.cores[c.position] ?? 0) + sign * c.cores;
      this.usedTasks += sign * c.tasks;
      this.usedMemory += sign * c.memoryMiB;
      this.usedCores += sign * c.cores;
    }
    this.version++;
  }
}

/**
 * The per-device charge of a pod. Init containers run one after another and before the app
 * containers, so a device carries the larger of the biggest init container and the sum of the
 * app containers, term by term. Example: init takes 8000 MiB/50% of GPU-a, the two app
 * containers 3000 MiB/30% each: the pod holds max(8000, 6000) = 8000 MiB and max(50, 60) = 60%.
 */
export function podCharges(node: NodeState, grants: PodGrants, initContainers: number): DeviceCharge[] {
  const peak = new Map<number, { tasks: number; memoryMiB: number; cores: number }>();
  const sum = new Map<number, { tasks: number; memoryMiB: number; cores: number }>();
  grants.forEach((container, i) => {
    for (const g of container) {
      const position = node.position(g.id);
      if (position === undefined) continue; // a device the node no longer registers
      const into = i < initContainers ? peak : sum;
      const cur = into.get(position) ?? { tasks: 0, memoryMiB: 0, cores: 0 };
      if (into === peak) {
        into.set(position, {
          tasks: 1,
          memoryMiB: Math.max(cur.memoryMiB, g.memoryMiB),
          cores: Math.max(cur.cores, g.cores),
        });
      } else {
        into.set(position, { tasks: cur.tasks + 1, memoryMiB: cur.memoryMiB + g.memoryMiB, cores: cur.cores + g.cores });
      }
    }
  });
  const positions = new Set([...peak.keys(), ...sum.keys()]);
  return [...positions]
    .sort((a, b) => a - b)
    .map((position) => {
      const p = peak.get(position) ?? { tasks: 0, memoryMiB: 0, cores: 0 };
      const s = sum.get(position) ?? { tasks: 0, memoryMiB: 0, cores: 0 };
      return {
        position,
        tasks: Math.max(p.tasks, s.tasks),
        memoryMiB: Math.max(p.memoryMiB, s.memoryMiB),
        cores: Math.max(p.cores, s.cores),
      };
    });
}

function compareOrder(a: NodeState, b: NodeState): number {
  return a.orderScore - b.orderScore || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export class ClusterState {
  private readonly byName = new Map<string, NodeState>();
  private readonly podNode = new Map<string, string>();
  /** Nodes in a stable order: the order of `setNode` calls. */
  nodes: NodeState[] = [];
  /** Devices over all nodes. */
  deviceCount = 0;
  /** The cached `largestNodeDevices`: null once a node is set or removed, until it is next read. */
  private largest: number | null = 0;
  /** Nodes by ascending (score, name), kept in order as usage changes. */
  private readonly ordered: NodeState[] = [];

  private indexOf(node: NodeState): number {
    let lo = 0;
    let hi = this.ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.ordered[mid];
      if (m && compareOrder(m, node) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private unfile(node: NodeState): void {
    const i = this.indexOf(node);
    if (this.ordered[i] === node) this.ordered.splice(i, 1);
  }

  private file(node: NodeState): void {
    node.orderScore = node.score();
    this.ordered.splice(this.indexOf(node), 0, node);
  }

  /**
   * Nodes from the highest score to the lowest (descending) or the reverse; among equal scores
   * always by name, so that walking the order and stopping at the first node that fits chooses
   * exactly the node that scoring every node would.
   */
  *byScore(descending: boolean): Generator<NodeState> {
    const list = this.ordered;
    if (!descending) {
      yield* list;
      return;
    }
    let end = list.length;
    while (end > 0) {
      const last = list[end - 1];
      if (!last) break;
      let start = end - 1;
      while (start > 0 && list[start - 1]?.orderScore === last.orderScore) start--;
      for (let i = start; i < end; i++) {
        const n = list[i];
        if (n) yield n;
      }
      end = start;
    }
  }

  /** Adds or replaces a node's inventory; pods already placed there are charged again on the new devices. */
  setNode(inventory: NodeInventory): NodeState {
    const previous = this.byName.get(inventory.name);
    const state = new NodeState(inventory);
    this.deviceCount += state.devices.length - (previous?.devices.length ?? 0);
    this.largest = null;
    if (previous) {
      this.unfile(previous);
      for (const pod of previous.pods.values()) this.charge(state, pod.key, pod.grants, pod.initContainers, pod.host);
      this.nodes[this.nodes.indexOf(previous)] = state;
    } else {
      this.nodes.push(state);
    }
    this.byName.set(inventory.name, state);
    this.file(state);
    return state;
  }

  removeNode(name: string): void {
    const state = this.byName.get(name);
    if (!state) return;
    this.deviceCount -= state.devices.length;
    this.largest = null;
    for (const key of state.pods.keys()) this.podNode.delete(key);
    this.unfile(state);
    this.byName.delete(name);
    this.nodes = this.nodes.filter((n) => n !== state);
  }

  /** The most devices any one node has (0 without nodes). */
  get largestNodeDevices(): number {
    this.largest ??= this.nodes.reduce((most, n) => Math.max(most, n.devices.length), 0);
    return this.largest;
  }

  node(name: string): NodeState | undefined {
    return this.byName.get(name);
  }

  /**
   * Records a pod's grants (and its CPU and memory) on a node: a placement, or a pod found placed.
   * Replaces an earlier record of the pod.
   */
  addPod(nodeName: string, key: string, grants: PodGrants, initContainers: number, host: HostResources = NO_HOST): PlacedPod {
    this.removePod(key);
    const node = this.byName.get(nodeName);
    if (!node) throw new Error(`addPod: node ${nodeName} is not in the cluster state`);
    return this.charge(node, key, grants, initContainers, host);
  }

  private charge(node: NodeState, key: string, grants: PodGrants, initContainers: number, host: HostResources): PlacedPod {
    const charges = podCharges(node, grants, initContainers);
    const placed: PlacedPod = { key, node: node.name, grants, initContainers, charges, host };
    const filed = this.byName.get(node.name) === node;
    if (filed) this.unfile(node);
    node.apply(charges, 1, host);
    if (filed) this.file(node);
    node.pods.set(key, placed);
    this.podNode.set(key, node.name);
    return placed;
  }

  /** Returns exactly what the pod took. No-op for an unknown pod. */
  removePod(key: string): PlacedPod | undefined {
    const nodeName = this.podNode.get(key);
    if (nodeName === undefined) return undefined;
    this.podNode.delete(key);
    const node = this.byName.get(nodeName);
    const placed = node?.pods.get(key);
    if (!node || !placed) return undefined;
    this.unfile(node);
    node.apply(placed.charges, -1, placed.host);
    this.file(node);
    node.pods.delete(key);
    return placed;
  }

  placedPod(key: string): PlacedPod | undefined {
    const nodeName = this.podNode.get(key);
    return nodeName === undefined ? undefined : this.byName.get(nodeName)?.pods.get(key);
  }

  podCount(): number {
    return this.podNode.size;
  }
}

/**
 * Checks that no device (and no node's CPU or memory) holds more than it has and that usage
 * equals the sum of the pods placed. Returns the violations (empty when all holds).
 */
export function checkInvariants(cluster: ClusterState): string[] {
  const problems: string[] = [];
  for (const node of cluster.nodes) {
    const n = node.devices.length;
    const tasks = new Float64Array(n);
    const memory = new Float64Array(n);
    const cores = new Float64Array(n);
    for (const pod of node.pods.values()) {
      for (const c of pod.charges) {
        tasks[c.position] = (tasks[c.position] ?? 0) + c.tasks;
        memory[c.position] = (memory[c.position] ?? 0) + c.memoryMiB;
        cores[c.position] = (cores[c.position] ?? 0) + c.cores;
      }
    }
    node.devices.forEach((d, i) => {
      const where = `${node.name}/${d.id}`;
      if ((node.tasks[i] ?? 0) !== tasks[i]) problems.push(`${where}: tasks ${String(node.tasks[i])} ≠ pods' ${String(tasks[i])}`);
      if ((node.memory[i] ?? 0) !== memory[i]) problems.push(`${where}: memory ${String(node.memory[i])} ≠ pods' ${String(memory[i])}`);
      if ((node.cores[i] ?? 0) !== cores[i]) problems.push(`${where}: cores ${String(node.cores[i])} ≠ pods' ${String(cores[i])}`);
      if ((node.tasks[i] ?? 0) > d.splitCount) problems.push(`${where}: ${String(node.tasks[i])} tasks > ${String(d.splitCount)}`);
      if ((node.memory[i] ?? 0) > d.memoryMiB) problems.push(`${where}: ${String(node.memory[i])} MiB > ${String(d.memoryMiB)}`);
      if ((node.cores[i] ?? 0) > d.cores) problems.push(`${where}: ${String(node.cores[i])}% > ${String(d.cores)}%`);
    });
    let cpu = 0;
    let hostMemory = 0;
    for (const pod of node.pods.values()) {
      cpu += pod.host.cpuMilli;
      hostMemory += pod.host.memoryMiB;
    }
    if (node.usedCpu !== cpu) problems.push(`${node.name}: CPU used ${String(node.usedCpu)}m ≠ pods' ${String(cpu)}m`);
    if (node.usedHostMemory !== hostMemory) problems.push(`${node.name}: memory used ${String(node.usedHostMemory)} MiB ≠ pods' ${String(hostMemory)} MiB`);
    if (node.host && cpu > node.host.cpuMilli) problems.push(`${node.name}: CPU ${String(cpu)}m > ${String(node.host.cpuMilli)}m`);
    if (node.host && hostMemory > node.host.memoryMiB) problems.push(`${node.name}: memory ${String(hostMemory)} MiB > ${String(node.host.memoryMiB)} MiB`);
  }
  return problems;
}
