/**
 * Picks the node agent's DeviceBackend: the mock when a devices file is given (tests, the demo,
 * trying Tessera without GPUs), NVML otherwise. Both fail here, at start, if they cannot read
 * the devices, so a misconfigured agent exits instead of registering an empty node.
 */

import type { DeviceBackend } from './backend.js';
import { MockBackend } from './mock.js';
import { NvmlBackend } from './nvml.js';

export type { DeviceBackend, DeviceUsageSample, DiscoveredDevice, DiscoveredInventory, DiscoveredLink, PcieRelation } from './backend.js';
export { DiscoveryError } from './backend.js';
export { MockBackend } from './mock.js';
export { NvmlBackend } from './nvml.js';

export interface OpenBackendOptions {
  /** Mock devices file (YAML, docs/node-agent.md "Mock devices"); when set, NVML is not touched. */
  readonly devices?: string;
  /** NVML library path or soname. @default 'libnvidia-ml.so.1' */
  readonly nvmlLibrary?: string;
  /** This node's name: seeds the mock's generated UUIDs so they differ between nodes. */
  readonly nodeName: string;
  /** Where sysfs is mounted (NVML backend, for NUMA nodes). @default '/sys' */
  readonly sysfsRoot?: string;
}

/**
 * Opens the backend and reads the devices once.
 *
 * @throws DiscoveryError when the mock file or NVML cannot be read
 */
export async function openBackend(options: OpenBackendOptions): Promise<DeviceBackend> {
  if (options.devices !== undefined) {
    return MockBackend.open({ file: options.devices, nodeName: options.nodeName });
  }
  return NvmlBackend.open({
    ...(options.nvmlLibrary !== undefined && { library: options.nvmlLibrary }),
    ...(options.sysfsRoot !== undefined && { sysfsRoot: options.sysfsRoot }),
  });
}
