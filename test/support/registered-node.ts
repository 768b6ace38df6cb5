/**
 * A Node as the node agent leaves it once its GPUs are registered: the devices in
 * `hami.io/node-nvidia-register` and their split-count slots as allocatable `nvidia.com/gpu`,
 * which the scheduler requires before it trusts the annotation.
 */
import { NODE_NVIDIA_REGISTER } from '../../src/core/annotations.js';
import { encodeNodeRegister } from '../../src/core/codec/index.js';
import type { Device } from '../../src/core/device.js';

export interface NodeObject {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; annotations: Record<string, string> };
  status: { allocatable: Record<string, string> };
  [key: string]: unknown;
}

/** `allocatable` adds host resources (`{ cpu: '32', memory: '128Gi' }`) beside the GPU slots. */
export function registeredNode(name: string, devices: readonly Device[], allocatable: Readonly<Record<string, string>> = {}): NodeObject {
  const slots = devices.reduce((sum, d) => sum + d.splitCount, 0);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { [NODE_NVIDIA_REGISTER]: encodeNodeRegister(devices) } },
    status: { allocatable: { ...allocatable, 'nvidia.com/gpu': String(slots) } },
  };
}
