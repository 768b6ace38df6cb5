/**
 * The dashboard's what-if: how many more pods of one shape the cluster holds as it is now, with
 * GPUs shared (each GPU takes as many shares as its free task slots, memory and compute allow)
 * and without (each pod takes whole GPUs that hold nothing yet). The difference is what sharing
 * buys this cluster.
 *
 * Counted per node and summed: a pod's GPUs must be distinct devices of one node, so a node
 * whose devices each have room for `k_d` more shares holds `P` more pods of `g` GPUs exactly
 * when `Σ_d min(k_d, P) ≥ g·P` (a pod takes one share from each of `g` devices; the largest `P`
 * follows by bisection). Link topology and placement policy do not change the count, only which
 * devices are chosen, so they are left out; unhealthy and cordoned GPUs hold nothing.
 */
import type { NodeState } from '../core/placement/cluster.js';
import type { WhatIfView } from './view.js';

export interface PodShape {
  /** GPUs per pod, all on one node. */
  readonly gpus: number;
  /** Device memory per GPU, MiB. */
  readonly memoryMiB: number;
  /** Compute per GPU, percent of one device. */
  readonly cores: number;
  /** Only GPUs whose type contains this (case-insensitive), e.g. `A100`; null for any. */
  readonly type: string | null;
}

/** How many more shares of `shape` device `position` of `node` takes. */
function freeShares(node: NodeState, position: number, shape: PodShape): number {
  const d = node.devices[position];
  if (d === undefined || !d.healthy || node.cordoned.has(d.id)) return 0;
  const u = node.usage(position);
  const slots = d.splitCount - u.tasks;
  const memory = shape.memoryMiB === 0 ? Infinity : Math.floor((d.memoryMiB - u.memoryMiB) / shape.memoryMiB);
  // HAMi gives a pod asking for 100% cores a device nobody else holds compute on; cores 0 are free.
  const cores = shape.cores === 0 ? Infinity : Math.floor((d.cores - u.cores) / shape.cores);
  return Math.max(0, Math.min(slots, memory, cores));
}

/** The most pods of `gpus` GPUs each that devices with room for `room[d]` shares hold. */
export function podsFromRoom(room: readonly number[], gpus: number): number {
  const usable = room.filter((k) => k > 0);
  if (usable.length < gpus) return 0;
  const holds = (pods: number): boolean => usable.reduce((sum, k) => sum + Math.min(k, pods), 0) >= gpus * pods;
  let low = 0;
  let high = Math.floor(usable.reduce((a, b) => a + b, 0) / gpus);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (holds(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

function matches(type: string, wanted: string | null): boolean {
  return wanted === null || type.toLowerCase().includes(wanted.toLowerCase());
}

export function whatIf(nodes: Iterable<NodeState>, shape: PodShape): WhatIfView {
  let withSharing = 0;
  let wholeGpus = 0;
  let considered = 0;
  for (const node of nodes) {
    const shared: number[] = [];
    let idle = 0;
    node.devices.forEach((d, position) => {
      if (!matches(d.type, shape.type)) return;
      considered++;
      const room = freeShares(node, position, shape);
      shared.push(room);
      if (room > 0 && node.usage(position).tasks === 0) idle++;
    });
    withSharing += podsFromRoom(shared, shape.gpus);
    wholeGpus += Math.floor(idle / shape.gpus);
  }
  return { request: { gpus: shape.gpus, memoryMiB: shape.memoryMiB, cores: shape.cores, type: shape.type }, withSharing, wholeGpus, gpusConsidered: considered };
}

/** Bounds on the query's numbers, for the error messages and the parser alike. */
const LIMITS = { gpus: [1, 64], memory: [0, 16 * 1024 * 1024], cores: [0, 100] } as const;

/**
 * Reads `gpus`, `memory` (MiB per GPU), `cores` (percent per GPU) and `type` from a query string.
 * Returns the shape, or an error naming the parameter and its value.
 */
export function parseShape(query: URLSearchParams): PodShape | { error: string } {
  const numbers: Record<keyof typeof LIMITS, number> = { gpus: 1, memory: 0, cores: 0 };
  for (const key of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
    const raw = query.get(key);
    if (raw === null || raw === '') continue;
    const value = Number(raw);
    const [min, max] = LIMITS[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      return { error: `${key}=${JSON.stringify(raw)} is not a whole number from ${String(min)} to ${String(max)}` };
    }
    numbers[key] = value;
  }
  if (numbers.memory === 0 && numbers.cores === 0) {
    return { error: 'give memory (MiB per GPU) or cores (percent per GPU), e.g. ?gpus=1&memory=8192&cores=25' };
  }
  const type = query.get('type')?.trim() ?? '';
  return { gpus: numbers.gpus, memoryMiB: numbers.memory, cores: numbers.cores, type: type === '' ? null : type };
}
