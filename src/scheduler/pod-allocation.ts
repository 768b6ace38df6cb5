/**
 * What a pod holds, read back from the annotations the scheduler wrote at Filter
 * (`hami.io/vgpu-node`, `hami.io/vgpu-devices-allocated`). Usage is rebuilt from these alone, as
 * HAMi's scheduler does (§2.6 of its control plane), so a restarted scheduler, or a second replica,
 * arrives at exactly the usage the first one had, and never double-allocates.
 */
import { POD_DEVICES_ALLOCATED, POD_NODE } from '../core/annotations.js';
import { decodePodGrants } from '../core/codec/index.js';
import type { PodGrants } from '../core/device.js';
import type { PodLike } from '../core/pod.js';

/** The parts of a Pod read here, on top of `PodLike`; a client-node `V1Pod` fits as is. */
export interface PodObject extends PodLike {
  readonly status?: {
    readonly phase?: string;
    readonly initContainerStatuses?: readonly { readonly state?: { readonly terminated?: { readonly exitCode?: number } } }[];
  };
}

export interface PodAllocation {
  readonly node: string;
  /** The pod's namespace, for GPU quota. */
  readonly namespace: string;
  /** The pod's name, for the per-container metrics ('' when unknown). */
  readonly name: string;
  /** Per container, init containers first, as the allocation annotation has them. */
  readonly grants: PodGrants;
  /** How many of `grants` belong to init containers (their peak is charged, not their sum). */
  readonly initContainers: number;
}

/** The key the scheduler files a pod under: its UID, which a re-created pod of the same name does not share. */
export function podCacheKey(pod: PodLike): string {
  const uid = pod.metadata?.uid;
  return uid !== undefined && uid !== '' ? uid : `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}

/** Succeeded and Failed pods hold nothing: their containers are gone. */
function terminated(pod: PodObject): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** All init containers ran to success: from then on only the app containers hold devices. */
function initDone(pod: PodObject, initContainers: number): boolean {
  const statuses = pod.status?.initContainerStatuses ?? [];
  return initContainers > 0 && statuses.length === initContainers && statuses.every((s) => s.state?.terminated?.exitCode === 0);
}

/**
 * The pod's allocation, or null when it holds nothing (no scheduler decision, or finished).
 *
 * @throws DecodeError when the allocation annotation is malformed, naming the field
 */
export function podAllocation(pod: PodObject, key = POD_DEVICES_ALLOCATED): PodAllocation | null {
  const annotations = pod.metadata?.annotations ?? {};
  const node = annotations[POD_NODE];
  const text = annotations[key];
  if (node === undefined || node === '' || text === undefined || terminated(pod)) return null;
  const grants = decodePodGrants(text, key);
  const initContainers = Math.min(pod.spec?.initContainers?.length ?? 0, grants.length);
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  if (initDone(pod, initContainers)) {
    return { node, namespace, name, grants: grants.map((g, i) => (i < initContainers ? [] : g)), initContainers };
  }
  return { node, namespace, name, grants, initContainers };
}
