/**
 * The kubelet device plugin server (`deviceplugin/v1beta1` over unix sockets): it serves
 * `v1beta1.DevicePlugin` on a socket in the kubelet's device-plugin directory, registers that
 * socket with the kubelet (`v1beta1.Registration/Register` on `kubelet.sock`), streams the slot list
 * on `ListAndWatch`, and hands `Allocate` to the handlers.
 *
 * The kubelet forgets its plugins when it restarts: it deletes every socket in the directory and
 * creates `kubelet.sock` anew. A watcher checks both sockets every `watchIntervalMs`; when ours is
 * gone the server is started again on a fresh socket, and when `kubelet.sock` is a new file the
 * plugin registers again. Until the kubelet answers, registration is retried with backoff; nothing
 * here throws past `start()`.
 *
 * Every handler answers with a status: a throwing handler would reach the kubelet as
 * `2 UNKNOWN: Unknown error`, which tells an operator nothing.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';

import { TesseraError } from '../../core/errors.js';
import { AllocateRefusal, type ContainerAllocation, type DevicePluginHandlers, type PluginDevice } from './handlers.js';
import {
  API_VERSION,
  devicePluginApi,
  serviceDefinition,
  type WireAllocateRequest,
  type WireAllocateResponse,
  type WireContainerAllocateResponse,
  type WireDevice,
  type WireDevicePluginOptions,
  type WireEmpty,
  type WireListAndWatchResponse,
  type WirePreferredAllocationRequest,
  type WirePreferredAllocationResponse,
  type WirePreStartContainerRequest,
  registrationClient,
} from './proto.js';

/** Longest unix socket path Linux accepts (`sun_path` is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH = 107;

export interface DevicePluginServerOptions {
  /** The kubelet's device plugin directory. @default '/var/lib/kubelet/device-plugins' */
  readonly pluginDir?: string;
  /** @default '<pluginDir>/kubelet.sock' */
  readonly kubeletSocket?: string;
  /** Our socket's file name in {@link pluginDir}, e.g. `tessera-nvidia.sock`. */
  readonly socketName: string;
  /** The extended resource advertised, e.g. `nvidia.com/gpu`. */
  readonly resourceName: string;
  readonly handlers: DevicePluginHandlers;
  readonly log?: (line: string) => void;
  /** How often the sockets are checked for a kubelet restart. @default 1000 */
  readonly watchIntervalMs?: number;
  /** Longest wait between two registration attempts. @default 5000 */
  readonly maxRetryMs?: number;
}

interface SocketStamp {
  readonly ino: number;
  readonly ctimeMs: number;
}

async function stamp(path: string): Promise<SocketStamp | undefined> {
  try {
    const s = await stat(path);
    return { ino: s.ino, ctimeMs: s.ctimeMs };
  } catch {
    return undefined;
  }
}

