/**
 * Nodes where a pod is on its way from Filter to the device plugin's Allocate. HAMi's node lock
 * (`hami.io/mutex.lock`) lets one pod at a time be between Bind and Allocate on a node, so a second
 * pod sent there meanwhile fails its Bind ("node lock contention") and kube-scheduler retries it
 * after a backoff of a second or more (HAMi #1130). Under binpack, where consecutive pods all want
 * the fullest node, that is most pods. Filter therefore passes over a busy node while another fits
 * (the placement engine's `avoid`), and takes it only when nothing else fits.
 *
 * A node is busy while the informer's copy shows a live lock on it (taken by any scheduler), or
 * while a pod this scheduler sent there is still on its way to taking the lock: from Filter until
 * the informer shows that pod's lock, or its Bind fails, or it is filtered again or deleted. A pod
 * whose Bind never comes (kube-scheduler gave up on it) stops counting after `pendingTtlMs`.
 *
 * This is a preference, not a guard: the lock's conditional write is what keeps two pods from
 * being allocated at once, and a wrong guess here costs only a less preferred node or a retry.
 */
import { lockExpired, readLock } from '../k8s/node-lock.js';

/** How long a pod sent to a node keeps it busy when neither its lock nor its Bind's end is seen. */
export const PENDING_TTL_MS = 10_000;

interface Pending {
  readonly node: string;
  readonly namespace: string;
  readonly name: string;
  readonly sinceMs: number;
}

/** The node as the informer has it; only its lock annotation is read. */
interface NodeLike {
  readonly metadata?: { readonly name?: string; readonly annotations?: Readonly<Record<string, string>> };
}

export interface BusyNodesOptions {
  /** The informer's copy of a node, or undefined when it has none. */
  readonly node: (name: string) => NodeLike | undefined;
  readonly now: () => Date;
  /** @default {@link PENDING_TTL_MS} */
  readonly pendingTtlMs?: number;
}

export class BusyNodes {
  /** By pod cache key. */
  private readonly pending = new Map<string, Pending>();
  /** Pod cache keys by node. */
  private readonly byNode = new Map<string, Set<string>>();
  private readonly pendingTtlMs: number;

  constructor(private readonly options: BusyNodesOptions) {
    this.pendingTtlMs = options.pendingTtlMs ?? PENDING_TTL_MS;
  }

  /** Filter sent the pod to the node, where its Bind will take the lock. */
  sent(key: string, node: string, namespace: string, name: string): void {
    this.forget(key);
    this.pending.set(key, { node, namespace, name, sinceMs: this.options.now().getTime() });
    let keys = this.byNode.get(node);
    if (!keys) this.byNode.set(node, (keys = new Set()));
    keys.add(key);
  }

  /** The pod will not take the lock where it was sent: its Bind failed, or it was filtered again or deleted. */
  forget(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.pending.delete(key);
    const keys = this.byNode.get(entry.node);
    keys?.delete(key);
    if (keys?.size === 0) this.byNode.delete(entry.node);
  }

  /**
   * The informer's new copy of a node: a pod whose lock it shows is followed through the
   * annotation from now on (the device plugin's release clears it).
   */
  nodeChanged(node: NodeLike): void {
    const name = node.metadata?.name ?? '';
    const keys = this.byNode.get(name);
    if (!keys) return;
    const read = readLock(node.metadata?.annotations);
    const owner = read && 'lock' in read ? read.lock.owner : null;
    if (owner === null) return;
    // Deleting from a Set while iterating it is safe: the loop does not revisit or skip entries.
    for (const key of keys) {
      const entry = this.pending.get(key);
      if (entry && entry.namespace === owner.namespace && entry.name === owner.name) this.forget(key);
    }
  }

  /**
   * Whether a pod is between Filter and Allocate on the node, as far as this scheduler can tell. A
   * lock older than HAMi's timeout does not count: Bind takes it over.
   */
  busy(name: string): boolean {
    const keys = this.byNode.get(name);
    if (keys) {
      const oldest = this.options.now().getTime() - this.pendingTtlMs;
      for (const key of keys) {
        const entry = this.pending.get(key);
        if (entry && entry.sinceMs > oldest) return true;
        this.forget(key);
      }
    }
    return this.lockLive(name);
  }

  /** Pods sent to nodes and not yet seen holding a lock. */
  get size(): number {
    return this.pending.size;
  }

  private lockLive(name: string): boolean {
    const read = readLock(this.options.node(name)?.metadata?.annotations);
    if (read === undefined) return false;
    // Bind refuses a lock it cannot read (its age and owner are unknown), so the node is busy.
    return 'unreadable' in read || !lockExpired(read.lock, this.options.now());
  }
}
