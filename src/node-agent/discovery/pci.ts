/**
 * PCI bus ids in the three spellings discovery meets: NVML's (`00000000:17:00.0`, eight-digit
 * domain, upper case), nvidia-smi's (the same) and Linux sysfs's (`0000:17:00.0`, the domain as
 * `%04x`, lower case: drivers/pci/probe.c names devices `"%04x:%02x:%02x.%d"`). Comparing or
 * looking one up in sysfs goes through {@link parsePciBusId} so case and domain width never matter.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { DiscoveryError } from './backend.js';

/** A bus id taken apart: `domain:bus:device.function`, all hexadecimal. */
export interface PciAddress {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly function: number;
}

const BUS_ID = /^([0-9a-f]{1,8}):([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i;

/** Reads `domain:bus:device.function`; undefined when the text is not a bus id. */
export function parsePciBusId(text: string): PciAddress | undefined {
  const match = BUS_ID.exec(text.trim());
  if (!match) return undefined;
  const [, domain = '', bus = '', device = '', fn = ''] = match;
  return {
    domain: Number.parseInt(domain, 16),
    bus: Number.parseInt(bus, 16),
    device: Number.parseInt(device, 16),
    function: Number.parseInt(fn, 16),
  };
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/**
 * NVML's spelling, `00000000:17:00.0`: the form compared everywhere. Text that is no bus id
 * comes back trimmed and upper-cased.
 */
export function canonicalPciBusId(text: string): string {
  const address = parsePciBusId(text);
  if (!address) return text.trim().toUpperCase();
  return `${hex(address.domain, 8)}:${hex(address.bus, 2)}:${hex(address.device, 2)}.${String(address.function)}`.toUpperCase();
}

/** The device's directory name under `/sys/bus/pci/devices`, e.g. `0000:17:00.0`; undefined for text that is no bus id. */
export function sysfsPciName(busId: string): string | undefined {
  const address = parsePciBusId(busId);
  if (!address) return undefined;
  return `${hex(address.domain, 4)}:${hex(address.bus, 2)}:${hex(address.device, 2)}.${String(address.function)}`;
}

/**
 * The NUMA node of a PCI device from `<sysfsRoot>/bus/pci/devices/<name>/numa_node`. Platforms
 * without NUMA write -1 there, and some virtual machines have no file: both read as node 0, as
 * HAMi's device plugin reports them.
 *
 * @throws DiscoveryError when the file exists but does not hold an integer
 */
export async function readNumaNode(sysfsRoot: string, busId: string): Promise<number> {
  const name = sysfsPciName(busId);
  if (name === undefined) return 0;
  const path = join(sysfsRoot, 'bus', 'pci', 'devices', name, 'numa_node');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new DiscoveryError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const value = Number(text.trim());
  if (!Number.isInteger(value) || text.trim() === '') {
    throw new DiscoveryError(`${path} holds ${JSON.stringify(text.trim())}, not a NUMA node number`);
  }
  return value < 0 ? 0 : value;
}