function sameStamp(a: SocketStamp | undefined, b: SocketStamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

function toWireDevice(slot: PluginDevice): WireDevice {
  return { ID: slot.id, health: slot.health, topology: slot.numa === undefined ? null : { nodes: [{ ID: slot.numa }] } };
}

function toWireAllocation(allocation: ContainerAllocation): WireContainerAllocateResponse {
  return {
    envs: { ...allocation.envs },
    mounts: allocation.mounts.map((m) => ({ container_path: m.containerPath, host_path: m.hostPath, read_only: m.readOnly })),
    devices: allocation.devices.map((d) => ({ container_path: d.containerPath, host_path: d.hostPath, permissions: d.permissions })),
    annotations: { ...allocation.annotations },
    cdi_devices: allocation.cdiDevices.map((name) => ({ name })),
  };
}

function failure(code: status, details: string): Partial<ServiceError> {
  return { code, details, message: details };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A refusal keeps its code and message; anything else is INTERNAL, prefixed with the RPC's name. */
function statusOf(rpc: string, error: unknown): Partial<ServiceError> {
  if (error instanceof AllocateRefusal) return failure(error.code as status, error.message);
  return failure(status.INTERNAL, `${rpc}: ${messageOf(error)}`);
}

/**
 * One device plugin: one socket, one resource name. `start()` serves and begins registering;
 * `stop()` undoes both. See the module comment for the restart handling.
 */
export class DevicePluginServer {
  private readonly pluginDir: string;
  private readonly kubeletSocket: string;
  private readonly socketPath: string;
  private readonly log: (line: string) => void;
  private readonly watchIntervalMs: number;
  private readonly maxRetryMs: number;
  private server: Server | undefined;
  private ownSocket: SocketStamp | undefined;
  /** The kubelet socket we last registered with. */
  private registeredWith: SocketStamp | undefined;
  private readonly streams = new Set<ServerWritableStream<WireEmpty, WireListAndWatchResponse>>();
  private watcher: NodeJS.Timeout | undefined;
  /** The watcher's check in progress, which `stop()` waits for so it cannot serve again behind it. */
  private checking: Promise<void> | undefined;
  private stopped = false;
  private registering: Promise<void> | undefined;
  /** The last registration failure logged, so a kubelet that stays away is not logged every retry. */
  private lastFailure: string | undefined;
  private registrationCount = 0;
  private readonly registeredListeners = new Set<() => void>();

  constructor(private readonly options: DevicePluginServerOptions) {
    this.pluginDir = options.pluginDir ?? '/var/lib/kubelet/device-plugins';
    this.kubeletSocket = options.kubeletSocket ?? join(this.pluginDir, 'kubelet.sock');
    this.socketPath = join(this.pluginDir, options.socketName);
    this.log = options.log ?? (() => {});
    this.watchIntervalMs = options.watchIntervalMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 5000;
    if (options.socketName.includes('/')) {
      throw new TesseraError('TESSERA_ERR_INPUT', `device plugin: the socket name must be a file name in ${this.pluginDir}, got "${options.socketName}"`);
    }
    for (const path of [this.socketPath, this.kubeletSocket]) {
      if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
        throw new TesseraError(
          'TESSERA_ERR_INPUT',
          `device plugin: the socket path ${path} is ${Buffer.byteLength(path)} bytes, longer than the ${MAX_SOCKET_PATH} a unix socket allows; use a shorter --plugin-dir or --socket-name`,
        );
      }
    }
  }

  /** Successful registrations with the kubelet so far (one more after every kubelet restart). */
  get registrations(): number {
    return this.registrationCount;
  }

  /** Calls `listener` after every successful registration; returns the unsubscribe function. */
  onRegistered(listener: () => void): () => void {
    this.registeredListeners.add(listener);
    return () => this.registeredListeners.delete(listener);
  }

  /** Serves the plugin socket, then registers with the kubelet in the background (retrying until it answers). */
  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error(`device plugin: ${this.socketPath} is already being served; stop() before start()`);
    this.stopped = false;
    await this.serve();
    this.registerSoon();
    this.watcher = setInterval(() => {
      if (this.checking !== undefined || this.stopped) return;
      this.checking = this.check().finally(() => {
        this.checking = undefined;
      });
    }, this.watchIntervalMs);
    this.watcher.unref();
  }

  /** Ends the streams, shuts the server down (forcibly after 1 s), removes our socket, stops the watcher. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watcher);
    this.watcher = undefined;
    await this.checking;
    await this.shutdownServer();
    await rm(this.socketPath, { force: true });
  }

  private async serve(): Promise<void> {
    await rm(this.socketPath, { force: true });
    const server = new Server();
    server.addService(serviceDefinition(devicePluginApi().DevicePlugin), {
      GetDevicePluginOptions: (_call: ServerUnaryCall<WireEmpty, WireDevicePluginOptions>, callback: sendUnaryData<WireDevicePluginOptions>) => {
        callback(null, this.pluginOptions());
      },
      ListAndWatch: (call: ServerWritableStream<WireEmpty, WireListAndWatchResponse>) => this.listAndWatch(call),
      GetPreferredAllocation: (call: ServerUnaryCall<WirePreferredAllocationRequest, WirePreferredAllocationResponse>, callback: sendUnaryData<WirePreferredAllocationResponse>) => {
        this.preferredAllocation(call.request, callback);
      },
      Allocate: (call: ServerUnaryCall<WireAllocateRequest, WireAllocateResponse>, callback: sendUnaryData<WireAllocateResponse>) => {
        void this.allocate(call.request, callback);
      },
      PreStartContainer: (_call: ServerUnaryCall<WirePreStartContainerRequest, WireEmpty>, callback: sendUnaryData<WireEmpty>) => {
        callback(null, {});
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${this.socketPath}`, ServerCredentials.createInsecure(), (error) => {
        if (error === null) {
          resolve();
          return;
        }
        server.forceShutdown();
        reject(new Error(`device plugin: cannot serve unix://${this.socketPath}: ${error.message}; check that ${this.pluginDir} exists and is writable`, { cause: error }));
      });
    });
    this.server = server;
    this.ownSocket = await stamp(this.socketPath);
    this.log(`device plugin: serving ${this.socketPath}`);
  }

  private async shutdownServer(): Promise<void> {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private pluginOptions(): WireDevicePluginOptions {
    return { pre_start_required: false, get_preferred_allocation_available: this.options.handlers.preferredAllocationAvailable };
  }

  private listAndWatch(call: ServerWritableStream<WireEmpty, WireListAndWatchResponse>): void {
    let unsubscribe = (): void => {};
    let ended = false;
    const done = (): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      this.streams.delete(call);
    };
    const send = (): void => {
      try {
        call.write({ devices: this.options.handlers.devices().map(toWireDevice) });
      } catch (error) {
        // The stream stays open: the kubelet keeps the last list it got, and the next change is
        // sent. Ending the stream would make the kubelet drop the plugin until it registers again.
        this.log(`device plugin: ListAndWatch: listing the devices failed, the kubelet keeps the previous list: ${messageOf(error)}`);
      }
    };
    // A cancelled stream emits 'error' (1 CANCELLED); unheard, it would crash the process.
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
    try {
      unsubscribe = this.options.handlers.onDevicesChanged(send);
    } catch (error) {
      call.emit('error', failure(status.INTERNAL, `ListAndWatch: ${messageOf(error)}`));
      return;
    }
    this.streams.add(call);
    send();
  }

  private preferredAllocation(request: WirePreferredAllocationRequest, callback: sendUnaryData<WirePreferredAllocationResponse>): void {
    try {
      const container_responses = request.container_requests.map((r) => ({
        deviceIDs: [...this.options.handlers.preferredAllocation(r.available_deviceIDs, r.must_include_deviceIDs, r.allocation_size)],
      }));
      callback(null, { container_responses });
    } catch (error) {
      callback(statusOf('GetPreferredAllocation', error));
    }
  }

  private async allocate(request: WireAllocateRequest, callback: sendUnaryData<WireAllocateResponse>): Promise<void> {
    try {
      const requests = request.container_requests.map((r) => r.devices_ids);
      const answers = await this.options.handlers.allocate(requests);
      // The kubelet pairs responses with container requests by position.
      if (answers.length !== requests.length) {
        throw new Error(`the handlers answered ${answers.length} container(s) for ${requests.length} container request(s)`);
      }
      callback(null, { container_responses: answers.map(toWireAllocation) });
    } catch (error) {
      if (!(error instanceof AllocateRefusal)) this.log(`device plugin: Allocate failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      callback(statusOf('Allocate', error));
    }
  }

  /** One registration attempt with the kubelet; resolves true when it answered OK. */
  private async registerOnce(): Promise<boolean> {
    const kubeletStamp = await stamp(this.kubeletSocket);
    if (kubeletStamp === undefined) {
      this.registrationFailed(`${this.kubeletSocket} does not exist yet (kubelet not running?)`);
      return false;
    }
    const client = registrationClient(this.kubeletSocket);
    try {
      await new Promise<void>((resolve, reject) => {
        client.Register(
          { version: API_VERSION, endpoint: this.options.socketName, resource_name: this.options.resourceName, options: this.pluginOptions() },
          { deadline: new Date(Date.now() + 5000) },
          (error) => (error ? reject(error) : resolve()),
        );
      });
    } catch (error) {
      const details = (error as Partial<ServiceError>).details;
      this.registrationFailed(`Register on ${this.kubeletSocket} failed: ${details !== undefined && details !== '' ? details : messageOf(error)}`);
      return false;
    } finally {
      client.close();
    }
    if (this.stopped) return true;
    this.lastFailure = undefined;
    this.registeredWith = kubeletStamp;
    this.registrationCount++;
    this.log(`device plugin: registered ${this.options.resourceName} (${this.options.socketName}) with the kubelet`);
    for (const listener of this.registeredListeners) {
      try {
        listener();
      } catch (error) {
        this.log(`device plugin: an onRegistered listener failed: ${messageOf(error)}`);
      }
    }
    return true;
  }

  private registrationFailed(reason: string): void {
    if (reason === this.lastFailure) return;
    this.lastFailure = reason;
    this.log(`device plugin: not registered: ${reason}; retrying with backoff up to ${this.maxRetryMs} ms`);
  }

  /** Registers, retrying with backoff until the kubelet answers or the server stops; one loop at a time. */
  private registerSoon(): void {
    if (this.registering !== undefined) return;
    this.registering = (async () => {
      let wait = 200;
      while (!this.stopped && !(await this.registerOnce())) {
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        wait = Math.min(wait * 2, this.maxRetryMs);
      }
    })().finally(() => {
      this.registering = undefined;
    });
  }

  /** The watcher: restarts the server when our socket was removed, re-registers when the kubelet's changed. */
  private async check(): Promise<void> {
    try {
      if (!sameStamp(await stamp(this.socketPath), this.ownSocket) && !this.stopped) {
        this.log(`device plugin: ${this.socketPath} is gone (kubelet restart?); serving it again`);
        await this.shutdownServer();
        if (this.stopped) return;
        await this.serve();
        this.registeredWith = undefined;
      }
      if (!this.stopped && this.registering === undefined && !sameStamp(await stamp(this.kubeletSocket), this.registeredWith)) this.registerSoon();
    } catch (error) {
      this.log(`device plugin: ${messageOf(error)}; retrying in ${this.watchIntervalMs} ms`);
    }
  }
}
