/**
 * What the kubelet device plugin server asks of the rest of the agent. The gRPC server
 * (`server.ts`) owns sockets, registration and streams; these handlers own the decisions, in plain
 * TypeScript types (no gRPC or protobuf types cross this seam).
 */

/** One advertised device slot (`deviceplugin/v1beta1` `Device`). */
export interface PluginDevice {
  /** Slot id, at most 63 characters: `<uuid>::<replica>` for a shared GPU. */
  readonly id: string;
  readonly health: 'Healthy' | 'Unhealthy';
  /** NUMA node, advertised in `TopologyInfo` only when set. */
  readonly numa?: number;
}

/** A mount as the kubelet applies it (`Mount`). */
export interface PluginMount {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readOnly: boolean;
}

/** A device node to expose (`DeviceSpec`). */
export interface PluginDeviceSpec {
  readonly containerPath: string;
  readonly hostPath: string;
  /** cgroup permissions, e.g. `rw`. */
  readonly permissions: string;
}

/** The answer for one container (`ContainerAllocateResponse`). */
export interface ContainerAllocation {
  readonly envs: Readonly<Record<string, string>>;
  readonly mounts: readonly PluginMount[];
  readonly devices: readonly PluginDeviceSpec[];
  readonly annotations: Readonly<Record<string, string>>;
  /** Fully qualified CDI device names (`vendor.com/class=name`), in CDI mode. */
  readonly cdiDevices: readonly string[];
}

/**
 * A refusal the kubelet should see as such: its message goes back as the gRPC status details, with
 * `code` (a gRPC status code; `FAILED_PRECONDITION` = 9 when no pod is waiting, `INVALID_ARGUMENT`
 * = 3 for a request that does not match the decision, `INTERNAL` = 13 otherwise).
 */
export class AllocateRefusal extends Error {
  constructor(
    readonly code: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AllocateRefusal';
  }
}

export interface DevicePluginHandlers {
  /** The slots to advertise now. */
  devices(): readonly PluginDevice[];
  /**
   * Calls `listener` whenever {@link devices} changes (health, a device added or removed); returns
   * the unsubscribe function. The server streams the new list on every open `ListAndWatch`.
   */
  onDevicesChanged(listener: () => void): () => void;
  /** Whether `GetPreferredAllocation` is offered (`DevicePluginOptions.get_preferred_allocation_available`). */
  readonly preferredAllocationAvailable: boolean;
  /**
   * Chooses `size` of `available` slot ids, keeping every one of `mustInclude`, for one container
   * (`ContainerPreferredAllocationRequest`).
   */
  preferredAllocation(available: readonly string[], mustInclude: readonly string[], size: number): readonly string[];
  /**
   * Answers an `Allocate` call: one entry per container request, in order, each the slot ids the
   * kubelet picked. Rejects with {@link AllocateRefusal} (any other error is reported as INTERNAL).
   */
  allocate(containerRequests: readonly (readonly string[])[]): Promise<readonly ContainerAllocation[]>;
}
