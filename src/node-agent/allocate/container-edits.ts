/**
 * What one container gets for its share: the environment, mounts and files that make the
 * enforcement library (or HAMi-core) hold it to the memory and compute the scheduler granted.
 * Pure: it computes paths and contents; `host-files.ts` writes them.
 *
 * Layout on the host, under the hook directory (`/usr/local/vgpu` by default, HAMi's
 * `<HOOK_PATH>/vgpu`), and where each part appears in the container:
 *
 * | host | container | mode | why |
 * | --- | --- | --- | --- |
 * | `<hook>/containers/<podUID>_<name>/` | `<hook>/` | rw | the accounting region (`usage.cache`) every process of the container shares; the monitor reads it |
 * | `<hook>/<library>` | `<hook>/<library>` | ro | the enforcement library |
 * | `<hook>/ld.so.preload` | `/etc/ld.so.preload` | ro | loads the library into every process |
 * | `<hook>/limits/<podUID>_<name>/` | `/etc/tessera/` | ro | the limits file: the library trusts it over the environment, which the container can rewrite |
 * | `/tmp/vgpulock/` | `/tmp/vgpulock/` | rw | the node-wide device boards that let containers on one GPU see each other |
 *
 * The environment repeats the limits with HAMi's variable names, so HAMi-core works when it is the
 * preloaded library. In CDI mode the same edits go into a CDI spec instead (`cdi.ts`).
 */
import type { NodeSettings, NvidiaConfig } from '../../config/device-config.js';
import type { Device, DeviceGrant } from '../../core/device.js';
import type { PluginMount } from '../device-plugin/handlers.js';

/** Where the limits directory appears in the container; fixed in the library (`TESSERA_LIMITS_FILE_DEFAULT`). */
export const CONTAINER_LIMITS_DIR = '/etc/tessera';
export const LIMITS_FILE_NAME = 'limits';
export const REGION_FILE_NAME = 'usage.cache';
export const BOARD_DIR = '/tmp/vgpulock';

export interface HookLayout {
  /** Host directory holding the library, `ld.so.preload` and the per-container directories; also its path in the container. */
  readonly hookPath: string;
  /** File name of the preloaded library in {@link hookPath}: `libtessera.so`, or `libvgpu.so` for HAMi-core. */
  readonly library: string;
}

export const DEFAULT_HOOK_LAYOUT: HookLayout = Object.freeze({ hookPath: '/usr/local/vgpu', library: 'libtessera.so' });

/** The container being started, as the pod spec has it. */
export interface ContainerFacts {
  readonly podUid: string;
  readonly name: string;
  /** The container's literal `env` entries (values from references are not resolved). */
  readonly env: Readonly<Record<string, string>>;
  /** `CUDA_TASK_PRIORITY` from the container's priority resource, when it asks for one. */
  readonly priority?: number;
}

export interface ContainerEdits {
  readonly envs: Readonly<Record<string, string>>;
  readonly mounts: readonly PluginMount[];
  /** Host directory for the accounting region, created world-writable (processes run as any user). */
  readonly regionDir: string;
  /** Host directory and content of the limits file. */
  readonly limitsDir: string;
  readonly limitsFile: string;
  /** Whether `/etc/ld.so.preload` is mounted (not for an opted-out container holding whole GPUs only). */
  readonly preloaded: boolean;
}

/** `<podUID>_<container>`: unique on the node, and what HAMi names the same directory. */
export function containerKey(podUid: string, containerName: string): string {
  return `${podUid}_${containerName}`;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && (value.toLowerCase() === 'true' || value === '1');
}

/** A grant of a whole device: nothing else can share it, so there is nobody to protect. */
function wholeDevice(grant: DeviceGrant, devices: ReadonlyMap<string, Device>): boolean {
  const device = devices.get(grant.id);
  return device !== undefined && grant.cores >= device.cores && grant.memoryMiB >= device.memoryMiB;
}

/**
 * The edits for `container` holding `grants` (in the order the scheduler granted them: CUDA
 * ordinal `i` is `grants[i]`).
 *
 * `CUDA_DISABLE_CONTROL=true` in the container's spec skips the preload only when every grant is a
 * whole device; for a share it is ignored, since the tenant could otherwise take the whole card
 * from its neighbours. (HAMi skips the preload for any container that sets it.)
 */
export function containerEdits(
  container: ContainerFacts,
  grants: readonly DeviceGrant[],
  devices: ReadonlyMap<string, Device>,
  settings: Pick<NodeSettings, 'deviceMemoryScaling' | 'libCudaLogLevel'>,
  nvidia: Pick<NvidiaConfig, 'disableCoreLimit' | 'gpuCorePolicy'>,
  layout: HookLayout = DEFAULT_HOOK_LAYOUT,
): ContainerEdits {
  const key = containerKey(container.podUid, container.name);
  const hook = layout.hookPath;
  const limits: Record<string, string> = {};
  grants.forEach((grant, i) => {
    limits[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] = `${grant.memoryMiB}m`;
  });
  limits.CUDA_DEVICE_SM_LIMIT = String(grants[0]?.cores ?? 0);
  limits.CUDA_DEVICE_MEMORY_SHARED_CACHE = `${hook}/${REGION_FILE_NAME}`;
  if (container.priority !== undefined) limits.CUDA_TASK_PRIORITY = String(container.priority);
  const policy = nvidia.disableCoreLimit ? 'disable' : nvidia.gpuCorePolicy;
  if (policy !== 'default') limits.GPU_CORE_UTILIZATION_POLICY = policy;

  const envs: Record<string, string> = {
    NVIDIA_VISIBLE_DEVICES: grants.map((g) => g.id).join(','),
    ...limits,
    LIBCUDA_LOG_LEVEL: String(settings.libCudaLogLevel),
  };
  if (settings.deviceMemoryScaling > 1) envs.CUDA_OVERSUBSCRIBE = 'true';

  const optedOut = truthy(container.env.CUDA_DISABLE_CONTROL) && grants.every((g) => wholeDevice(g, devices));
  const regionDir = `${hook}/containers/${key}`;
  const limitsDir = `${hook}/limits/${key}`;
  const mounts: PluginMount[] = [
    { containerPath: hook, hostPath: regionDir, readOnly: false },
    { containerPath: `${hook}/${layout.library}`, hostPath: `${hook}/${layout.library}`, readOnly: true },
    { containerPath: CONTAINER_LIMITS_DIR, hostPath: limitsDir, readOnly: true },
    { containerPath: BOARD_DIR, hostPath: BOARD_DIR, readOnly: false },
  ];
  if (!optedOut) mounts.push({ containerPath: '/etc/ld.so.preload', hostPath: `${hook}/ld.so.preload`, readOnly: true });

  const limitsFile =
    `# Written by the Tessera node agent for container ${container.name} of pod ${container.podUid}; read-only in the container.\n` +
    Object.entries(limits)
      .map(([k, v]) => `${k}=${v}\n`)
      .join('');
  return { envs, mounts, regionDir, limitsDir, limitsFile, preloaded: !optedOut };
}
