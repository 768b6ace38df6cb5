/**
 * From what the hardware reports to what the scheduler reads: the node's discovered devices become
 * HAMi's register entries (`hami.io/node-nvidia-register`) and pair scores
 * (`hami.io/node-nvidia-score`), under the node's device-config settings. Pure.
 *
 * HAMi's rules, kept here so that a HAMi scheduler reads our node exactly as it reads its own:
 * - `count` is the split count; `devmem` the NVML total × `deviceMemoryScaling`, floored (the
 *   configured `preConfiguredDeviceMemory` when NVML cannot report memory); `devcore`
 *   `deviceCoreScaling` × 100.
 * - `type` is the NVML name with `NVIDIA-` in front, even when the name itself starts with
 *   `NVIDIA` (real HAMi nodes register `NVIDIA-NVIDIA H20-3e`); only a name already carrying the
 *   `NVIDIA-` prefix is left as it is.
 * - Devices listed in the node's `filterdevices` are not registered at all.
 * - A pair's score is the PCIe relation's score (cross-CPU 10, same CPU 20, host bridge 30,
 *   multiple switches 40, one switch 50, same board 60) plus 100 per NVLink between them.
 */
import type { Device, DeviceLink } from '../core/device.js';
import type { NodeSettings } from '../config/device-config.js';
import type { DiscoveredDevice, DiscoveredInventory, PcieRelation } from './discovery/backend.js';

const PCIE_SCORE: Readonly<Record<PcieRelation, number>> = {
  'cross-cpu': 10,
  'same-cpu': 20,
  'host-bridge': 30,
  'multi-switch': 40,
  'single-switch': 50,
  'same-board': 60,
};

/** HAMi counts at most this many NVLinks between two GPUs. */
const MAX_NVLINKS = 18;

export interface RegisteredNode {
  /** What goes into the register annotation, in discovery order. */
  readonly devices: readonly Device[];
  /** Both directions of every pair of registered devices. */
  readonly links: readonly DeviceLink[];
  /** Devices left out or degraded, one sentence each, for the log. */
  readonly problems: readonly string[];
}

/** `NVIDIA-` + the NVML name, as HAMi registers it. */
export function nvidiaType(name: string): string {
  return name.startsWith('NVIDIA-') ? name : `NVIDIA-${name}`;
}

function registeredMemory(device: DiscoveredDevice, settings: NodeSettings): number | { readonly problem: string } {
  if (device.memoryMiB === null) {
    if (settings.preConfiguredDeviceMemory > 0) return settings.preConfiguredDeviceMemory;
    return {
      problem:
        `device ${device.index} (${device.uuid}, ${device.name}) reports no memory size and preConfiguredDeviceMemory is 0; ` +
        'it is not registered. Set nvidia.preConfiguredDeviceMemory (MiB) in the device config for this model',
    };
  }
  return Math.floor(device.memoryMiB * settings.deviceMemoryScaling);
}

/**
 * The node's register entries and pair scores.
 *
 * A MIG-enabled GPU is left out with a problem: its memory belongs to MIG instances that this agent
 * does not create, so sharing it through HAMi-core limits would hand out memory twice.
 */
export function registerDevices(inventory: DiscoveredInventory, settings: NodeSettings): RegisteredNode {
  const problems: string[] = [];
  const devices: Device[] = [];
  if (settings.operatingMode === 'mig') {
    problems.push(
      'the device config sets operatingmode "mig" for this node; Tessera\'s node agent does not manage MIG instances, ' +
        'so no device is registered. Use operatingmode "hami-core" (or "mps"), or HAMi\'s device plugin for MIG nodes',
    );
    return { devices, links: [], problems };
  }
  for (const found of inventory.devices) {
    if (settings.filterDevices.uuids.has(found.uuid) || settings.filterDevices.indexes.has(found.index)) continue;
    if (found.migEnabled) {
      problems.push(
        `device ${found.index} (${found.uuid}) has MIG mode enabled; Tessera's node agent does not manage MIG instances, ` +
          'so it is not registered. Disable MIG (nvidia-smi -i <index> -mig 0) or list it in filterdevices',
      );
      continue;
    }
    const memory = registeredMemory(found, settings);
    if (typeof memory !== 'number') {
      problems.push(memory.problem);
      continue;
    }
    if (!found.healthy) problems.push(`device ${found.index} (${found.uuid}) is unhealthy: ${found.healthReason ?? 'no reason given'}`);
    devices.push({
      id: found.uuid,
      index: found.index,
      vendor: found.vendor,
      type: found.vendor === 'NVIDIA' ? nvidiaType(found.name) : found.name,
      memoryMiB: memory,
      cores: Math.floor(settings.deviceCoreScaling * 100),
      splitCount: settings.deviceSplitCount,
      numa: found.numa,
      healthy: found.healthy,
      mode: settings.operatingMode,
    });
  }
  const registered = new Set(devices.map((d) => d.id));
  const links: DeviceLink[] = [];
  for (const link of inventory.links) {
    if (!registered.has(link.a) || !registered.has(link.b)) continue;
    const score = PCIE_SCORE[link.pcie] + 100 * Math.min(link.nvlinks, MAX_NVLINKS);
    links.push({ from: link.a, to: link.b, score }, { from: link.b, to: link.a, score });
  }
  return { devices, links, problems };
}
