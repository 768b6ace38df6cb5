/**
 * Annotation keys, in one place. HAMi's wire names: a cluster may mix HAMi's and Tessera's
 * components, so every key here is exactly HAMi's.
 */

export const NODE_NVIDIA_REGISTER = 'hami.io/node-nvidia-register';
export const NODE_NVIDIA_SCORE = 'hami.io/node-nvidia-score';
export const NODE_HANDSHAKE = 'hami.io/node-handshake';
export const NODE_LOCK = 'hami.io/mutex.lock';
export const NODE_DEVICE_CORDON = 'hami.io/device-cordon';
/** Tessera's own: where the node agent's monitor serves `/metrics`, for the scheduler's dashboard. */
export const NODE_MONITOR_URL = 'tessera.io/node-monitor-url';

export const POD_NODE = 'hami.io/vgpu-node';
export const POD_TIME = 'hami.io/vgpu-time';
export const POD_DEVICES_TO_ALLOCATE = 'hami.io/vgpu-devices-to-allocate';
export const POD_DEVICES_ALLOCATED = 'hami.io/vgpu-devices-allocated';
export const POD_BIND_PHASE = 'hami.io/bind-phase';
export const POD_BIND_TIME = 'hami.io/bind-time';

export const POD_NODE_POLICY = 'hami.io/node-scheduler-policy';
export const POD_DEVICE_POLICY = 'hami.io/gpu-scheduler-policy';
export const POD_SCORING_WEIGHTS = 'hami.io/device-scoring-weights';

export const NVIDIA_USE_TYPE = 'nvidia.com/use-gputype';
export const NVIDIA_NOUSE_TYPE = 'nvidia.com/nouse-gputype';
export const NVIDIA_USE_UUID = 'nvidia.com/use-gpuuuid';
export const NVIDIA_NOUSE_UUID = 'nvidia.com/nouse-gpuuuid';
export const NVIDIA_NUMA_BIND = 'nvidia.com/numa-bind';
export const NVIDIA_VGPU_MODE = 'nvidia.com/vgpu-mode';
