/**
 * HAMi's per-node bind lock (`pkg/util/nodelock`), on the node annotation `hami.io/mutex.lock`:
 * the scheduler takes it at Bind, the device plugin releases it after Allocate. While a pod holds
 * it no other HAMi pod can be bound to that node, so the plugin's `Allocate` can find "the" pod
 * being bound from the annotation alone. Tessera takes and releases it exactly as HAMi does, so a
 * Tessera scheduler and a HAMi device plugin (or the reverse) interoperate.
 *
 * Taking it is a compare-and-swap on the Node: a merge patch carrying the `resourceVersion` that
 * was read, so of several schedulers (or goroutines, or Tessera replicas) racing for one node
 * exactly one write lands and the others get 409 `Conflict`, re-read, and find it held.
 *
 * A lock held by another pod is refused unless it is stale: older than 5 minutes (HAMi's
 * `NodeLockTimeout`, `time.Since(lockTime) > 5m`), or its owner pod no longer exists (deleted
 * between Bind and Allocate). A stale lock is replaced in the same conditional write, not
 * released first and then re-taken as HAMi does, so no other binder can slip in between.
 */
import { NODE_LOCK } from '../core/annotations.js';
import { decodeNodeLock, encodeNodeLock, type NodeLock, type NodeLockOwner } from '../core/codec/node-lock.js';
import { DecodeError } from '../core/errors.js';
import { isConflict, isNotFound, type KubeClient } from './client.js';

/**
 * Turns of the event loop the lock waits for the informer's copy of the node to catch up before
 * reading the node afresh. In the extender bench (binpack: every bind waits for the previous
 * pod's release on the same node), 0 turns left about a third of 2,000 binds reading the node, 1
 * turn about 15%, and 3 turns under 1%; each GET saved is an API round trip.
 */
const CACHE_CATCH_UP_TURNS = 3;

export type { NodeLock, NodeLockOwner } from '../core/codec/node-lock.js';

/** HAMi's `NodeLockTimeout`: a lock older than this may be taken over. */
export const NODE_LOCK_TIMEOUT_MS = 5 * 60 * 1000;

/** Why the lock could be taken. */
export type AcquiredHow =
  /** The node was not locked. */
  | 'free'
  /** The same pod already held it (HAMi treats this as acquired and leaves the time as it was). */
  | 'already-held'
  /** Another pod's lock was older than the timeout and was replaced. */
  | 'expired'
  /** The pod holding it no longer exists, and the lock was replaced. */
  | 'owner-gone';

/** Why the lock could not be taken or released. */
export type RefusedReason =
  /** Another live pod holds it and it has not expired. */
  | 'held'
  /** The annotation is in no format this code reads, so its age and owner are unknown. */
  | 'unreadable'
  /** Every conditional write lost a race; retry later. */
  | 'contended'
  /** (release) The node is not locked. */
  | 'not-locked'
  /** (release) Another pod holds it. */
  | 'other-owner';

export type AcquireResult =
  | { readonly acquired: true; readonly how: AcquiredHow; readonly previous?: NodeLock }
  | { readonly acquired: false; readonly reason: RefusedReason; readonly holder?: NodeLock; readonly message: string };

export type ReleaseResult =
  | { readonly released: true }
  | { readonly released: false; readonly reason: RefusedReason; readonly holder?: NodeLock; readonly message: string };

export interface NodeLockOptions {
  /** Clock for lock times and expiry. @default () => new Date() */
  readonly now?: () => Date;
  /** Age after which another pod's lock may be taken over. @default {@link NODE_LOCK_TIMEOUT_MS} */
  readonly timeoutMs?: number;
  /** Conditional writes to try before giving up as `contended` (HAMi's backoff has 5 steps). @default 5 */
  readonly maxAttempts?: number;
  /**
   * Wait after the first lost write, doubled after each further one, plus up to half again at
   * random (HAMi: 100 ms, factor 2, jitter 0.5). @default 100
   */
  readonly retryDelayMs?: number;
  /**
   * The node as a local cache (an informer) has it. When it shows no lock, the first conditional
   * write is made against its resourceVersion instead of a fresh GET; if the cache was behind,
   * the write loses (409) and the lock is taken the usual way at once. A lock the cache shows is
   * always read afresh: it may be gone already.
   */
  readonly cached?: (nodeName: string) => { readonly metadata?: { readonly annotations?: Readonly<Record<string, string>>; readonly resourceVersion?: string } } | undefined;
}

/** A lock value as the codec reads it, or the reason it cannot; `undefined` when the node has none. */
export type ReadLock = { readonly lock: NodeLock } | { readonly unreadable: string } | undefined;

