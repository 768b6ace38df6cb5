/**
 * Which XID critical errors make a GPU unhealthy. The rule is the NVIDIA device plugin's
 * (k8s-device-plugin, internal/rm/health.go), which HAMi's device plugin inherits: every XID is
 * fatal for the device except the ones an application causes to itself, which the driver reports
 * but which leave the GPU usable for the next pod.
 */

/**
 * XIDs caused by the application, not the GPU: 13 graphics engine exception, 31 GPU memory page
 * fault, 43 GPU stopped processing, 45 preemptive cleanup after earlier errors, 68 video
 * processor exception, 109 context switch timeout.
 */
export const APPLICATION_XIDS: ReadonlySet<number> = new Set([13, 31, 43, 45, 68, 109]);

/** Short descriptions of the XIDs most often seen in clusters (NVIDIA's XID catalogue). */
const DESCRIPTIONS: ReadonlyMap<number, string> = new Map([
  [48, 'double-bit ECC error'],
  [62, 'internal micro-controller halt'],
  [63, 'ECC page retirement or row remapping recorded'],
  [64, 'ECC page retirement or row remapper failure'],
  [74, 'NVLink error'],
  [79, 'GPU has fallen off the bus'],
  [92, 'high single-bit ECC error rate'],
  [94, 'contained ECC error'],
  [95, 'uncontained ECC error'],
  [119, 'GSP RPC timeout'],
  [120, 'GSP error'],
  [999, 'XID the driver could not decode'],
]);

/**
 * The health reason an XID gives its device, e.g. `XID 79: GPU has fallen off the bus`, or
 * undefined for an application XID, which leaves the device healthy.
 */
export function xidHealthReason(xid: number): string | undefined {
  if (APPLICATION_XIDS.has(xid)) return undefined;
  const description = DESCRIPTIONS.get(xid);
  return description === undefined ? `XID ${String(xid)}` : `XID ${String(xid)}: ${description}`;
}
