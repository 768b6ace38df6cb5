/**
 * The extender's Bind (`POST /bind`), HAMi's semantics (its control plane §2.5): take the node lock
 * (`hami.io/mutex.lock`, one pod between Bind and the device plugin's Allocate per node), then
 * create the pod's `pods/binding` carrying `hami.io/bind-phase: allocating` and `hami.io/bind-time`.
 * HAMi patches the two annotations first and binds second; a Binding's annotations are copied onto
 * the pod with `spec.nodeName` in the same write, so the device plugin sees the same pod one API
 * round trip sooner, and a failed binding leaves no pod marked allocating. The device plugin
 * releases the lock once it has served the pod. Bind first waits for Filter's write of the
 * allocation (allocation-writes.ts). Any failure releases the lock again and is answered as
 * `{"Error": …}`, so kube-scheduler retries the pod.
 */
import { POD_BIND_PHASE, POD_BIND_TIME } from '../core/annotations.js';
import type { AllocationWrites } from './allocation-writes.js';
import type { BusyNodes } from './busy-nodes.js';
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
  /** Creates the pod's `pods/binding` to the node, with annotations for the pod. */
  readonly bindPod: (ref: PodRef, uid: string, node: string, annotations: Readonly<Record<string, string>>) => Promise<void>;
  /** Whether the pod asks for a managed device (an unreadable request counts as asking). */
  readonly asksDevices: (pod: PodObject) => boolean;
  /** Filter's annotation writes, which Bind waits for. */
  readonly writes: AllocationWrites;
  /** Nodes Filter passes over while a pod is on its way to their lock; a failed Bind is no longer on its way. */
  readonly busy?: BusyNodes;
  readonly event: (pod: PodObject, type: EventType, reason: string, message: string) => void;
  readonly now: () => Date;
}

export async function bindPod(args: ExtenderBindingArgs, deps: BindDeps): Promise<ExtenderBindingResult> {
  const ref: PodRef = { namespace: args.podNamespace, name: args.podName };
  const pod = deps.getPod(ref);
  if (!pod) {
    // A pod deleted between Filter and Bind: give back what Filter assumed for it.
    if (args.podUID !== '') {
      deps.cache.forget(args.podUID);
      deps.busy?.forget(args.podUID);
    }
    return { Error: `bind ${ref.namespace}/${ref.name}: the pod does not exist (deleted after Filter?)` };
  }
  const key = podCacheKey(pod);
  const result = await bindExisting(args, deps, ref, pod, key);
  if (result.Error !== '') deps.busy?.forget(key);
  return result;
}

async function bindExisting(args: ExtenderBindingArgs, deps: BindDeps, ref: PodRef, pod: PodObject, key: string): Promise<ExtenderBindingResult> {
  const unwritten = await deps.writes.written(key);
  if (unwritten !== null) {
    return { Error: `bind ${ref.namespace}/${ref.name}: its allocation was not written (${unwritten}); it must be filtered again` };
  }
  const allocation = deps.cache.allocation(key);
  if (allocation === undefined && deps.asksDevices(pod)) {
    // Filtered by a scheduler that has since died, before its decision was written: nothing holds
    // devices for the pod, and binding it would leave the device plugin nothing to serve.
    return { Error: `bind ${ref.namespace}/${ref.name}: no devices are held for it (its Filter's decision was lost); it must be filtered again` };
  }
  // Only pods with devices to serve take the lock: it guards the device plugin's Allocate.
  const locks = allocation !== undefined && allocation.grants.some((c) => c.length > 0);
  let locked = false;
  try {
    if (locks) {
      await deps.lockNode(args.node, ref);
      locked = true;
    }
    await deps.bindPod(ref, args.podUID === '' ? (pod.metadata?.uid ?? '') : args.podUID, args.node, {
      [POD_BIND_PHASE]: 'allocating',
      [POD_BIND_TIME]: String(Math.floor(deps.now().getTime() / 1000)),
    });
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
