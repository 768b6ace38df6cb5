/**
 * Follows another process's leader election instead of running one: this replica leads while the
 * Lease's `holderIdentity` is its own identity or starts with `<identity>_`. This is how HAMi's
 * extender tracks the kube-scheduler beside it in the same pod. kube-scheduler's identity is
 * `<hostname>_<uuid>`, and a pod's hostname is its name, so the extender leads exactly while the
 * kube-scheduler in its own pod does. kube-scheduler sends Filter and Bind only to the extender
 * on its loopback, so the two leaders can never sit in different pods. With an election of its
 * own they could, which is why the chart ran one replica.
 *
 * Expiry is judged as in leader election: by when this replica last saw the Lease change, on its
 * own monotonic clock, plus `leaseDurationSeconds`. A Lease nobody renews stops counting for
 * anyone, and so does one this replica cannot read for that long.
 */
import { performance } from 'node:perf_hooks';

import { isNotFound, type KubeClient, type Lease } from './client.js';

export interface LeaseFollowerOptions {
  /** Namespace and name of the Lease to follow (kube-scheduler's `leaderElection.resourceName`). */
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity: the pod name, which is kube-scheduler's hostname in the same pod. */
  readonly identity: string;
  /** How often the Lease is read. @default 1000 */
  readonly pollMs?: number;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** Hears failed reads; the follower carries on. */
  readonly onError?: (error: unknown) => void;
}

/** Whether `holder` is this replica: the identity itself, or client-go's `<identity>_<uuid>`. */
export function holdsLease(holder: string | undefined, identity: string): boolean {
  return holder !== undefined && (holder === identity || holder.startsWith(`${identity}_`));
}

export class LeaseFollower {
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  private lastVersion: string | undefined;
  /** Monotonic time the Lease was first seen at its current version. */
  private changedAt = 0;
  /** Monotonic time of the last successful read. */
  private readAt = 0;
  private durationMs = 15_000;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseFollowerOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    if (options.identity === '') throw new RangeError(`following lease "${options.namespace}/${options.name}": identity must not be empty (use the pod name)`);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.readAt = performance.now();
    const tick = (): void => {
      this.inFlight = this.poll().finally(() => {
        this.inFlight = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    this.set(false);
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    try {
      if (leading) this.options.onStartedLeading?.();
      else this.options.onStoppedLeading?.();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async poll(): Promise<void> {
    let lease: Lease | undefined;
    try {
      lease = await this.client.getLease(this.options.namespace, this.options.name);
    } catch (error) {
      if (isNotFound(error)) {
        this.readAt = performance.now();
        this.lastVersion = undefined;
        this.set(false);
        return;
      }
      this.options.onError?.(error);
      // Unreadable for a whole lease duration: whoever holds it now is unknown.
      if (performance.now() - this.readAt >= this.durationMs) this.set(false);
      return;
    }
    const now = performance.now();
    this.readAt = now;
    const version = lease.metadata?.resourceVersion;
    if (version !== this.lastVersion) {
      this.lastVersion = version;
      this.changedAt = now;
    }
    this.durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const fresh = now - this.changedAt < this.durationMs;
    this.set(fresh && holdsLease(lease.spec?.holderIdentity, this.options.identity));
  }
}
