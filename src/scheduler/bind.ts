/**
 * The extender's Bind (`POST /bind`), HAMi's semantics (its control plane §2.5): take the node lock
 * (`hami.io/mutex.lock`, one pod between Bind and the device plugin's Allocate per node), mark the
 * pod `hami.io/bind-phase: allocating` with `hami.io/bind-time`, then create its `pods/binding`.
 * The device plugin releases the lock once it has served the pod. Any failure releases the lock
 * again and is answered as `{"Error": …}`, so kube-scheduler retries the pod.
 */
import { POD_BIND_PHASE, POD_BIND_TIME } from '../core/annotations.js';
import type { ExtenderBindingArgs, ExtenderBindingResult } from './extender-wire.js';
import type { EventType } from './filter.js';
import { type PodObject, podCacheKey } from './pod-allocation.js';
import type { SchedulerCache } from './scheduler-cache.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** What Bind needs from the outside world; the server wires these to the Kubernetes API. */
export interface BindDeps {
  readonly cache: SchedulerCache;
  /** The pod as the informer has it, or null when it does not exist. */
  readonly getPod: (ref: PodRef) => PodObject | null;
  /** Takes HAMi's node lock for the pod; rejects with HAMi's message on contention. */
  readonly lockNode: (node: string, owner: PodRef) => Promise<void>;
  /** Releases the lock if the pod holds it; must not reject for a lock held by someone else. */
  readonly unlockNode: (node: string, owner: PodRef) => Promise<void>;
  readonly annotatePod: (ref: PodRef, annotations: Readonly<Record<string, string>>) => Promise<void>;
  /** Creates the pod's `pods/binding` to the node. */
  readonly bindPod: (ref: PodRef, uid: string, node: string) => Promise<void>;
  readonly event: (pod: PodObject, type: EventType, reason: string, message: string) => void;
  readonly now: () => Date;
}

export async function bindPod(args: ExtenderBindingArgs, deps: BindDeps): Promise<ExtenderBindingResult> {
  const ref: PodRef = { namespace: args.podNamespace, name: args.podName };
  const pod = deps.getPod(ref);
  if (!pod) {
    // A pod deleted between Filter and Bind: give back what Filter assumed for it.
    if (args.podUID !== '') deps.cache.forget(args.podUID);
    return { Error: `bind ${ref.namespace}/${ref.name}: the pod does not exist (deleted after Filter?)` };
  }
  const allocation = deps.cache.allocation(podCacheKey(pod));
  // Only pods with devices to serve take the lock: it guards the device plugin's Allocate.
  const locks = allocation !== undefined && allocation.grants.some((c) => c.length > 0);
  let locked = false;
  try {
    if (locks) {
      await deps.lockNode(args.node, ref);
      locked = true;
    }
    await deps.annotatePod(ref, {
      [POD_BIND_PHASE]: 'allocating',
      [POD_BIND_TIME]: String(Math.floor(deps.now().getTime() / 1000)),
    });
    await deps.bindPod(ref, args.podUID === '' ? (pod.metadata?.uid ?? '') : args.podUID, args.node);
  } catch (error) {
    const message = `bind ${ref.namespace}/${ref.name} to ${args.node}: ${(error as Error).message}`;
    if (locked) {
      try {
        await deps.unlockNode(args.node, ref);
      } catch (unlockError) {
        deps.event(pod, 'Warning', 'BindingFailed', `${message}; releasing the node lock failed too: ${(unlockError as Error).message}`);
        return { Error: message };
      }
    }
    deps.event(pod, 'Warning', 'BindingFailed', message);
    return { Error: message };
  }
  deps.event(pod, 'Normal', 'BindingSucceed', `Successfully binding node [${args.node}] to ${ref.namespace}/${ref.name}`);
  return { Error: '' };
}
