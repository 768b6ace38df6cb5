/**
 * Makes the demo's mock GPUs look busy: every couple of seconds, each node's mock devices file is
 * rewritten with memory in use and utilisation derived from the shares the scheduler placed on
 * each GPU. Each pod gets a steady character from its key (how much of its memory share it fills,
 * how hard it computes) plus a slow wobble, so "allocated vs used" on the dashboard shows what it
 * does on a real cluster: pods that reserve more than they use.
 */
import { renameSync, writeFileSync } from 'node:fs';

import type { ClusterState } from '../../core/placement/cluster.js';
import { devicesYaml, type DemoNode, type GpuUsage } from './mock-gpus.js';

/** CUDA context and library memory a process holds before it allocates anything. */
const CONTEXT_MIB = 300;

/** A number in [0, 1) fixed by `text` (FNV-1a), so a pod keeps its character across rewrites. */
function unit(text: string, salt: number): number {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/** What every GPU of `node` reports at `seconds`, from the shares placed on it. */
export function simulatedUsage(cluster: ClusterState, node: DemoNode, seconds: number): GpuUsage[] {
  const usage: GpuUsage[] = node.devices.map(() => ({ memoryUsedMiB: 0, utilization: 0 }));
  const state = cluster.node(node.name);
  if (state === undefined) return usage;
  for (const pod of state.pods.values()) {
    const fill = 0.4 + 0.55 * unit(pod.key, 1);
    const busy = 0.15 + 0.85 * unit(pod.key, 2);
    const wobble = 1 + 0.12 * Math.sin(seconds / 15 + 6.28 * unit(pod.key, 3));
    for (const charge of pod.charges) {
      const u = usage[charge.position];
      if (u === undefined) continue;
      // A share without a compute limit competes for the whole GPU; count it as a third of one.
      const cores = charge.cores > 0 ? charge.cores : 33;
      usage[charge.position] = {
        memoryUsedMiB: u.memoryUsedMiB + Math.min(charge.memoryMiB, CONTEXT_MIB + charge.memoryMiB * fill * wobble),
        utilization: u.utilization + cores * busy * wobble,
      };
    }
  }
  return usage;
}

/** Rewrites every node's devices file each `intervalMs` until stopped. */
export class DemoUsage {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: ClusterState,
    private readonly files: readonly { readonly node: DemoNode; readonly path: string }[],
    private readonly intervalMs = 2000,
  ) {}

  /** Writes each file once now (atomically: the agent may read it at any moment). */
  write(seconds = Date.now() / 1000): void {
    for (const { node, path } of this.files) {
      writeFileSync(`${path}.tmp`, devicesYaml(node, simulatedUsage(this.cluster, node, seconds)));
      renameSync(`${path}.tmp`, path);
    }
  }

  start(): void {
    this.timer = setInterval(() => this.write(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
