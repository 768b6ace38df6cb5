/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's `leaderelection` package does
 * it (client-node has none): several scheduler replicas run, one leads. The leader renews the
 * lease every `retryPeriod`; the others poll it and take it over once it has not changed for
 * `leaseDuration`, or at once when the leader gave it up on shutdown.
 *
 * The invariants, as in client-go:
 * - Every write is a conditional `PUT` carrying the `resourceVersion` that was read, so of two
 *   replicas racing for the lease exactly one write lands (the other gets 409 `Conflict`).
 * - Expiry is judged by when this replica last *saw the lease change*, on its own monotonic
 *   clock, plus the lease's `leaseDurationSeconds`; never by comparing `renewTime` with local
 *   time, which would make leadership depend on clock skew between nodes.
 * - A leader that has not renewed for `renewDeadline` (< `leaseDuration`) stops leading, so it
 *   has stepped down before any other replica can consider the lease expired.
 *
 * Unlike client-go's `Run`, a replica that lost the lease stays a candidate and may lead again;
 * `stop()` ends it for good, releasing the lease so another replica takes over within about one
 * retry period instead of waiting out the lease.
 */
import { performance } from 'node:perf_hooks';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient, type Lease } from './client.js';

export interface LeaderElectionOptions {
  /** Namespace of the Lease, e.g. `kube-system`. */
  readonly namespace: string;
  /** Name of the Lease, shared by every replica, e.g. `tessera-scheduler`. */
  readonly name: string;
  /** This replica's unique identity, written to `holderIdentity` (e.g. the pod name). */
  readonly identity: string;
  /**
   * How long others wait, after last seeing the lease change, before taking it over; written to
   * the lease as whole seconds. @default 15000
   */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it stops leading. @default 10000 */
  readonly renewDeadlineMs?: number;
  /**
   * Time between attempts: the leader renews this often, candidates poll this often plus up to
   * 20% at random. @default 2000
   */
  readonly retryPeriodMs?: number;
  /** Give the lease up on `stop()` so another replica need not wait for it to expire. @default true */
  readonly releaseOnStop?: boolean;
  /** Called when this replica becomes leader: start the leader-only work here. */
  readonly onStartedLeading?: () => void;
  /**
   * Called when this replica stops leading (renewal failed past the deadline, another holder
   * seen, or `stop()`): stop the leader-only work here, at once.
   */
  readonly onStoppedLeading?: () => void;
  /** Hears failed API calls and callbacks that threw; the elector carries on. @default prints to stderr */
  readonly onError?: (error: unknown) => void;
  /** Wall clock for the lease's `acquireTime` and `renewTime`. @default () => new Date() */
  readonly now?: () => Date;
}

/** client-go's default `LeaseDuration`, `RenewDeadline` and `RetryPeriod`. */
export const LEADER_ELECTION_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 } as const;

/** Extra random wait of a candidate, as a fraction of the retry period. */
const CANDIDATE_JITTER = 0.2;

/** What one attempt to acquire or renew came to. */
type Attempt = 'ok' | 'held' | 'failed';

