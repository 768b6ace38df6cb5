/**
 * A fake kubelet for tests, speaking the real device plugin protocol over unix sockets in a temp
 * directory: it serves `v1beta1.Registration` on `<dir>/kubelet.sock`, and for each plugin that
 * registers it dials the plugin's socket as the kubelet does, keeps a `ListAndWatch` stream open
 * and offers the kubelet's calls (`Allocate`, `GetPreferredAllocation`, …). `restart()` does what a
 * kubelet restart does to plugins: every socket in the directory is removed and `kubelet.sock`
 * comes back as a new file.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

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
  type WireAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WireEmpty,
  type WireListAndWatchResponse,
  type WirePreferredAllocationResponse,
  type WireRegisterRequest,
} from '../../src/node-agent/device-plugin/proto.js';

/** The plugin-side calls the kubelet makes, typed. */
interface PluginClient {
  GetDevicePluginOptions(request: WireEmpty, callback: (error: ServiceError | null, response?: WireDevicePluginOptions) => void): void;
  ListAndWatch(request: WireEmpty): ClientReadableStream<WireListAndWatchResponse>;
  GetPreferredAllocation(request: unknown, callback: (error: ServiceError | null, response?: WirePreferredAllocationResponse) => void): void;
  Allocate(request: unknown, callback: (error: ServiceError | null, response?: WireAllocateResponse) => void): void;
  PreStartContainer(request: unknown, callback: (error: ServiceError | null, response?: WireEmpty) => void): void;
  close(): void;
}

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

export class FakeKubelet {
  /** Every RegisterRequest received, in order. */
  readonly registrations: WireRegisterRequest[] = [];
  /** The latest list from the current plugin's ListAndWatch. */
  devices: WireDevice[] = [];
  /** Lists received over all streams. */
  listUpdates = 0;
  private server: Server | undefined;
  private plugin: PluginClient | undefined;
  private stream: ClientReadableStream<WireListAndWatchResponse> | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly dir: string) {}

  get socket(): string {
    return join(this.dir, 'kubelet.sock');
  }

  static async start(dir: string): Promise<FakeKubelet> {
    const kubelet = new FakeKubelet(dir);
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
    // What the real kubelet checks before it accepts a plugin.
    if (request.version !== API_VERSION) {
      callback({ code: status.INVALID_ARGUMENT, details: `unsupported API version ${request.version}` });
      return;
    }
    try {
      if (!(await stat(join(this.dir, request.endpoint))).isSocket()) throw new Error('not a socket');
    } catch (error) {
      callback({ code: status.INVALID_ARGUMENT, details: `endpoint ${request.endpoint}: ${(error as Error).message}` });
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
    stream.on('data', (response: WireListAndWatchResponse) => {
      if (stream !== this.stream) return;
      this.devices = response.devices;
      this.listUpdates++;
      this.notify();
    });
    stream.on('error', () => {});
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
        reject(new Error(`fake kubelet: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private client(): PluginClient {
    if (this.plugin === undefined) throw new Error('fake kubelet: no plugin has registered');
    return this.plugin;
  }

  options(): Promise<WireDevicePluginOptions> {
    return call((cb) => this.client().GetDevicePluginOptions({}, cb));
  }

  allocate(containerRequests: readonly (readonly string[])[]): Promise<WireAllocateResponse> {
    return call((cb) => this.client().Allocate({ container_requests: containerRequests.map((ids) => ({ devices_ids: ids })) }, cb));
  }

  preferredAllocation(available: readonly string[], mustInclude: readonly string[], size: number): Promise<WirePreferredAllocationResponse> {
    return call((cb) =>
      this.client().GetPreferredAllocation(
        { container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: mustInclude, allocation_size: size }] },
        cb,
      ),
    );
  }

  preStart(ids: readonly string[]): Promise<WireEmpty> {
    return call((cb) => this.client().PreStartContainer({ devices_ids: ids }, cb));
  }

  /** A kubelet restart: stops serving, removes every socket in the directory, serves a new kubelet.sock. */
  async restart(): Promise<void> {
    await this.stopServing();
    for (const entry of await readdir(this.dir)) {
      const path = join(this.dir, entry);
      if ((await stat(path)).isSocket()) await rm(path, { force: true });
    }
    await this.serve();
  }

  private async stopServing(): Promise<void> {
    this.stream?.cancel();
    this.stream = undefined;
    this.plugin?.close();
    this.plugin = undefined;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) server.forceShutdown();
    await rm(this.socket, { force: true });
  }

  async close(): Promise<void> {
    await this.stopServing();
  }
}
