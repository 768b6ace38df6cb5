/**
 * How two GPUs reach each other, from the facts a driver gives per device: the far ends of its
 * active NVLinks, and the PCIe level of each pair's closest common ancestor. Pure, so the NVML
 * backend and the mock agree on the defaults.
 */

import type { PcieRelation } from './backend.js';

/** Where one GPU's active NVLinks lead. */
export interface NvLinkPorts {
  /** Canonical bus id of the far end of each link that ends at another GPU (one entry a link). */
  readonly toGpu: readonly string[];
  /** Links that end at an NVSwitch. */
  readonly toSwitch: number;
}

/**
 * NVLinks between GPU a and GPU b (bus id `bBusId`, canonical form), counted from a's ports:
 * the direct links to b, plus the links through NVSwitches when both have some. All GPUs on an
 * NVSwitch fabric reach each other, so a's switch links count towards every other GPU that also
 * has one (HAMi's rule); the pair gets the smaller of the two switch counts, so the result is
 * the same from either side. Example, HGX H100: each GPU has 18 links to the switches, and every
 * pair counts 18 (`NV18` in `nvidia-smi topo -m`).
 */
export function countNvLinks(a: NvLinkPorts, bBusId: string, b: NvLinkPorts): number {
  const direct = a.toGpu.filter((remote) => remote === bBusId).length;
  const viaSwitch = a.toSwitch > 0 && b.toSwitch > 0 ? Math.min(a.toSwitch, b.toSwitch) : 0;
  return direct + viaSwitch;
}

/**
 * nvmlGpuTopologyLevel_t → relation: 0 INTERNAL (same board), 10 SINGLE (one PCIe switch),
 * 20 MULTIPLE (several switches), 30 HOSTBRIDGE, 40 NODE (same CPU), 50 SYSTEM (across CPUs).
 * A value between two named levels takes the farther one; anything above 50 is cross-cpu.
 */
export function pcieRelationOfLevel(level: number): PcieRelation {
  if (level <= 0) return 'same-board';
  if (level <= 10) return 'single-switch';
  if (level <= 20) return 'multi-switch';
  if (level <= 30) return 'host-bridge';
  if (level <= 40) return 'same-cpu';
  return 'cross-cpu';
}

/** The relation when nothing better is known: same CPU when both sit on one NUMA node. */
export function pcieRelationByNuma(numaA: number, numaB: number): PcieRelation {
  return numaA === numaB ? 'same-cpu' : 'cross-cpu';
}
