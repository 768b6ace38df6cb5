/**
 * CDI mode: instead of environment and mounts in the `Allocate` answer, the agent writes a
 * transient CDI spec for the container (`/var/run/cdi`, the directory runtimes read for dynamic
 * specs) and answers with CDI device names. The container runtime applies the spec; the NVIDIA
 * Container Toolkit's own CDI spec (`nvidia.com/gpu=<uuid>`) brings the device nodes and driver
 * libraries. Pure: builds the spec; `host-files.ts` writes it.
 */
import type { ContainerEdits } from './container-edits.js';

/** Our CDI kind: vendor `tessera.io`, class `vgpu`. */
export const CDI_KIND = 'tessera.io/vgpu';
/** The spec version: env and mounts with options need nothing newer. */
export const CDI_VERSION = '0.6.0';

export interface CdiOptions {
  /** Directory of transient specs. @default '/var/run/cdi' */
  readonly dir: string;
  /** CDI kind of the GPUs themselves, as the NVIDIA toolkit generates it. @default 'nvidia.com/gpu' */
  readonly gpuKind: string;
}

export const DEFAULT_CDI_OPTIONS: CdiOptions = Object.freeze({ dir: '/var/run/cdi', gpuKind: 'nvidia.com/gpu' });

export interface CdiSpecFile {
  /** `<dir>/tessera.io-vgpu_<podUID>_<container>.json`, as CDI names transient specs. */
  readonly path: string;
  readonly content: string;
  /** What the kubelet passes to the runtime: the GPUs, then this container's edits. */
  readonly deviceNames: readonly string[];
}

/** The transient spec for the container `key` (`<podUID>_<name>`) holding the GPUs `uuids`. */
export function cdiSpecFile(key: string, uuids: readonly string[], edits: ContainerEdits, options: CdiOptions = DEFAULT_CDI_OPTIONS): CdiSpecFile {
  const spec = {
    cdiVersion: CDI_VERSION,
    kind: CDI_KIND,
    devices: [
      {
        name: key,
        containerEdits: {
          env: Object.entries(edits.envs)
            .filter(([name]) => name !== 'NVIDIA_VISIBLE_DEVICES')
            .map(([name, value]) => `${name}=${value}`),
          mounts: edits.mounts.map((m) => ({
            hostPath: m.hostPath,
            containerPath: m.containerPath,
            options: [m.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev', 'bind'],
          })),
        },
      },
    ],
  };
  return {
    path: `${options.dir}/${CDI_KIND.replace('/', '-')}_${key}.json`,
    content: `${JSON.stringify(spec, null, 2)}\n`,
    deviceNames: [...uuids.map((uuid) => `${options.gpuKind}=${uuid}`), `${CDI_KIND}=${key}`],
  };
}