/** Runs one replica's side of a leader election; see the module comment. */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => Date;
  private leading = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** The lease as last read or written. */
  private lease: Lease | undefined;
  /** Monotonic time at which {@link lease} was first seen at its current resourceVersion. */
  private observedAt = 0;
  /** Monotonic start time of the last attempt that acquired or renewed the lease. */
  private renewedAt = 0;
  /**
   * Numbers the attempts: one abandoned at its timeout may still answer later, and must not
   * overwrite what a newer attempt saw.
   */
  private attemptId = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = options.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs;
    this.now = options.now ?? (() => new Date());
    const where = `leader election on lease "${options.namespace}/${options.name}"`;
    if (options.identity === '') throw new RangeError(`${where}: identity must not be empty (use the pod name)`);
    if (!Number.isInteger(this.leaseDurationMs / 1000) || this.leaseDurationMs < 1000) {
      throw new RangeError(`${where}: leaseDurationMs must be a whole number of seconds, at least 1000, got ${this.leaseDurationMs}`);
    }
    // client-go's checks: the leader must give up before others may take over, and must get
    // more than one try before giving up.
    if (!(this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new RangeError(`${where}: renewDeadlineMs (${this.renewDeadlineMs}) must be less than leaseDurationMs (${this.leaseDurationMs})`);
    }
    if (!(this.retryPeriodMs > 0) || !(this.renewDeadlineMs > this.retryPeriodMs * 1.2)) {
      throw new RangeError(
        `${where}: need 0 < retryPeriodMs * 1.2 < renewDeadlineMs, got retryPeriodMs=${this.retryPeriodMs}, renewDeadlineMs=${this.renewDeadlineMs}`,
      );
    }
  }

  /** Whether this replica leads now. */
  isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning (the first attempt is immediate); again is a no-op. */
  start(): void {
    if (this.stopped) throw new Error(`leader elector "${this.options.identity}" was stopped; create a new one to campaign again`);
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /**
   * Stops campaigning: waits for an attempt in flight (at most the renew deadline), stops
   * leading (`onStoppedLeading`) and then, if this replica held the lease, releases it. The
   * order matters: the leader-only work stops before another replica can start it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight !== undefined) await withTimeout(this.inFlight, this.renewDeadlineMs);
    this.stepDown();
    if ((this.options.releaseOnStop ?? true) && this.lease?.spec?.holderIdentity === this.options.identity) {
      // Bounded like any attempt: a hung API server must not hang the shutdown.
      await withTimeout(this.release(this.lease), this.renewDeadlineMs);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.tick().finally(() => {
        this.inFlight = undefined;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const startedAt = performance.now();
    this.attemptId += 1;
    let attempt: Attempt;
    try {
      // A call that hangs must not stop the elector: past the deadline it counts as failed
      // (its write may still land; the next attempt then sees the lease as ours and renews it).
      const result = await withTimeout(this.tryAcquireOrRenew(startedAt, this.attemptId), this.renewDeadlineMs);
      attempt = result === 'timeout' ? 'failed' : result;
    } catch (error) {
      this.report(error);
      attempt = 'failed';
    }
    if (this.stopped) return;
    // A renewal that landed after the deadline may have let others expire us already.
    if (attempt === 'ok' && performance.now() - startedAt >= this.renewDeadlineMs) attempt = 'failed';
    if (attempt === 'ok') {
      this.renewedAt = startedAt;
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        this.callback(this.options.onStartedLeading);
      }
    } else if (attempt === 'held') {
      this.stepDown();
    } else if (this.leading && performance.now() - this.renewedAt >= this.renewDeadlineMs) {
      this.stepDown();
    }
    this.schedule(this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + CANDIDATE_JITTER * Math.random()));
  }

  /**
   * One attempt, client-go's `tryAcquireOrRenew`: create the lease if there is none; else take
   * it if it is ours, free or expired; else report it held. `startedAt` is the monotonic time
   * the attempt began, `id` its number.
   */
  private async tryAcquireOrRenew(startedAt: number, id: number): Promise<Attempt> {
    const { namespace, name, identity } = this.options;
    const now = this.now();
    // Fast path for the leader: write over the lease as last written, without reading it first.
    if (this.leading && this.lease !== undefined) {
      try {
        this.observe(await this.client.updateLease(this.claim(this.lease, now)), startedAt, id);
        return 'ok';
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Someone else wrote the lease: read it below and see who.
      }
    }

    let current: Lease;
    try {
      current = await this.client.getLease(namespace, name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        const fresh: Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { namespace, name },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.leaseDurationMs / 1000, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        };
        this.observe(await this.client.createLease(fresh), startedAt, id);
        return 'ok';
      } catch (createError) {
        // Another replica created it first; the next attempt reads it.
        if (isAlreadyExists(createError)) return 'failed';
        throw createError;
      }
    }

    this.observe(current, startedAt, id);
    const holder = current.spec?.holderIdentity ?? '';
    const durationMs = (current.spec?.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
    if (holder !== '' && holder !== identity && this.observedAt + durationMs > performance.now()) return 'held';
    try {
      this.observe(await this.client.updateLease(this.claim(current, now)), startedAt, id);
      return 'ok';
    } catch (error) {
      // Another replica wrote in between: it renewed or took over; the next attempt sees which.
      if (isConflict(error)) return 'failed';
      throw error;
    }
  }

  /** `lease` with this replica as holder, renewed at `now`; a takeover counts a transition. */
  private claim(lease: Lease, now: Date): Lease {
    const spec = lease.spec ?? {};
    const ours = spec.holderIdentity === this.options.identity;
    return {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
        acquireTime: ours && spec.acquireTime !== undefined ? spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
  }

  /** Records the lease as seen by attempt `id`; its expiry clock restarts only when it has changed. */
  private observe(lease: Lease, at: number, id: number): void {
    if (id !== this.attemptId) return;
    const changed = this.lease === undefined || lease.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion;
    if (changed) this.observedAt = at;
    this.lease = lease;
  }

  /** Gives the lease up as client-go's `release` does: no holder, a 1 s duration, transitions kept. */
  private async release(lease: Lease): Promise<void> {
    const now = this.now();
    try {
      this.lease = await this.client.updateLease({
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      });
    } catch (error) {
      // A conflict means another replica already wrote the lease: nothing left to give up.
      if (!isConflict(error)) this.report(error);
    }
  }

  /** Steps down once `renewDeadline` has passed since the last renewal, even with a call hanging. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const wait = Math.max(0, this.renewedAt + this.renewDeadlineMs - performance.now());
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      if (!this.leading) return;
      // Timers count from the event loop's cached time and may fire a little before the
      // deadline as measured here: then wait for the rest.
      if (performance.now() - this.renewedAt >= this.renewDeadlineMs) this.stepDown();
      else this.armDeadline();
    }, wait);
  }

  private stepDown(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.callback(this.options.onStoppedLeading);
  }

  private callback(callback: (() => void) | undefined): void {
    if (callback === undefined) return;
    try {
      callback();
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    try {
      if (this.options.onError !== undefined) this.options.onError(error);
      else console.error(`tessera leader election (${this.options.identity} on ${this.options.namespace}/${this.options.name}):`, error);
    } catch {
      // The reporter failing must not stop the elector.
    }
  }
}

/** `promise`'s value, or `'timeout'` if it takes longer than `ms`; the timer never outlives the race. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
