/**
 * The cluster's totals over time, for the dashboard's chart: a fixed number of samples kept in
 * memory (the scheduler holds no database; Prometheus keeps the long view), oldest dropped first.
 */
import type { HistoryView, Totals } from './view.js';

function percent(part: number | null, whole: number): number | null {
  if (part === null) return null;
  return whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10;
}

export class TotalsHistory {
  private readonly t: number[] = [];
  private readonly memoryAllocated: number[] = [];
  private readonly memoryUsed: (number | null)[] = [];
  private readonly coresAllocated: number[] = [];
  private readonly utilization: (number | null)[] = [];
  private readonly pending: number[] = [];

  /** @param capacity samples kept (at one every 5 s, 720 is an hour) */
  constructor(private readonly capacity = 720) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity ${String(capacity)} must be a whole number of at least 1`);
  }

  /** Adds one sample taken at `atMs` (Unix milliseconds). */
  record(atMs: number, totals: Totals): void {
    this.t.push(Math.round(atMs / 1000));
    this.memoryAllocated.push(percent(totals.memoryAllocatedMiB, totals.memoryMiB) ?? 0);
    this.memoryUsed.push(percent(totals.memoryUsedMiB, totals.memoryMiB));
    this.coresAllocated.push(percent(totals.coresAllocated, totals.cores) ?? 0);
    this.utilization.push(totals.utilization === null ? null : Math.round(totals.utilization * 10) / 10);
    this.pending.push(totals.pending);
    if (this.t.length > this.capacity) {
      for (const column of [this.t, this.memoryAllocated, this.memoryUsed, this.coresAllocated, this.utilization, this.pending]) column.shift();
    }
  }

  get size(): number {
    return this.t.length;
  }

  /** A copy of the samples, oldest first. */
  view(): HistoryView {
    return {
      t: [...this.t],
      memoryAllocated: [...this.memoryAllocated],
      memoryUsed: [...this.memoryUsed],
      coresAllocated: [...this.coresAllocated],
      utilization: [...this.utilization],
      pending: [...this.pending],
    };
  }
}
