/**
 * Records Kubernetes Events the way client-go's recorder does, off the caller's path:
 * - `record()` returns at once; Events are written in the background from the next turn of the
 *   event loop, a few at a time, so a burst of scheduling decisions does not wait on the API server
 *   for its Events.
 * - A repeat of the same Event (same object, type, reason and message) within `coalesceMs` does not
 *   create another object: the existing one gets `count` + 1 and a new `lastTimestamp`, which is
 *   what `kubectl describe` shows as "(x12 over 3m)". A pending pod that kube-scheduler retries
 *   every few seconds would otherwise leave thousands of identical Events behind.
 * - The queue is bounded; when it is full the oldest waiting Event is dropped and counted, since
 *   Events are advisory and must never hold up or crash the process.
 */
import { isNotFound, type EventInput, type KubeClient } from './client.js';

export interface EventRecorderOptions {
  /** Writes in flight at once. @default 4 */
  readonly concurrency?: number;
  /** Events waiting beyond this are dropped, oldest first. @default 1000 */
  readonly maxQueued?: number;
  /** A repeat within this long updates the existing Event. @default 600000 (10 min, client-go's) */
  readonly coalesceMs?: number;
  /** Hears failed writes and drops. */
  readonly onError?: (message: string) => void;
  readonly now?: () => Date;
}

interface Recorded {
  readonly namespace: string;
  readonly name: string;
  count: number;
  at: number;
}

function keyOf(event: EventInput): string {
  const o = event.involvedObject;
  return JSON.stringify([o.kind, o.namespace ?? '', o.name, o.uid ?? '', event.type, event.reason, event.message, event.component ?? '']);
}

export class EventRecorder {
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly coalesceMs: number;
  private readonly onError: (message: string) => void;
  private readonly now: () => Date;
  /** Waiting Events, each with when it happened (not when it gets written). */
  private readonly queue: { readonly event: EventInput; readonly at: Date }[] = [];
  private readonly recorded = new Map<string, Recorded>();
  private active = 0;
  private pumpScheduled = false;
  private idle: (() => void)[] = [];
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly client: KubeClient,
    options: EventRecorderOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.maxQueued = options.maxQueued ?? 1000;
    this.coalesceMs = options.coalesceMs ?? 600_000;
    this.onError = options.onError ?? (() => {});
    this.now = options.now ?? (() => new Date());
  }

  /** Queues `event`; never throws, never waits. */
  record(event: EventInput): void {
    if (this.queue.length >= this.maxQueued) {
      const lost = this.queue.shift()?.event;
      this.dropped++;
      this.onError(`event queue full (${this.maxQueued}): dropped ${lost?.reason ?? ''} for ${lost?.involvedObject.name ?? ''}`);
    }
    this.queue.push({ event, at: this.now() });
    // Written from the next turn of the event loop, not from the caller's: the answer the caller
    // is about to send (a Filter's or a Bind's) goes out before the Event's request is built.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Resolves once every queued Event has been written (or has failed). */
  flush(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const { event, at } = this.queue.shift() as { event: EventInput; at: Date };
      this.active++;
      void this.write(event, at).finally(() => {
        this.active--;
        this.pump();
        if (this.active === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async write(event: EventInput, at: Date): Promise<void> {
    const key = keyOf(event);
    const seen = this.recorded.get(key);
    if (seen !== undefined && at.getTime() - seen.at < this.coalesceMs) {
      seen.count++;
      seen.at = at.getTime();
      try {
        await this.client.mergePatchEvent(seen.namespace, seen.name, { count: seen.count, lastTimestamp: at.toISOString() });
        return;
      } catch (error) {
        // Deleted meanwhile (Events expire after an hour): record it afresh.
        if (!isNotFound(error)) {
          this.onError(`event ${event.reason} on ${event.involvedObject.name}: ${(error as Error).message}`);
          return;
        }
        this.recorded.delete(key);
      }
    }
    try {
      const created = await this.client.createEvent(event);
      this.remember(key, { namespace: created.metadata?.namespace ?? 'default', name: created.metadata?.name ?? '', count: created.count ?? 1, at: at.getTime() });
    } catch (error) {
      this.onError(`event ${event.reason} on ${event.involvedObject.name}: ${(error as Error).message}`);
    }
  }

  /** Keeps the map bounded: entries older than the coalescing window go first. */
  private remember(key: string, entry: Recorded): void {
    this.recorded.set(key, entry);
    if (this.recorded.size <= 10_000) return;
    const cutoff = entry.at - this.coalesceMs;
    for (const [k, v] of this.recorded) {
      if (v.at < cutoff || this.recorded.size > 10_000) this.recorded.delete(k);
      else break;
    }
  }
}
