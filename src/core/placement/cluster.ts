/**
 * What the placement engine sees: every node's devices and their usage, kept in flat arrays so
 * that a decision over thousands of nodes touches little memory. Usage changes only through
 * `addPod` and `removePod`, so it always equals the sum of the pods placed; `checkInvariants`
 * proves it in tests.
 */
import type { Device, DeviceUsage, NodeInventory, PodGrants } from '../device.js';

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
  usedTasks = 0;
  usedMemory = 0;
  usedCores = 0;
  /** Bumped on every usage change: caches keyed on it stay exact. */
  version = 0;
  readonly pods = new Map<string, PlacedPod>();
  private readonly positions: ReadonlyMap<string, number>;

  constructor(inventory: NodeInventory) {
    this.name = inventory.name;
    this.devices = inventory.devices;
    this.cordoned = inventory.cordoned;
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

  position(deviceId: string): number | undefined {
    return this.positions.get(deviceId);
  }

  usage(position: number): DeviceUsage {
    return { tasks: this.tasks[position] ?? 0, memoryMiB: this.memory[position] ?? 0, cores: this.cores[position] ?? 0 };
  }

  apply(charges: readonly DeviceCharge[], sign: 1 | -1): void {
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

export class ClusterState {
  private readonly byName = new Map<string, NodeState>();
  private readonly podNode = new Map<string, string>();
  /** Nodes in a stable order: the order of `setNode` calls. */
  nodes: NodeState[] = [];

  /** Adds or replaces a node's inventory; pods already placed there are charged again on the new devices. */
  setNode(inventory: NodeInventory): NodeState {
    const previous = this.byName.get(inventory.name);
    const state = new NodeState(inventory);
    if (previous) {
      for (const pod of previous.pods.values()) this.charge(state, pod.key, pod.grants, pod.initContainers);
      this.nodes[this.nodes.indexOf(previous)] = state;
    } else {
      this.nodes.push(state);
    }
    this.byName.set(inventory.name, state);
    return state;
  }

  removeNode(name: string): void {
    const state = this.byName.get(name);
    if (!state) return;
    for (const key of state.pods.keys()) this.podNode.delete(key);
    this.byName.delete(name);
    this.nodes = this.nodes.filter((n) => n !== state);
  }

  node(name: string): NodeState | undefined {
    return this.byName.get(name);
  }

  /** Records a pod's grants on a node (a placement, or a pod found placed). Replaces an earlier record of the pod. */
  addPod(nodeName: string, key: string, grants: PodGrants, initContainers: number): PlacedPod {
    this.removePod(key);
    const node = this.byName.get(nodeName);
    if (!node) throw new Error(`addPod: node ${nodeName} is not in the cluster state`);
    return this.charge(node, key, grants, initContainers);
  }

  private charge(node: NodeState, key: string, grants: PodGrants, initContainers: number): PlacedPod {
    const charges = podCharges(node, grants, initContainers);
    const placed: PlacedPod = { key, node: node.name, grants, initContainers, charges };
    node.apply(charges, 1);
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
    node.apply(placed.charges, -1);
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
 * Checks that no device holds more than it has and that usage equals the sum of the pods
 * placed. Returns the violations (empty when all holds).
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
  }
  return problems;
}
