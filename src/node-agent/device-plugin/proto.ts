/**
 * The device plugin API (`proto/deviceplugin/v1beta1/api.proto`) loaded for grpc-js, and the
 * shapes of its messages as they cross the wire. Fields keep their proto names (`keepCase`), so
 * `devices_ids` and `cdi_devices` read as in the published API; int64 values arrive as strings.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { credentials, loadPackageDefinition, type CallOptions, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** Where the API file sits, relative to the package root (the folder holding `package.json`). */
const PROTO_IN_PACKAGE = join('proto', 'deviceplugin', 'v1beta1', 'api.proto');

/**
 * The API file's absolute path. It is found from the package root, the nearest folder above this
 * module that holds a `package.json`, so the same code works run from `src/` (tsx) and from `dist/`
 * (built), and keeps working if the module moves. The image must ship `proto/` beside `dist/`.
 */
export function devicePluginProtoPath(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const path = join(dir, PROTO_IN_PACKAGE);
      if (!existsSync(path)) {
        throw new Error(`device plugin: ${path} is missing; the package at ${dir} must ship ${PROTO_IN_PACKAGE} (copy proto/ beside dist/)`);
      }
      return path;
    }
    if (dirname(dir) === dir) throw new Error(`device plugin: no package.json above ${from}, so ${PROTO_IN_PACKAGE} cannot be located`);
  }
}

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

function service(pkg: GrpcObject, name: string, file: string): ServiceClientConstructor {
  const found = pkg[name];
  if (typeof found !== 'function' || !('service' in found)) throw new Error(`device plugin: ${file} defines no service ${API_VERSION}.${name}`);
  return found as ServiceClientConstructor;
}

/** The loaded services (the file is read once per process, on first use). */
export function devicePluginApi(): DevicePluginApi {
  if (loaded !== undefined) return loaded;
  const file = devicePluginProtoPath();
  // keepCase: the wire names (`devices_ids`, `cdi_devices`) are the field names; int64 as string.
  const definition = loadSync(file, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = loadPackageDefinition(definition)[API_VERSION];
  if (pkg === undefined || typeof pkg === 'function' || !('Registration' in pkg)) throw new Error(`device plugin: ${file} has no package ${API_VERSION}`);
  const grpcPackage = pkg as GrpcObject;
  loaded = { Registration: service(grpcPackage, 'Registration', file), DevicePlugin: service(grpcPackage, 'DevicePlugin', file) };
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
