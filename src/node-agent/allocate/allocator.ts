/**
 * `Allocate`: hands the container the kubelet is starting exactly the share the scheduler chose.
 *
 * For each container request the kubelet sends (one per container, init containers first), the
 * first container of the waiting pod with devices left in `hami.io/vgpu-devices-to-allocate` is
 * served: its entry is checked against the request and this node's devices, its host files are
 * written, and its environment and mounts (or CDI names) are answered. The pod's to-allocate
 * annotation then loses the served entries; once none is left the pod is marked
 * `hami.io/bind-phase: success` and the node lock is released, so the scheduler can bind the next
 * pod here.
 *
 * All or nothing: any failure removes the files written by this call, marks the pod
 * `bind-phase: failed`, releases the lock and refuses the call, so the kubelet fails the pod
 * (`UnexpectedAdmissionError`) instead of starting a container without its limits.
 *
 * Calls are served one at a time: two containers must not be matched to the same entry.
 */
import type { NodeSettings, NvidiaConfig } from '../../config/device-config.js';
import { POD_BIND_PHASE, POD_DEVICES_TO_ALLOCATE } from '../../core/annotations.js';
import { decodePodGrants, encodePodGrants } from '../../core/codec/index.js';
import type { Device, DeviceGrant } from '../../core/device.js';
import { DecodeError, quote } from '../../core/errors.js';
import { podKey } from '../../core/pod.js';
import { KubeApiError, type KubeClient, type Pod } from '../../k8s/client.js';
import type { NodeLocker } from '../../k8s/node-lock.js';
import { AllocateRefusal, type ContainerAllocation } from '../device-plugin/handlers.js';
import { cdiSpecFile, type CdiOptions, type CdiSpecFile } from './cdi.js';
import { containerEdits, containerKey, DEFAULT_HOOK_LAYOUT, type ContainerEdits, type ContainerFacts, type HookLayout } from './container-edits.js';
import { removeContainerFiles, writeContainerFiles } from './host-files.js';
import { findPendingPod } from './pending-pod.js';

/** gRPC status codes the kubelet sees. */
export const GRPC = { INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, INTERNAL: 13, UNAVAILABLE: 14 } as const;

export interface AllocatorOptions {
  readonly client: KubeClient;
  readonly locker: NodeLocker;
  readonly nodeName: string;
  /** The devices this node registers now, by UUID. */
  readonly devices: () => ReadonlyMap<string, Device>;
  readonly settings: () => NodeSettings;
  readonly nvidia: Pick<NvidiaConfig, 'disableCoreLimit' | 'gpuCorePolicy' | 'resourcePriorityName'>;
  readonly layout?: HookLayout;
  /** CDI mode when set: answer CDI device names and write a spec file instead of env and mounts. */
  readonly cdi?: CdiOptions;
  readonly log?: (line: string) => void;
}

interface ContainerSpecLike {
  readonly name: string;
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
  readonly resources?: { readonly limits?: Readonly<Record<string, string>>; readonly requests?: Readonly<Record<string, string>> };
}

/** The pod failed for a reason the kubelet and the pod's owner must see. */
class AllocationFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Container `index` of the allocation annotation: init containers first, then app containers. */
function containerAt(pod: Pod, index: number): ContainerSpecLike | undefined {
  const init = pod.spec?.initContainers ?? [];
  return index < init.length ? init[index] : pod.spec?.containers[index - init.length];
}

function literalEnv(container: ContainerSpecLike): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  return env;
}

export class Allocator {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly layout: HookLayout;
  private readonly log: (line: string) => void;

  constructor(private readonly options: AllocatorOptions) {
    this.layout = options.layout ?? DEFAULT_HOOK_LAYOUT;
    this.log = options.log ?? (() => {});
  }

