/**
 * A pod's GPU request, read once from the Pod object: what each container asks of each vendor
 * (init containers first, in the order the allocation annotations use), the pod's device
 * constraints, and its scheduling policy annotations. Throws RequestError for anything that
 * cannot be honoured as written, naming the container (or annotation) and the value.
 */
import { POD_DEVICE_POLICY, POD_NODE_POLICY, POD_SCORING_WEIGHTS } from './annotations.js';
import type { HostResources } from './device.js';
import { RequestError } from './errors.js';
import type { ContainerSpec, PodLike } from './pod.js';
import { parseScaledQuantity } from './quantity.js';
import type { DeviceConstraints, Vendor, VendorAsk } from './vendors/vendor.js';

/** How nodes are chosen among those that fit. */
export type NodePolicy = 'binpack' | 'spread' | 'fragmentation';
export const NODE_POLICIES: readonly NodePolicy[] = ['binpack', 'spread', 'fragmentation'];

/**
 * How devices are chosen within a node. `binpack`, `spread` and `numa` order the devices (in the
 * order written); `mutex` (only idle devices) and `topology-aware` (best-linked set) are rules
 * applied on top, as in HAMi's policy chains (`"mutex,binpack,numa"`).
 */
export type DevicePolicyKey = 'binpack' | 'spread' | 'numa' | 'topology-aware' | 'mutex';
export const DEVICE_POLICY_KEYS: readonly DevicePolicyKey[] = ['binpack', 'spread', 'numa', 'topology-aware', 'mutex'];

/** Weights of the device score's three terms (`hami.io/device-scoring-weights`). */
export interface ScoringWeights {
  readonly slot: number;
  readonly core: number;
  readonly memory: number;
}

export interface ContainerRequest {
  readonly name: string;
  readonly init: boolean;
  /** Position in initContainers ++ containers: the index in the allocation annotations. */
  readonly position: number;
  readonly asks: readonly VendorAsk[];
}

export interface PodRequest {
  readonly containers: readonly ContainerRequest[];
  /** Device constraints per vendor name. */
  readonly constraints: ReadonlyMap<string, DeviceConstraints>;
  readonly nodePolicy: NodePolicy | null;
  readonly devicePolicy: readonly DevicePolicyKey[] | null;
  readonly weights: ScoringWeights | null;
  /** True when some container asks for a device. */
  readonly asksDevices: boolean;
  /**
   * CPU and memory the pod requests, as the kubelet admits it: the larger of the biggest init
   * container and the sum of the app containers.
   */
  readonly host: HostResources;
}

export function parseNodePolicy(value: string, field = POD_NODE_POLICY): NodePolicy {
  const v = value.trim();
  if ((NODE_POLICIES as readonly string[]).includes(v)) return v as NodePolicy;
  throw new RequestError('(pod)', field, value, `must be one of ${NODE_POLICIES.join(', ')}`);
}

/** A device policy or chain: `spread`, `"mutex,binpack,numa"`. */
export function parseDevicePolicy(value: string, field = POD_DEVICE_POLICY): DevicePolicyKey[] {
  const keys = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (keys.length === 0) throw new RequestError('(pod)', field, value, 'names no policy');
  for (const k of keys) {
    if (!(DEVICE_POLICY_KEYS as readonly string[]).includes(k)) {
      throw new RequestError('(pod)', field, value, `has unknown policy "${k}" (known: ${DEVICE_POLICY_KEYS.join(', ')})`);
    }
  }
  if (keys.includes('binpack') && keys.includes('spread')) {
    throw new RequestError('(pod)', field, value, 'asks for both binpack and spread');
  }
  return keys as DevicePolicyKey[];
}

/** `slot=1,core=1,memory=3`: exactly these three, non-negative integers, not all zero (HAMi's rule). */
export function parseScoringWeights(value: string, field = POD_SCORING_WEIGHTS): ScoringWeights {
  const seen = new Map<string, number>();
  for (const part of value.split(',')) {
    const m = /^\s*(slot|core|memory)\s*=\s*(\d{1,6})\s*$/.exec(part);
    if (!m?.[1] || m[2] === undefined) {
      throw new RequestError('(pod)', field, value, 'must be slot=<n>,core=<n>,memory=<n> with non-negative integers');
    }
    if (seen.has(m[1])) throw new RequestError('(pod)', field, value, `names ${m[1]} twice`);
    seen.set(m[1], Number(m[2]));
  }
  const slot = seen.get('slot');
  const core = seen.get('core');
  const memory = seen.get('memory');
  if (slot === undefined || core === undefined || memory === undefined) {
    throw new RequestError('(pod)', field, value, 'must name slot, core and memory');
  }
  if (slot + core + memory === 0) throw new RequestError('(pod)', field, value, 'must not be all zero');
  return { slot, core, memory };
}

function containerRequest(container: ContainerSpec, init: boolean, position: number, vendors: readonly Vendor[]) {
  const asks: VendorAsk[] = [];
  for (const vendor of vendors) {
    const ask = vendor.containerAsk(container);
    if (ask) asks.push(ask);
  }
  return { name: container.name, init, position, asks };
}

/** A container's CPU or memory request (Kubernetes copies a limit to an absent request). */
function hostRequest(container: ContainerSpec, name: 'cpu' | 'memory'): number {
  const raw = container.resources?.requests?.[name] ?? container.resources?.limits?.[name];
  if (raw === undefined) return 0;
  const v = parseScaledQuantity(raw, name === 'cpu' ? 'milli' : 'MiB');
  if (typeof v === 'string') throw new RequestError(container.name, `resources.requests.${name}`, String(raw), `is ${v}`);
  return v;
}

function podHost(init: readonly ContainerSpec[], app: readonly ContainerSpec[]): HostResources {
  const total = (name: 'cpu' | 'memory'): number => {
    const sum = app.reduce((s, c) => s + hostRequest(c, name), 0);
    return init.reduce((m, c) => Math.max(m, hostRequest(c, name)), sum);
  };
  return { cpuMilli: total('cpu'), memoryMiB: total('memory') };
}

export function podRequest(pod: PodLike, vendors: readonly Vendor[]): PodRequest {
  const init = pod.spec?.initContainers ?? [];
  const app = pod.spec?.containers ?? [];
  if (app.length === 0) throw new RequestError('(pod)', 'spec.containers', '[]', 'pod has no containers');
  const containers = [
    ...init.map((c, i) => containerRequest(c, true, i, vendors)),
    ...app.map((c, i) => containerRequest(c, false, init.length + i, vendors)),
  ];
  const annotations = pod.metadata?.annotations ?? {};
  const constraints = new Map(vendors.map((v) => [v.name, v.constraints(annotations)] as const));
  const nodePolicy = annotations[POD_NODE_POLICY];
  const devicePolicy = annotations[POD_DEVICE_POLICY];
  const weights = annotations[POD_SCORING_WEIGHTS];
  return {
    containers,
    constraints,
    nodePolicy: nodePolicy === undefined ? null : parseNodePolicy(nodePolicy),
    devicePolicy: devicePolicy === undefined ? null : parseDevicePolicy(devicePolicy),
    weights: weights === undefined ? null : parseScoringWeights(weights),
    asksDevices: containers.some((c) => c.asks.length > 0),
    host: podHost(init, app),
  };
}
