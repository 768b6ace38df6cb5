/**
 * The parts of a Kubernetes Pod that placement reads, typed structurally so that a real
 * `V1Pod` (from the API server, the client library or a test fixture) can be passed as is.
 */

export type ResourceList = Readonly<Record<string, string | number | undefined>>;

export interface ContainerSpec {
  readonly name: string;
  readonly resources?: {
    readonly limits?: ResourceList;
    readonly requests?: ResourceList;
  };
  readonly securityContext?: { readonly privileged?: boolean };
}

export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerSpec[];
    readonly initContainers?: readonly ContainerSpec[];
    readonly nodeName?: string;
    readonly schedulerName?: string;
  };
}

/** The value a container asks for: limits first, then requests (Kubernetes copies limits to requests). */
export function resourceValue(container: ContainerSpec, name: string): string | number | undefined {
  return container.resources?.limits?.[name] ?? container.resources?.requests?.[name];
}

/** `namespace/name`, the way logs and events refer to a pod. */
export function podKey(pod: PodLike): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}
