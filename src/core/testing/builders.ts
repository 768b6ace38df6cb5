/**
 * Builders for tests: pods and nodes written the way a reader thinks of them
 * (`pod().gpu(1).mem(3000).cores(30)`), producing the real objects the code reads.
 */
import type { Device, DeviceLink, NodeInventory } from '../device.js';
import type { ContainerSpec, PodLike } from '../pod.js';

type Resources = Record<string, string>;

export class PodBuilder {
  private readonly containers: { name: string; limits: Resources; init: boolean }[] = [];
  private readonly annotations: Record<string, string> = {};
  private current: { name: string; limits: Resources; init: boolean };

  constructor(private readonly name = 'p') {
    this.current = { name: 'main', limits: {}, init: false };
    this.containers.push(this.current);
  }

  /** Starts another app container. */
  container(name: string): this {
    this.current = { name, limits: {}, init: false };
    this.containers.push(this.current);
    return this;
  }

  /** Starts an init container. */
  initContainer(name: string): this {
    this.current = { name, limits: {}, init: true };
    this.containers.push(this.current);
    return this;
  }

  resource(name: string, value: string | number): this {
    this.current.limits[name] = String(value);
    return this;
  }

  gpu(n: number | string): this {
    return this.resource('nvidia.com/gpu', n);
  }
  mem(mib: number | string): this {
    return this.resource('nvidia.com/gpumem', mib);
  }
  memPercent(p: number | string): this {
    return this.resource('nvidia.com/gpumem-percentage', p);
  }
  cores(p: number | string): this {
    return this.resource('nvidia.com/gpucores', p);
  }
  annotate(key: string, value: string): this {
    this.annotations[key] = value;
    return this;
  }

  build(): PodLike {
    const spec = (c: { name: string; limits: Resources }): ContainerSpec => ({ name: c.name, resources: { limits: c.limits } });
    return {
      metadata: { name: this.name, namespace: 'default', annotations: this.annotations },
      spec: {
        initContainers: this.containers.filter((c) => c.init).map(spec),
        containers: this.containers.filter((c) => !c.init).map(spec),
      },
    };
  }
}

export const pod = (name?: string): PodBuilder => new PodBuilder(name);

export function gpu(id: string, overrides: Partial<Device> = {}): Device {
  return {
    id,
    index: 0,
    vendor: 'NVIDIA',
    type: 'NVIDIA-NVIDIA A100-SXM4-80GB',
    memoryMiB: 81920,
    cores: 100,
    splitCount: 10,
    numa: 0,
    healthy: true,
    mode: 'hami-core',
    ...overrides,
  };
}

/** A node whose devices get indexes in order. */
export function node(name: string, devices: Device[], links: DeviceLink[] = [], cordoned: string[] = []): NodeInventory {
  return { name, devices: devices.map((d, index) => ({ ...d, index })), links, cordoned: new Set(cordoned) };
}

/** The same node with allocatable CPU (millicores) and memory (MiB). */
export function withHost(inventory: NodeInventory, cpuMilli: number, memoryMiB: number): NodeInventory {
  return { ...inventory, host: { cpuMilli, memoryMiB } };
}
