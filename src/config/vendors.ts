import { nvidiaVendor } from '../core/vendors/nvidia.js';
import type { Vendor } from '../core/vendors/vendor.js';
import type { CompiledDeviceConfig } from './device-config.js';

/** The vendor modules a device config enables, with its resource names and defaults. */
export function vendorsFromConfig(config: CompiledDeviceConfig): Vendor[] {
  return config.nvidia ? [nvidiaVendor(config.nvidia)] : [];
}