/** HAMi's expiry rule (`time.Since(lockTime) > NodeLockTimeout`): past it, another pod may take the lock over. */
export function lockExpired(lock: NodeLock, now: Date, timeoutMs = NODE_LOCK_TIMEOUT_MS): boolean {
  return now.getTime() - lock.at.getTime() > timeoutMs;
}

/** The node's lock annotation, decoded. */
export function readLock(annotations: Readonly<Record<string, string>> | undefined): ReadLock {
  const value = annotations?.[NODE_LOCK];
  if (value === undefined) return undefined;
  try {
    return { lock: decodeNodeLock(value) };
  } catch (error) {
    if (error instanceof DecodeError) return { unreadable: error.message };
    throw error;
  }
}

function sameOwner(lock: NodeLock, owner: NodeLockOwner): boolean {
  return lock.owner !== null && lock.owner.namespace === owner.namespace && lock.owner.name === owner.name;
}

function ownerText(lock: NodeLock): string {
  return lock.owner === null ? 'an unnamed owner (legacy lock)' : `pod "${lock.owner.namespace}/${lock.owner.name}"`;
}

/** `5m0s`, as Go prints the timeout in HAMi's message. */
function goDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${seconds % 60}s` : `${seconds}s`;
}

function unreadableMessage(nodeName: string, why: string): string {
  return (
    `node "${nodeName}" has a ${NODE_LOCK} annotation that cannot be read (${why}), so its owner and age are unknown; ` +
    `if no bind is in progress on the node, remove it: kubectl annotate node ${nodeName} ${NODE_LOCK}-`
  );
}

/** Takes and releases the node lock; see the module comment. */
export class NodeLocker {
  private readonly now: () => Date;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly cached: NodeLockOptions['cached'];
  /**
   * One operation per node at a time within this process, as HAMi's in-process mutex does: a
   * second bind to the same node waits instead of losing a conflict to its own sibling.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: KubeClient,
    options: NodeLockOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.timeoutMs = options.timeoutMs ?? NODE_LOCK_TIMEOUT_MS;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.cached = options.cached;
    if (!(this.timeoutMs >= 0)) throw new RangeError(`node lock: timeoutMs must be >= 0, got ${this.timeoutMs}`);
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new RangeError(`node lock: maxAttempts must be a positive integer, got ${this.maxAttempts}`);
    }
    if (!(this.retryDelayMs >= 0)) throw new RangeError(`node lock: retryDelayMs must be >= 0, got ${this.retryDelayMs}`);
  }

  /**
   * Locks `nodeName` for pod `owner`. Resolves with whether it was taken and why; a lock held by
   * another live pod younger than the timeout is a refusal (`held`), not an exception.
   *
   * @throws KubeApiError when the node cannot be read (404 if it does not exist) or a write fails
   *   for another reason than a lost race
   * @throws RangeError when `owner` is not a valid namespace and pod name
   */
  acquire(nodeName: string, owner: NodeLockOwner): Promise<AcquireResult> {
    return this.serialized(nodeName, () => this.tryAcquire(nodeName, owner));
  }

  /**
   * Unlocks `nodeName` if pod `owner` holds it; a lock held by anyone else is left alone
   * (`other-owner`), as HAMi's `ReleaseNodeLock` does.
   *
   * @throws KubeApiError when the node cannot be read or a write fails for another reason than a lost race
   */
  release(nodeName: string, owner: NodeLockOwner): Promise<ReleaseResult> {
    return this.serialized(nodeName, () => this.tryRelease(nodeName, owner));
  }

  private async tryAcquire(nodeName: string, owner: NodeLockOwner): Promise<AcquireResult> {
    // Fails fast on a bad owner, before any request.
    encodeNodeLock(this.now(), owner.namespace, owner.name);
    if (this.cached !== undefined) {
      const tried = new Set<string>();
      if (await this.acquireFromCache(nodeName, owner, tried)) return { acquired: true, how: 'free' };
      // The copy may be a watch event or two behind: the previous pod's lock was released a moment
      // ago, and the event is already received but not yet handled. Give the informer a few turns
      // of the event loop to catch up, looking again after each, before paying for a GET.
      for (let turn = 0; turn < CACHE_CATCH_UP_TURNS; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
        if (await this.acquireFromCache(nodeName, owner, tried)) return { acquired: true, how: 'free' };
      }
    }
    for (let attempt = 1; ; attempt++) {
      const node = await this.client.getNode(nodeName);
      const found = readLock(node.metadata?.annotations);
      let how: AcquiredHow = 'free';
      let previous: NodeLock | undefined;
      if (found !== undefined) {
        if ('unreadable' in found) return { acquired: false, reason: 'unreadable', message: unreadableMessage(nodeName, found.unreadable) };
        previous = found.lock;
        if (sameOwner(previous, owner)) return { acquired: true, how: 'already-held', previous };
        const stale = await this.staleness(previous);
        if (stale === undefined) {
          const since = previous.at.toISOString().replace('.000Z', 'Z');
          return {
            acquired: false,
            reason: 'held',
            holder: previous,
            message: `node "${nodeName}" has been locked within ${goDuration(this.timeoutMs)} by ${ownerText(previous)} (since ${since}): node lock contention`,
          };
        }
        how = stale;
      }
      const value = encodeNodeLock(this.now(), owner.namespace, owner.name);
      const written = await this.conditionalWrite(nodeName, node.metadata?.resourceVersion, value);
      if (written) return previous === undefined ? { acquired: true, how } : { acquired: true, how, previous };
      if (attempt >= this.maxAttempts) {
        return {
          acquired: false,
          reason: 'contended',
          ...(previous === undefined ? {} : { holder: previous }),
          message: `node "${nodeName}": ${attempt} conditional writes of ${NODE_LOCK} lost to concurrent updates of the node; retry later`,
        };
      }
      await this.pause(attempt);
    }
  }

  /**
   * Writes the lock against the informer's copy when it shows none; false when it shows one, the
   * write loses, or a write against this resourceVersion (in `tried`) has lost already.
   */
  private async acquireFromCache(nodeName: string, owner: NodeLockOwner, tried: Set<string>): Promise<boolean> {
    const cached = this.cached?.(nodeName);
    const version = cached?.metadata?.resourceVersion ?? '';
    if (cached === undefined || version === '' || tried.has(version) || readLock(cached.metadata?.annotations) !== undefined) return false;
    tried.add(version);
    return this.conditionalWrite(nodeName, version, encodeNodeLock(this.now(), owner.namespace, owner.name));
  }

  private async tryRelease(nodeName: string, owner: NodeLockOwner): Promise<ReleaseResult> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.client.getNode(nodeName);
      const found = readLock(node.metadata?.annotations);
      if (found === undefined) return { released: false, reason: 'not-locked', message: `node "${nodeName}" is not locked` };
      if ('unreadable' in found) return { released: false, reason: 'unreadable', message: unreadableMessage(nodeName, found.unreadable) };
      if (!sameOwner(found.lock, owner)) {
        return {
          released: false,
          reason: 'other-owner',
          holder: found.lock,
          message: `node "${nodeName}" is locked by ${ownerText(found.lock)}, not by pod "${owner.namespace}/${owner.name}"; left as it is`,
        };
      }
      if (await this.conditionalWrite(nodeName, node.metadata?.resourceVersion, null)) return { released: true };
      if (attempt >= this.maxAttempts) {
        return {
          released: false,
          reason: 'contended',
          holder: found.lock,
          message: `node "${nodeName}": ${attempt} conditional removals of ${NODE_LOCK} lost to concurrent updates of the node; retry later`,
        };
      }
      await this.pause(attempt);
    }
  }

  /** How another pod's lock may be taken over, or `undefined` while it stands. */
  private async staleness(lock: NodeLock): Promise<AcquiredHow | undefined> {
    if (lockExpired(lock, this.now(), this.timeoutMs)) return 'expired';
    if (lock.owner === null) return undefined;
    try {
      await this.client.getPod(lock.owner.namespace, lock.owner.name);
      return undefined;
    } catch (error) {
      if (isNotFound(error)) return 'owner-gone';
      throw error;
    }
  }

  /**
   * Sets (`value`) or removes (`null`) the lock if the node is still at `resourceVersion`.
   * Resolves `false` when another write got there first.
   */
  private async conditionalWrite(nodeName: string, resourceVersion: string | undefined, value: string | null): Promise<boolean> {
    // An empty version would make the write unconditional, and the lock no lock at all.
    if (resourceVersion === undefined || resourceVersion === '') {
      throw new Error(`node "${nodeName}" was read without metadata.resourceVersion, so ${NODE_LOCK} cannot be written conditionally; is the API server a real one?`);
    }
    try {
      await this.client.mergePatchNode(
        nodeName,
        { metadata: { annotations: { [NODE_LOCK]: value } } },
        { resourceVersion },
      );
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  private pause(attempt: number): Promise<void> {
    const base = this.retryDelayMs * 2 ** (attempt - 1);
    const ms = base * (1 + 0.5 * Math.random());
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Runs `operation` after every earlier one on the same node has settled. */
  private serialized<T>(nodeName: string, operation: () => Promise<T>): Promise<T> {
    const before = this.queues.get(nodeName) ?? Promise.resolve();
    const run = before.then(operation, operation);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(nodeName, settled);
    void settled.then(() => {
      if (this.queues.get(nodeName) === settled) this.queues.delete(nodeName);
    });
    return run;
  }
}
