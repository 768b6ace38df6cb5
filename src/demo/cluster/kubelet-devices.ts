/**
 * The kubelet's device manager, as the demo cluster and the tests need it: it speaks the real
 * device plugin protocol over unix sockets in a directory: it serves `v1beta1.Registration` on `<dir>/kubelet.sock`, and for each plugin that
 * registers it dials the plugin's socket as the kubelet does, keeps a `ListAndWatch` stream open
 * and offers the kubelet's calls (`Allocate`, `GetPreferredAllocation`, …). `restart()` does what a
 * kubelet restart does to plugins: every socket in the directory is removed and `kubelet.sock`
 * comes back as a new file.
 *
 * It talks to one plugin at a time (the one that registered last), which is all the agent runs.
 * Calls resolve to the wire messages as plain objects (proto field names, int64 as strings) and
 * reject with {@link CallError}, the gRPC status code and details the kubelet would see.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type ClientReadableStream,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';

import {
  API_VERSION,
  devicePluginApi,
  serviceDefinition,
  type WireAllocateRequest,
  type WireAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WireEmpty,
  type WireListAndWatchResponse,
  type WirePreferredAllocationRequest,
  type WirePreferredAllocationResponse,
  type WirePreStartContainerRequest,
  type WireRegisterRequest,
} from '../../node-agent/device-plugin/proto.js';

/** The plugin-side calls the kubelet makes, typed. */
interface PluginClient {
  GetDevicePluginOptions(request: WireEmpty, callback: (error: ServiceError | null, response?: WireDevicePluginOptions) => void): void;
  ListAndWatch(request: WireEmpty): ClientReadableStream<WireListAndWatchResponse>;
  GetPreferredAllocation(request: WirePreferredAllocationRequest, callback: (error: ServiceError | null, response?: WirePreferredAllocationResponse) => void): void;
  Allocate(request: WireAllocateRequest, callback: (error: ServiceError | null, response?: WireAllocateResponse) => void): void;
  PreStartContainer(request: WirePreStartContainerRequest, callback: (error: ServiceError | null, response?: WireEmpty) => void): void;
  close(): void;
}

/** One container's `ContainerPreferredAllocationRequest`. */
export interface PreferredRequest {
  readonly available: readonly string[];
  readonly mustInclude?: readonly string[];
  readonly size: number;
}

/**
 * The shape the kubelet requires of a resource name: an extended resource, `<domain>/<name>`,
 * outside the `kubernetes.io` domains (kubelet `v1helper.IsExtendedResourceName`, simplified).
 */
