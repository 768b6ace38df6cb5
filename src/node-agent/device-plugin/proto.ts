/**
 * The device plugin API (`proto/deviceplugin/v1beta1/api.proto`) loaded for grpc-js, and the
 * shapes of its messages as they cross the wire. Fields keep their proto names (`keepCase`), so
 * `devices_ids` and `cdi_devices` read as in the published API; int64 values arrive as strings.
 */
import { fileURLToPath } from 'node:url';

import { credentials, loadPackageDefinition, type CallOptions, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/**
 * `proto/` sits three levels above both `src/node-agent/device-plugin/` (run through tsx) and
 * `dist/node-agent/device-plugin/` (built), so one relative path serves both.
 */
export const DEVICE_PLUGIN_PROTO = fileURLToPath(new URL('../../../proto/deviceplugin/v1beta1/api.proto', import.meta.url));

export const API_VERSION = 'v1beta1';

export type WireEmpty = Record<string, never>;

export interface WireDevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

export interface WireRegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options: WireDevicePluginOptions | null;
}

export interface WireDevice {
  ID: string;
  health: string;
  topology: { nodes: { ID: string | number }[] } | null;
}

export interface WireListAndWatchResponse {
  devices: WireDevice[];
}

export interface WirePreferredAllocationRequest {
  container_requests: { available_deviceIDs: string[]; must_include_deviceIDs: string[]; allocation_size: number }[];
}

export interface WirePreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}

export interface WireAllocateRequest {
  container_requests: { devices_ids: string[] }[];
}

export interface WireContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: { container_path: string; host_path: string; read_only: boolean }[];
  devices: { container_path: string; host_path: string; permissions: string }[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}

export interface WireAllocateResponse {
  container_responses: WireContainerAllocateResponse[];
}

export interface WirePreStartContainerRequest {
  devices_ids: string[];
}

export interface DevicePluginApi {
  /** `v1beta1.Registration`, served by the kubelet. */
  readonly Registration: ServiceClientConstructor;
  /** `v1beta1.DevicePlugin`, served by a plugin. */
  readonly DevicePlugin: ServiceClientConstructor;
}

let loaded: DevicePluginApi | undefined;

function service(pkg: GrpcObject, name: string): ServiceClientConstructor {
  const found = pkg[name];
  if (typeof found !== 'function' || !('service' in found)) throw new Error(`${DEVICE_PLUGIN_PROTO} defines no service v1beta1.${name}`);
  return found as ServiceClientConstructor;
}

/** The loaded services (loaded once per process). */
export function devicePluginApi(): DevicePluginApi {
  if (loaded !== undefined) return loaded;
  const definition = loadSync(DEVICE_PLUGIN_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = loadPackageDefinition(definition)[API_VERSION];
  if (pkg === undefined || typeof pkg === 'function' || !('Registration' in pkg)) throw new Error(`${DEVICE_PLUGIN_PROTO} has no package ${API_VERSION}`);
  const grpcPackage = pkg as GrpcObject;
  loaded = { Registration: service(grpcPackage, 'Registration'), DevicePlugin: service(grpcPackage, 'DevicePlugin') };
  return loaded;
}

/** The service definition grpc-js servers add. */
export function serviceDefinition(constructor: ServiceClientConstructor): ServiceDefinition {
  return constructor.service;
}

/** A client of the kubelet's `v1beta1.Registration` service. */
export interface RegistrationClient {
  Register(request: WireRegisterRequest, options: CallOptions, callback: (error: ServiceError | null, response?: WireEmpty) => void): void;
  close(): void;
}

/** Dials the kubelet's registration socket (`unix://<path>`); the connection opens on the first call. */
export function registrationClient(socketPath: string): RegistrationClient {
  const Registration = devicePluginApi().Registration;
  return new Registration(`unix://${socketPath}`, credentials.createInsecure()) as unknown as RegistrationClient;
}
