/**
 * A node's devices as the scheduler sees them: read from the annotations a HAMi-compatible device
 * plugin writes on its Node (`hami.io/node-nvidia-register`, `hami.io/node-nvidia-score`,
 * `hami.io/device-cordon`), and trusted only while the kubelet reports the plugin's resource as
 * allocatable. Pure: the caller feeds Node objects from an informer or a list.
 */
import { NODE_DEVICE_CORDON, NODE_NVIDIA_REGISTER, NODE_NVIDIA_SCORE } from '../core/annotations.js';
import { decodeDeviceCordon, decodeNodeRegister, decodeNodeScore } from '../core/codec/index.js';
import type { Device, DeviceLink, NodeInventory } from '../core/device.js';

/** Where one vendor's inventory lives on a Node. */
export interface VendorNodeKeys {
  /** Vendor key, as the allocation annotations name it (`NVIDIA`). */
  readonly vendor: string;
  /** Inventory annotation written by the vendor's device plugin. */
  readonly register: string;
  /** Pairwise topology scores, when the vendor publishes them. */
  readonly score?: string;
  /** The extended resource the device plugin advertises to the kubelet (the configured `resourceCountName`). */
  readonly countResource: string;
}

export const NVIDIA_NODE_KEYS: VendorNodeKeys = Object.freeze({
  vendor: 'NVIDIA',
  register: NODE_NVIDIA_REGISTER,
  score: NODE_NVIDIA_SCORE,
  countResource: 'nvidia.com/gpu',
});

/** The parts of a Node the scheduler reads; a client-node `V1Node` fits as is. */
export interface NodeObject {
  readonly metadata?: { readonly name?: string; readonly annotations?: Readonly<Record<string, string>> };
  /** Quantities as JSON carries them: strings, or bare numbers (which Go's decoder also takes). */
  readonly status?: { readonly allocatable?: Readonly<Record<string, string | number>> };
}

export interface NodeInventoryResult {
  /** Null when the node registers no schedulable device of any vendor. */
  readonly inventory: NodeInventory | null;
  /** Why some of the node's devices are left out, one sentence each, for logs and events. */
  readonly problems: readonly string[];
}

/** A positive whole number of devices, as the kubelet reports an extended resource. */
function allocatableCount(quantity: string | number | undefined): number {
  const text = quantity === undefined ? '' : String(quantity).trim();
  return /^\d+$/.test(text) ? Number(text) : 0;
}

/**
 * Everything {@link nodeInventory} reads from the node, as one string: two Node objects with the
 * same inputs have the same inventory. A node's other changes (HAMi's lock annotation on every
 * bind, heartbeats, labels) leave it as it is, so the cache can skip reading it again.
 */
export function inventoryInputs(node: NodeObject, keys: readonly VendorNodeKeys[] = [NVIDIA_NODE_KEYS]): string {
  const annotations = node.metadata?.annotations ?? {};
  const parts: (string | number | undefined)[] = [node.metadata?.name, annotations[NODE_DEVICE_CORDON]];
  for (const k of keys) parts.push(annotations[k.register], k.score === undefined ? undefined : annotations[k.score], node.status?.allocatable?.[k.countResource]);
  // JSON keeps an absent value apart from an empty one and no separator can be forged.
  return JSON.stringify(parts);
}

/**
 * The node's inventory over all vendors in `keys`.
 *
 * A vendor's devices count only while `status.allocatable[countResource]` is above zero: that is
 * how HAMi (since v2.8, when plugins stopped writing the handshake) tells a running device plugin
 * from one that has gone, leaving its last annotation behind. A malformed annotation drops that
 * vendor's devices, with the decoder's message in `problems`; it never throws, so one bad node
 * cannot stop the scheduler from serving the others.
 */
export function nodeInventory(node: NodeObject, keys: readonly VendorNodeKeys[] = [NVIDIA_NODE_KEYS]): NodeInventoryResult {
  const name = node.metadata?.name ?? '';
  const annotations = node.metadata?.annotations ?? {};
  const problems: string[] = [];
  const devices: Device[] = [];
  const links: DeviceLink[] = [];
  for (const k of keys) {
    const text = annotations[k.register];
    if (text === undefined) continue;
    if (allocatableCount(node.status?.allocatable?.[k.countResource]) === 0) {
      problems.push(
        `node ${name}: ${k.register} is set but status.allocatable["${k.countResource}"] is 0 or missing, so its ${k.vendor} device plugin is not running; its devices are not scheduled`,
      );
      continue;
    }
    try {
      devices.push(...decodeNodeRegister(text, k.vendor, k.register));
    } catch (error) {
      problems.push(`node ${name}: ${(error as Error).message}; its ${k.vendor} devices are not scheduled`);
      continue;
    }
    const scores = k.score === undefined ? undefined : annotations[k.score];
    if (k.score !== undefined && scores !== undefined) {
      try {
        links.push(...decodeNodeScore(scores, k.score));
      } catch (error) {
        problems.push(`node ${name}: ${(error as Error).message}; topology scores ignored`);
      }
    }
  }
  if (devices.length === 0) return { inventory: null, problems };
  const cordoned = decodeDeviceCordon(annotations[NODE_DEVICE_CORDON]);
  return { inventory: { name, devices, links, cordoned }, problems };
}