  /** Serves one `Allocate` call; see the module comment. Rejects with {@link AllocateRefusal} only. */
  allocate(containerRequests: readonly (readonly string[])[]): Promise<readonly ContainerAllocation[]> {
    const next = this.queue.then(() => this.serve(containerRequests));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async serve(requests: readonly (readonly string[])[]): Promise<readonly ContainerAllocation[]> {
    const { client, nodeName } = this.options;
    let pod: Pod | undefined;
    try {
      pod = await findPendingPod(client, nodeName);
    } catch (error) {
      throw new AllocateRefusal(GRPC.UNAVAILABLE, `node agent on ${nodeName}: cannot look up the pod being started: ${(error as Error).message}`, { cause: error });
    }
    if (pod === undefined) {
      throw new AllocateRefusal(
        GRPC.FAILED_PRECONDITION,
        `no binding pod found on node ${nodeName}: no pod bound here by the scheduler is waiting for devices ` +
          `(was the pod created with spec.nodeName set, or scheduled by another scheduler? GPU shares are placed by the Tessera scheduler extender)`,
      );
    }
    const written: { regionDir: string; limitsDir: string; cdiPath?: string }[] = [];
    try {
      const answers = await this.serveContainers(pod, requests, written);
      return answers;
    } catch (error) {
      const failure =
        error instanceof AllocationFailure ? error : new AllocationFailure(GRPC.INTERNAL, `pod ${podKey(pod)}: ${(error as Error).message}`);
      await this.rollBack(pod, written, failure.message);
      throw new AllocateRefusal(failure.code, failure.message, { cause: error });
    }
  }

  private async serveContainers(
    pod: Pod,
    requests: readonly (readonly string[])[],
    written: { regionDir: string; limitsDir: string; cdiPath?: string }[],
  ): Promise<readonly ContainerAllocation[]> {
    const key = podKey(pod);
    const text = pod.metadata?.annotations?.[POD_DEVICES_TO_ALLOCATE] ?? '';
    let remaining: DeviceGrant[][];
    try {
      remaining = decodePodGrants(text, POD_DEVICES_TO_ALLOCATE).map((grants) => [...grants]);
    } catch (error) {
      if (error instanceof DecodeError) throw new AllocationFailure(GRPC.INVALID_ARGUMENT, `pod ${key}: ${error.message}`);
      throw error;
    }
    const devices = this.options.devices();
    const answers: ContainerAllocation[] = [];
    for (const [r, ids] of requests.entries()) {
      const index = remaining.findIndex((grants) => grants.length > 0);
      const grants = remaining[index];
      if (grants === undefined) {
        throw new AllocationFailure(
          GRPC.INVALID_ARGUMENT,
          `pod ${key}: the kubelet asks devices for container request ${r} but ${POD_DEVICES_TO_ALLOCATE} has no container left to serve (${quote(text)})`,
        );
      }
      const container = containerAt(pod, index);
      if (container === undefined) {
        throw new AllocationFailure(GRPC.INVALID_ARGUMENT, `pod ${key}: ${POD_DEVICES_TO_ALLOCATE} has an entry for container ${index}, but the pod has fewer containers`);
      }
      if (grants.length !== ids.length) {
        throw new AllocationFailure(
          GRPC.INVALID_ARGUMENT,
          `pod ${key}, container ${container.name}: device number not matched: the scheduler granted ${grants.length} device(s), the kubelet allocates ${ids.length}`,
        );
      }
      for (const grant of grants) {
        if (!devices.has(grant.id)) {
          throw new AllocationFailure(
            GRPC.FAILED_PRECONDITION,
            `pod ${key}, container ${container.name}: granted device ${grant.id} is not registered on node ${this.options.nodeName}`,
          );
        }
      }
      const { edits, cdi } = this.editsFor(pod, container, grants, devices);
      written.push({ regionDir: edits.regionDir, limitsDir: edits.limitsDir, ...(cdi && { cdiPath: cdi.path }) });
      await writeContainerFiles(edits, cdi);
      answers.push(
        cdi === undefined
          ? { envs: edits.envs, mounts: edits.mounts, devices: [], annotations: {}, cdiDevices: [] }
          : { envs: {}, mounts: [], devices: [], annotations: {}, cdiDevices: cdi.deviceNames },
      );
      remaining[index] = [];
      this.log(`allocate: pod ${key} container ${container.name}: ${grants.map((g) => `${g.id} ${g.memoryMiB}MiB ${g.cores}%`).join(', ')}`);
    }
    await this.commit(pod, text, remaining);
    return answers;
  }

  private editsFor(
    pod: Pod,
    container: ContainerSpecLike,
    grants: readonly DeviceGrant[],
    devices: ReadonlyMap<string, Device>,
  ): { edits: ContainerEdits; cdi: CdiSpecFile | undefined } {
    const facts: ContainerFacts = {
      podUid: pod.metadata?.uid ?? '',
      name: container.name,
      env: literalEnv(container),
      ...this.priorityOf(pod, container),
    };
    if (facts.podUid === '') throw new AllocationFailure(GRPC.INVALID_ARGUMENT, `pod ${podKey(pod)} has no metadata.uid`);
    const edits = containerEdits(facts, grants, devices, this.options.settings(), this.options.nvidia, this.layout);
    const cdi =
      this.options.cdi === undefined
        ? undefined
        : cdiSpecFile(containerKey(facts.podUid, container.name), grants.map((g) => g.id), edits, this.options.cdi);
    return { edits, cdi };
  }

  private priorityOf(pod: Pod, container: ContainerSpecLike): { priority?: number } {
    const name = this.options.nvidia.resourcePriorityName;
    const value = container.resources?.limits?.[name] ?? container.resources?.requests?.[name];
    if (value === undefined) return {};
    if (!/^\d+$/.test(String(value))) {
      throw new AllocationFailure(
        GRPC.INVALID_ARGUMENT,
        `pod ${podKey(pod)}, container ${container.name}: ${name} must be a whole number (0 high, 1 low), got ${quote(String(value))}`,
      );
    }
    return { priority: Number(value) };
  }

  /**
   * Records what was served; the last container served completes the pod and frees the node. The
   * patch is conditional on the annotation still reading as it did (a JSON patch `test`), not on the
   * pod's resourceVersion: the kubelet updates the pod's status while it admits it, and that must
   * not fail the allocation, but a second writer of the decision must.
   */
  private async commit(pod: Pod, before: string, remaining: readonly (readonly DeviceGrant[])[]): Promise<void> {
    const done = remaining.every((grants) => grants.length === 0);
    const pointer = (key: string): string => `/metadata/annotations/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    await this.options.client.jsonPatchPod(pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? '', [
      { op: 'test', path: pointer(POD_DEVICES_TO_ALLOCATE), value: before },
      { op: 'replace', path: pointer(POD_DEVICES_TO_ALLOCATE), value: encodePodGrants(remaining) },
      ...(done ? [{ op: 'add' as const, path: pointer(POD_BIND_PHASE), value: 'success' }] : []),
    ]);
    if (done) await this.releaseLock(pod);
  }

  private async rollBack(pod: Pod, written: readonly { regionDir: string; limitsDir: string; cdiPath?: string }[], reason: string): Promise<void> {
    const key = podKey(pod);
    this.log(`allocate: pod ${key} failed: ${reason}`);
    for (const paths of written) {
      await removeContainerFiles(paths).catch((error: unknown) => this.log(`allocate: pod ${key}: could not remove ${paths.regionDir}: ${(error as Error).message}`));
    }
    try {
      await this.options.client.mergePatchPod(pod.metadata?.namespace ?? 'default', pod.metadata?.name ?? '', { metadata: { annotations: { [POD_BIND_PHASE]: 'failed' } } });
    } catch (error) {
      this.log(`allocate: pod ${key}: could not mark ${POD_BIND_PHASE}=failed: ${(error as Error).message}`);
    }
    await this.releaseLock(pod);
  }

  private async releaseLock(pod: Pod): Promise<void> {
    const owner = { namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name ?? '' };
    try {
      const result = await this.options.locker.release(this.options.nodeName, owner);
      if (!result.released && result.reason !== 'other-owner' && result.reason !== 'not-locked') this.log(`allocate: node lock of ${podKey(pod)} not released: ${result.message}`);
    } catch (error) {
      const why = error instanceof KubeApiError ? error.message : String(error);
      this.log(`allocate: could not release the node lock of ${podKey(pod)}: ${why}`);
    }
  }
}
