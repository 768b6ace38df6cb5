/**
 * The slots the kubelet counts: each registered GPU advertised split-count times, as
 * `<uuid>::<n>`, so that `nvidia.com/gpu: 1` in ten pods can land on one card. The kubelet's
 * choice of slot ids carries no meaning (the scheduler's decision in the pod's annotations says
 * which GPU and how much of it); only their number is checked.
 */
import type { Device } from '../core/device.js';
import type { PluginDevice } from './device-plugin/handlers.js';

const SEPARATOR = '::';

/** Slot ids and health for `devices`; a cordoned or unhealthy device's slots are `Unhealthy`. */
export function deviceSlots(devices: readonly Device[], cordoned: ReadonlySet<string>, advertiseNuma: boolean): PluginDevice[] {
  const slots: PluginDevice[] = [];
  for (const device of devices) {
    const health = device.healthy && !cordoned.has(device.id) ? 'Healthy' : 'Unhealthy';
    for (let n = 0; n < device.splitCount; n++) {
      slots.push({ id: `${device.id}${SEPARATOR}${n}`, health, ...(advertiseNuma && { numa: device.numa }) });
    }
  }
  return slots;
}

/** The GPU a slot id belongs to. */
export function slotDevice(slotId: string): string {
  const at = slotId.lastIndexOf(SEPARATOR);
  return at < 0 ? slotId : slotId.slice(0, at);
}

/**
 * `size` slots out of `available`, keeping `mustInclude`, each on a different GPU while possible
 * (a container asking for two vGPUs gets two GPUs from the scheduler, so the kubelet's count
 * should match slots on two GPUs).
 */
export function preferredSlots(available: readonly string[], mustInclude: readonly string[], size: number): string[] {
  const chosen: string[] = [];
  const used = new Set<string>();
  const take = (id: string): void => {
    chosen.push(id);
    used.add(slotDevice(id));
  };
  for (const id of mustInclude) if (chosen.length < size && !chosen.includes(id)) take(id);
  for (const id of available) if (chosen.length < size && !chosen.includes(id) && !used.has(slotDevice(id))) take(id);
  for (const id of available) if (chosen.length < size && !chosen.includes(id)) take(id);
  return chosen;
}
