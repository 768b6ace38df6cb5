/**
 * Filter's annotation writes, per pod, between Filter and Bind.
 *
 * Filter answers kube-scheduler as soon as the chosen devices are charged in the cache, the way
 * kube-scheduler assumes a pod before its bind lands, and writes the decision into the pod's
 * annotations in the background: the write is an API round trip that kube-scheduler's one-at-a-time
 * scheduling cycle would otherwise wait for on every pod. Bind waits for the write before it binds,
 * so a bound pod always carries its allocation when the device plugin reads it. A write that fails
 * fails the Bind that follows, and kube-scheduler filters the pod again.
 */
export class AllocationWrites {
  private readonly inFlight = new Map<string, Promise<string | null>>();
  /** Writes that failed, kept until the pod's Bind (or its next Filter) has read the failure. */
  private readonly failed = new Map<string, string>();

  /**
   * Tracks the write of pod `key`'s decision. `onSettled` runs as the write settles, before a Bind
   * waiting for it resumes: with null once written, or with the failure's message. It does not run
   * for a write superseded meanwhile (a newer decision for the pod, or the pod deleted).
   */
  track(key: string, write: Promise<unknown>, onSettled: (failure: string | null) => void): void {
    this.failed.delete(key);
    const settled = write.then(
      () => null,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const entry = settled.then((failure) => {
      if (this.inFlight.get(key) !== entry) return failure;
      this.inFlight.delete(key);
      if (failure !== null) this.failed.set(key, failure);
      onSettled(failure);
      return failure;
    });
    this.inFlight.set(key, entry);
  }

  /** The pod's write still in flight, if any: a second Filter of the pod waits for it first. */
  pending(key: string): Promise<string | null> | undefined {
    return this.inFlight.get(key);
  }

  /**
   * Waits for pod `key`'s write and answers null when its decision is written (or none was
   * pending), or the failure's message, once: the failure is forgotten as it is read.
   */
  async written(key: string): Promise<string | null> {
    // A newer write may take the place of the one waited for: wait until none is in flight.
    for (let write = this.inFlight.get(key); write !== undefined; write = this.inFlight.get(key)) await write;
    const failure = this.failed.get(key) ?? null;
    this.failed.delete(key);
    return failure;
  }

  /** A deleted pod: its write in flight is no longer followed, and a failure no Bind will read is dropped. */
  forget(key: string): void {
    this.inFlight.delete(key);
    this.failed.delete(key);
  }

  /** Resolves when every write in flight now has settled (the scheduler waits for them on close). */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  get size(): number {
    return this.inFlight.size;
  }
}
