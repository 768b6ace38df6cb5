/**
 * Which pod the kubelet is starting when it calls `Allocate`. The kubelet does not say (the call
 * carries only device slot ids), so the agent finds it as HAMi's device plugin does:
 *
 * 1. The node lock (`hami.io/mutex.lock` on the Node) names the pod the scheduler bound last; the
 *    lock is held from Bind until this agent has served the pod, so that pod is the one waiting.
 * 2. Failing that (a legacy lock without owner, a lock already expired or released), the pods on
 *    this node that were bound by the scheduler (`hami.io/bind-time`, `bind-phase` allocating or
 *    success, `hami.io/vgpu-node` = this node), still Pending, with a container left to allocate;
 *    the earliest bound first.
 */
import { NODE_LOCK, POD_BIND_PHASE, POD_BIND_TIME, POD_DEVICES_TO_ALLOCATE, POD_NODE } from '../../core/annotations.js';
import { decodeNodeLock } from '../../core/codec/index.js';
import { DecodeError } from '../../core/errors.js';
import { isNotFound, type KubeClient, type Pod } from '../../k8s/client.js';

/** A segment of the to-allocate annotation with a device in it: `<uuid>,<type>,…`. */
function hasEntryLeft(annotation: string | undefined): boolean {
  return annotation !== undefined && annotation.split(';').some((segment) => segment.includes(','));
}

/** Whether `pod` is bound to `nodeName` by the scheduler and still waits for devices. */
export function isWaitingForDevices(pod: Pod, nodeName: string): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  const phase = annotations[POD_BIND_PHASE];
  return (
    (pod.status?.phase ?? 'Pending') === 'Pending' &&
    pod.metadata?.deletionTimestamp === undefined &&
    annotations[POD_BIND_TIME] !== undefined &&
    (phase === 'allocating' || phase === 'success') &&
    annotations[POD_NODE] === nodeName &&
    hasEntryLeft(annotations[POD_DEVICES_TO_ALLOCATE])
  );
}

function bindTime(pod: Pod): number {
  const value = Number(pod.metadata?.annotations?.[POD_BIND_TIME]);
  return Number.isFinite(value) ? value : Number.POSITIVE_INFINITY;
}

/** The lock owner's pod, if the lock names one and that pod is waiting here. */
async function fromNodeLock(client: KubeClient, nodeName: string): Promise<Pod | undefined> {
  const node = await client.getNode(nodeName);
  const value = node.metadata?.annotations?.[NODE_LOCK];
  if (value === undefined) return undefined;
  let owner;
  try {
    owner = decodeNodeLock(value).owner;
  } catch (error) {
    if (error instanceof DecodeError) return undefined;
    throw error;
  }
  if (owner === null) return undefined;
  try {
    const pod = await client.getPod(owner.namespace, owner.name);
    return isWaitingForDevices(pod, nodeName) ? pod : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The pod waiting for devices on `nodeName`, or undefined when there is none.
 *
 * @throws KubeApiError when the API server cannot be read
 */
export async function findPendingPod(client: KubeClient, nodeName: string): Promise<Pod | undefined> {
  const locked = await fromNodeLock(client, nodeName);
  if (locked !== undefined) return locked;
  const pods = await client.listPods({ fieldSelector: `spec.nodeName=${nodeName}` });
  const waiting = pods.items.filter((pod) => isWaitingForDevices(pod, nodeName));
  waiting.sort((a, b) => bindTime(a) - bindTime(b));
  return waiting[0];
}