const EXTENDED_RESOURCE = /^(?!(?:[^/]*\.)?kubernetes\.io\/)[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A refused call: the gRPC status code and its details, as the kubelet would log them. */
export class CallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${status[code] ?? ''}: ${details}`);
  }
}

function call<T>(run: (callback: (error: ServiceError | null, response?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, response) => (error ? reject(new CallError(error.code, error.details)) : resolve(response as T)));
  });
}

/** See the module comment. Start with {@link KubeletDevices.start}; always {@link KubeletDevices.close}. */
export class KubeletDevices {
  /** Every RegisterRequest received, in order. */
  readonly registrations: WireRegisterRequest[] = [];
  /** The latest list from the current plugin's ListAndWatch. */
  devices: WireDevice[] = [];
  /** Lists received over all streams. */
  listUpdates = 0;
  /** How the current plugin's ListAndWatch stream ended, when it ended with an error status. */
  streamError: CallError | undefined;
  private server: Server | undefined;
  private plugin: PluginClient | undefined;
  private stream: ClientReadableStream<WireListAndWatchResponse> | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly dir: string) {}

  get socket(): string {
    return join(this.dir, 'kubelet.sock');
  }

  static async start(dir: string): Promise<KubeletDevices> {
    const kubelet = new KubeletDevices(dir);
    await kubelet.serve();
    return kubelet;
  }

  private async serve(): Promise<void> {
    const server = new Server();
    server.addService(serviceDefinition(devicePluginApi().Registration), {
      Register: (request: ServerUnaryCall<WireRegisterRequest, WireEmpty>, callback: sendUnaryData<WireEmpty>) => {
        void this.register(request.request, callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${this.socket}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
    });
    this.server = server;
  }

  private async register(request: WireRegisterRequest, callback: sendUnaryData<WireEmpty>): Promise<void> {
    const server = this.server;
    // What the real kubelet checks before it accepts a plugin.
    if (request.version !== API_VERSION) {
      callback({ code: status.INVALID_ARGUMENT, details: `unsupported API version ${request.version}` });
      return;
    }
    if (!EXTENDED_RESOURCE.test(request.resource_name)) {
      callback({ code: status.INVALID_ARGUMENT, details: `invalid resource name ${JSON.stringify(request.resource_name)}: not an extended resource name` });
      return;
    }
    if (request.endpoint === '' || request.endpoint.includes('/')) {
      callback({ code: status.INVALID_ARGUMENT, details: `endpoint ${JSON.stringify(request.endpoint)} must be a socket file name in ${this.dir}` });
      return;
    }
    try {
      if (!(await stat(join(this.dir, request.endpoint))).isSocket()) throw new Error('not a socket');
    } catch (error) {
      callback({ code: status.INVALID_ARGUMENT, details: `endpoint ${request.endpoint}: ${(error as Error).message}` });
      return;
    }
    if (this.server !== server) {
      // Closed or restarted while checking the endpoint: that kubelet is gone.
      callback({ code: status.UNAVAILABLE, details: 'the kubelet is shutting down' });
      return;
    }
    this.registrations.push(request);
    this.connect(request.endpoint);
    callback(null, {});
    this.notify();
  }

  private connect(endpoint: string): void {
    this.stream?.cancel();
    this.plugin?.close();
    const DevicePlugin = devicePluginApi().DevicePlugin;
    const plugin = new DevicePlugin(`unix://${join(this.dir, endpoint)}`, credentials.createInsecure()) as unknown as PluginClient;
    const stream = plugin.ListAndWatch({});
    this.streamError = undefined;
    stream.on('data', (response: WireListAndWatchResponse) => {
      if (stream !== this.stream) return;
      this.devices = response.devices;
      this.listUpdates++;
      this.notify();
    });
    stream.on('error', (error: ServiceError) => {
      if (stream !== this.stream) return;
      this.streamError = new CallError(error.code, error.details);
      this.notify();
    });
    this.plugin = plugin;
    this.stream = stream;
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves once `condition()` holds (checked on every registration and list update), or rejects after `timeoutMs`. */
  until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`kubelet devices: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the device list once `predicate` holds for it (checked on every update), or rejects after `timeoutMs`. */
  async waitForDevices(predicate: (devices: readonly WireDevice[]) => boolean, timeoutMs = 5000): Promise<WireDevice[]> {
    await this.until('a device list that matches', () => predicate(this.devices), timeoutMs);
    return this.devices;
  }

  private client(): PluginClient {
    if (this.plugin === undefined) throw new Error('kubelet devices: no plugin has registered');
    return this.plugin;
  }

  getOptions(): Promise<WireDevicePluginOptions> {
    return call((cb) => this.client().GetDevicePluginOptions({}, cb));
  }

  allocate(containerRequests: readonly (readonly string[])[]): Promise<WireAllocateResponse> {
    return call((cb) => this.client().Allocate({ container_requests: containerRequests.map((ids) => ({ devices_ids: [...ids] })) }, cb));
  }

  getPreferredAllocation(containers: readonly PreferredRequest[]): Promise<WirePreferredAllocationResponse> {
    const container_requests = containers.map((c) => ({
      available_deviceIDs: [...c.available],
      must_include_deviceIDs: [...(c.mustInclude ?? [])],
      allocation_size: c.size,
    }));
    return call((cb) => this.client().GetPreferredAllocation({ container_requests }, cb));
  }

  preStart(ids: readonly string[]): Promise<WireEmpty> {
    return call((cb) => this.client().PreStartContainer({ devices_ids: [...ids] }, cb));
  }

  /**
   * A kubelet restart: stops serving, removes every socket in the directory (the plugin's too),
   * serves a new kubelet.sock, then waits up to `timeoutMs` for the plugin to register again.
   * Resolves with the milliseconds from the restart to that registration.
   */
  async restart(timeoutMs = 5000): Promise<number> {
    const before = this.registrations.length;
    const started = performance.now();
    await this.stopServing();
    for (const entry of await readdir(this.dir)) {
      const path = join(this.dir, entry);
      const isSocket = await stat(path).then((s) => s.isSocket(), () => false);
      if (isSocket) await rm(path, { force: true });
    }
    await this.serve();
    await this.until('the plugin to register again after the restart', () => this.registrations.length > before, timeoutMs);
    return performance.now() - started;
  }

  private async stopServing(): Promise<void> {
    this.stream?.cancel();
    this.stream = undefined;
    this.plugin?.close();
    this.plugin = undefined;
    // A restarted kubelet knows no devices until a plugin streams them again.
    this.devices = [];
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) server.forceShutdown();
    await rm(this.socket, { force: true });
  }

  async close(): Promise<void> {
    await this.stopServing();
  }
}
