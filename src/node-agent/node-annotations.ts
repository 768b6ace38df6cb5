/**
 * The node's annotations as the agent wants them, against what the Node carries now: the merge
 * patch that brings it there, or nothing when it already is. Writing only on change matters: every
 * write wakes every node informer in the cluster, and HAMi's scheduler re-reads a node whose
 * register annotation string changed.
 *
 * - `hami.io/node-nvidia-register`: the registered devices (JSON, HAMi's byte-exact form).
 * - `hami.io/node-nvidia-score`: pair scores, when the node has more than one GPU and topology
 *   scores are on; removed otherwise.
 * - `hami.io/node-handshake`: a scheduler's `Requesting_…` (or an old scheduler's `Deleted_…`) is
 *   answered with `Reported <now>`; an answer already there is left alone.
 * - `tessera.io/node-monitor-url`: where this agent's monitor serves `/metrics`, when it advertises
 *   one, so the scheduler's dashboard can show what is really used beside what is allocated.
 * - `hami.io/device-cordon` is read, never written: an operator's list of GPU UUIDs to take out of
 *   scheduling (comma-separated). The agent advertises those GPUs' slots as unhealthy.
 */
import { NODE_HANDSHAKE, NODE_MONITOR_URL, NODE_NVIDIA_REGISTER, NODE_NVIDIA_SCORE } from '../core/annotations.js';
import { encodeHandshakeReport, encodeNodeRegister, encodeNodeScore } from '../core/codec/index.js';
import type { Device, DeviceLink } from '../core/device.js';

export interface DesiredRegistration {
  readonly devices: readonly Device[];
  readonly links: readonly DeviceLink[];
  /** Whether to publish pair scores (HAMi's `ENABLE_TOPOLOGY_SCORE`). */
  readonly topologyScore: boolean;
  /** The monitor's `/metrics` URL to advertise; absent: the annotation is left as it is. */
  readonly monitorUrl?: string;
}

/** The merge patch for the node's annotations (`null` removes a key), or undefined when none is needed. */
export function registrationPatch(
  annotations: Readonly<Record<string, string>>,
  desired: DesiredRegistration,
  now: Date,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  const register = encodeNodeRegister(desired.devices);
  if (annotations[NODE_NVIDIA_REGISTER] !== register) patch[NODE_NVIDIA_REGISTER] = register;
  const score = desired.topologyScore && desired.links.length > 0 ? encodeNodeScore(desired.links) : undefined;
  if (score === undefined) {
    if (annotations[NODE_NVIDIA_SCORE] !== undefined) patch[NODE_NVIDIA_SCORE] = null;
  } else if (annotations[NODE_NVIDIA_SCORE] !== score) {
    patch[NODE_NVIDIA_SCORE] = score;
  }
  if (desired.monitorUrl !== undefined && annotations[NODE_MONITOR_URL] !== desired.monitorUrl) patch[NODE_MONITOR_URL] = desired.monitorUrl;
  const handshake = annotations[NODE_HANDSHAKE];
  if (handshake !== undefined && (handshake.startsWith('Requesting') || handshake.startsWith('Deleted'))) {
    patch[NODE_HANDSHAKE] = encodeHandshakeReport(now);
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}
