/**
 * The device configuration: HAMi's `device-config.yaml` (ConfigMap `hami-scheduler-device`),
 * parsed once at startup into a deep-frozen {@link CompiledDeviceConfig}, and HAMi's per-node
 * NVIDIA overrides (`config.json` of ConfigMap `hami-device-plugin`, `{"nodeconfig":[…]}`).
 *
 * Key names and defaults are HAMi's (`NvidiaConfig` and `NodeDefaultConfig` in
 * `pkg/device/nvidia/device.go`, chart template `scheduler/device-configmap.yaml`), so a file
 * written for HAMi loads unchanged. Where HAMi is lenient this loader is not: unknown keys, values
 * of the wrong type and out-of-range numbers stop the process with a {@link ConfigError} naming
 * the key path (`nvidia.defaultMemory`, `nodeconfig[1].devicesplitcount`) and the value, because
 * Go's decoders silently drop a misspelt key and the process then runs on a default nobody chose.
 * All problems are collected; the error reports the first one in file order and counts the rest.
 */

import { readFile } from 'node:fs/promises';

import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';

import type { DeviceMode } from '../core/device.js';
import { ConfigError } from '../core/errors.js';
import { NVIDIA_DEFAULTS as NVIDIA_REQUEST_DEFAULTS } from '../core/vendors/nvidia.js';
import { dns1123SubdomainProblem, extendedResourceNameProblem } from './k8s-names.js';

// ---------------------------------------------------------------------------------------------
// Public types

/**
 * How the NVIDIA device plugin shares a node's GPUs (HAMi's `operatingmode`): HAMi-core soft
 * limits, MIG hardware partitions, or MPS.
 */
export type OperatingMode = DeviceMode;

/**
 * How HAMi-core enforces the `gpucores` limit, passed to containers as `GPU_CORE_UTILIZATION_POLICY`:
 * `default` limits only while other tasks share the GPU, `force` always limits, `disable` never does.
 */
export type GpuCorePolicy = 'default' | 'force' | 'disable';

/** `LIBCUDA_LOG_LEVEL` for HAMi-core in containers: 0 errors, 1 warnings, 3 info, 4 debug. */
export type LibCudaLogLevel = 0 | 1 | 3 | 4;

/**
 * How the NVIDIA device plugin exposes pre-created MIG devices (`migstrategy`, NVIDIA's
 * `--mig-strategy`): `none` ignores them, `single` advertises them as `nvidia.com/gpu`, `mixed`
 * as `nvidia.com/mig-<profile>`. HAMi's dynamic MIG (`operatingmode: mig`) uses `none`.
 */
export type MigStrategy = 'none' | 'single' | 'mixed';

/** A YAML value kept as written, for the vendor sections this module does not interpret. */
export type ConfigValue = string | number | boolean | null | readonly ConfigValue[] | ConfigMapping;

/** A YAML mapping kept as written. */
export interface ConfigMapping {
  readonly [key: string]: ConfigValue;
}

/** One entry of `nvidia.migProfileAllowlist`: the MIG profiles the scheduler may cut on some GPU models. */
export interface MigProfileAllowlistEntry {
  /** GPU model names, matched as substrings of the registered device type (`A100-SXM4-80GB`). At least one. */
  readonly models: readonly string[];
  /** MIG profile names (`1g.10gb`, `7g.80gb`). At least one. */
  readonly profiles: readonly string[];
}

/**
 * The per-node settings of the NVIDIA device plugin that `nvidia` sets for every node and a
 * `nodeconfig` entry may override (HAMi's inline `NodeDefaultConfig`).
 */
export interface NvidiaNodeDefaults {
  /**
   * How many containers may share one GPU: the plugin advertises this many `nvidia.com/gpu`
   * slots per physical GPU. Integer, at least 1.
   * @default 10
   */
  readonly deviceSplitCount: number;
  /**
   * Factor applied to each GPU's memory before it is registered; above 1 oversubscribes memory
   * (the excess is backed by host memory by HAMi-core). Number, greater than 0.
   * @default 1
   */
  readonly deviceMemoryScaling: number;
  /**
   * Factor applied to each GPU's compute (100 per GPU) before it is registered; above 1
   * oversubscribes compute. Number, greater than 0.
   * @default 1
   */
  readonly deviceCoreScaling: number;
  /**
   * Memory in MiB to register for a GPU whose memory NVML cannot report (unified-memory parts
   * such as GB10); 0 turns the fallback off. Integer, at least 0.
   * @default 0
   */
  readonly preConfiguredDeviceMemory: number;
  /**
   * `LIBCUDA_LOG_LEVEL` given to HAMi-core in containers. Written as a number or a numeric string.
   * @default 1
   */
  readonly libCudaLogLevel: LibCudaLogLevel;
  /**
   * Whether each vGPU slot advertises its physical GPU's NUMA node, so kubelet's Topology Manager
   * can align CPUs with the GPU.
   * @default false
   */
  readonly enableNumaTopology: boolean;
}

/** The `nvidia` section with every default applied (HAMi's `NvidiaConfig`). */
export interface NvidiaConfig extends NvidiaNodeDefaults {
  /**
   * Extended resource counting vGPUs a container asks for.
   * @default 'nvidia.com/gpu'
   */
  readonly resourceCountName: string;
  /**
   * Extended resource for GPU memory per vGPU, in MiB (multiplied by {@link memoryFactor}).
   * @default 'nvidia.com/gpumem'
   */
  readonly resourceMemoryName: string;
  /**
   * Extended resource for GPU memory per vGPU as a percentage (0–100) of the card.
   * @default 'nvidia.com/gpumem-percentage'
   */
  readonly resourceMemoryPercentageName: string;
  /**
   * Extended resource for compute per vGPU, in percent (0–100) of one GPU.
   * @default 'nvidia.com/gpucores'
   */
  readonly resourceCoreName: string;
  /**
   * Extended resource for task priority (0 high, 1 low), passed to HAMi-core as `CUDA_TASK_PRIORITY`.
   * @default 'nvidia.com/priority'
   */
  readonly resourcePriorityName: string;
  /**
   * Whether the webhook sets `NVIDIA_VISIBLE_DEVICES=none` on containers that ask for no GPU,
   * so they cannot see the node's GPUs through an NVIDIA base image.
   * @default false
   */
  readonly overwriteEnv: boolean;
  /**
   * GPU memory in MiB per vGPU for a container that asks for a GPU but no memory; 0 gives it the
   * whole card (100 %). Integer, at least 0.
   * @default 0
   */
  readonly defaultMemory: number;
  /**
   * Compute in percent of one GPU for a container that asks for a GPU but no cores; 0 sets no
   * compute share. Integer from 0 to 100.
   * @default 0
   */
  readonly defaultCores: number;
  /**
   * vGPU count given to a container that asks for GPU memory or cores but no count. Integer, at least 1.
   * @default 1
   */
  readonly defaultGPUNum: number;
  /**
   * Multiplier applied to `gpumem` requests (a request of 1 means `memoryFactor` MiB); quota
   * limits are scaled the same way. Integer, at least 1.
   * @default 1
   */
  readonly memoryFactor: number;
  /**
   * Whether HAMi-core's compute limit is switched off cluster-wide (memory limits still apply).
   * @default false
   */
  readonly disableCoreLimit: boolean;
  /**
   * Compute-limit policy injected into containers; see {@link GpuCorePolicy}.
   * @default 'default'
   */
  readonly gpuCorePolicy: GpuCorePolicy;
  /**
   * RuntimeClass the webhook sets on pods that ask for an NVIDIA GPU and name none; `undefined`
   * (key absent, null or `""`, as the chart renders it by default) leaves pods alone.
   * @default undefined
   */
  readonly runtimeClassName: string | undefined;
  /**
   * MIG profiles the scheduler may create per GPU model (HAMi v2.10 dynamic MIG). Profile capacity
   * and placements come from NVML on the node; this list is policy only.
   * @default []
   */
  readonly migProfileAllowlist: readonly MigProfileAllowlistEntry[];
}

/**
 * The sections of other vendors HAMi knows, kept as written for the vendor modules that will read
 * them. Only the sections present in the file appear. `iluvatars` is a list, the others mappings.
 */
export interface VendorSections {
  readonly cambricon?: ConfigMapping;
  readonly hygon?: ConfigMapping;
  readonly metax?: ConfigMapping;
  readonly enflame?: ConfigMapping;
  readonly mthreads?: ConfigMapping;
  readonly iluvatars?: readonly ConfigValue[];
  readonly kunlun?: ConfigMapping;
  readonly awsneuron?: ConfigMapping;
  readonly amd?: ConfigMapping;
  readonly vastai?: ConfigMapping;
  readonly biren?: ConfigMapping;
  readonly vnpus?: ConfigMapping;
}

/** A top-level vendor key of the device configuration. */
export type VendorKey = 'nvidia' | keyof VendorSections;

/**
 * One `nodeconfig` entry: NVIDIA settings for the node called {@link name}, over the `nvidia`
 * defaults. A field left `undefined` is not overridden.
 */
export interface NodeOverride {
  /** Node name (DNS-1123 subdomain), matched exactly against the node the plugin runs on. */
  readonly name: string;
  /** `operatingmode`. Default when not overridden: `hami-core`. */
  readonly operatingMode: OperatingMode | undefined;
  /** `devicesplitcount`, over {@link NvidiaNodeDefaults.deviceSplitCount}. */
  readonly deviceSplitCount: number | undefined;
  /** `devicememoryscaling`, over {@link NvidiaNodeDefaults.deviceMemoryScaling}. */
  readonly deviceMemoryScaling: number | undefined;
  /** `devicecorescaling`, over {@link NvidiaNodeDefaults.deviceCoreScaling}. */
  readonly deviceCoreScaling: number | undefined;
  /** `preconfigureddevicememory` (MiB), over {@link NvidiaNodeDefaults.preConfiguredDeviceMemory}. */
  readonly preConfiguredDeviceMemory: number | undefined;
  /** `enablenumatopology`, over {@link NvidiaNodeDefaults.enableNumaTopology}. */
  readonly enableNumaTopology: boolean | undefined;
  /** `libcudaloglevel`, over {@link NvidiaNodeDefaults.libCudaLogLevel}. */
  readonly libCudaLogLevel: LibCudaLogLevel | undefined;
  /** `migstrategy`. Default when not overridden: `none`. */
  readonly migStrategy: MigStrategy | undefined;
  /** `filterdevices`: GPUs the plugin must not register, by UUID and by index. */
  readonly filterDevices: { readonly uuids: readonly string[]; readonly indexes: readonly number[] } | undefined;
  /** `enablegetpreferredallocation`. Default when not overridden: false. */
  readonly enableGetPreferredAllocation: boolean | undefined;
}

/** The effective NVIDIA settings of one node: its `nodeconfig` entry over the `nvidia` defaults. */
export interface NodeSettings extends NvidiaNodeDefaults {
  /** @default 'hami-core' */
  readonly operatingMode: OperatingMode;
  /** @default 'none' */
  readonly migStrategy: MigStrategy;
  /** GPUs hidden from registration; a GPU is hidden if its UUID or its index is listed. Empty by default. */
  readonly filterDevices: { readonly uuids: ReadonlySet<string>; readonly indexes: ReadonlySet<number> };
  /**
   * Whether the plugin answers kubelet's `GetPreferredAllocation` (HAMi's `enablegetpreferredallocation`).
   * @default false
   */
  readonly enableGetPreferredAllocation: boolean;
}

/** The device configuration after validation, with defaults applied, deep-frozen. */
export interface CompiledDeviceConfig {
  /** Where it was read from (file path or the name given to {@link parseDeviceConfig}), for messages. */
  readonly source: string;
  /**
   * The `nvidia` section with defaults applied; `undefined` when the file has no `nvidia` section
   * (as in HAMi, whose empty `NvidiaConfig` then matches no NVIDIA resource).
   */
  readonly nvidia: NvidiaConfig | undefined;
  /** The other vendors' sections, kept as written. */
  readonly vendors: VendorSections;
  /** Per-node NVIDIA overrides, in file order; names are unique. See {@link nodeSettings}. */
  readonly nodeConfig: readonly NodeOverride[];
}

// ---------------------------------------------------------------------------------------------
// Keys and defaults

/** The top-level vendor keys HAMi knows, in HAMi's order. At least one must be present. */
export const VENDOR_KEYS: readonly VendorKey[] = Object.freeze([
  'nvidia',
  'cambricon',
  'hygon',
  'metax',
  'enflame',
  'mthreads',
  'iluvatars',
  'kunlun',
  'awsneuron',
  'amd',
  'vastai',
  'biren',
  'vnpus',
]);

/** The request-side defaults come from the NVIDIA vendor module, so the two cannot drift apart. */
const NVIDIA_DEFAULTS: NvidiaConfig = Object.freeze({
  ...NVIDIA_REQUEST_DEFAULTS,
  overwriteEnv: false,
  disableCoreLimit: false,
  gpuCorePolicy: 'default',
  runtimeClassName: undefined,
  migProfileAllowlist: Object.freeze([]),
  deviceSplitCount: 10,
  deviceMemoryScaling: 1,
  deviceCoreScaling: 1,
  preConfiguredDeviceMemory: 0,
  libCudaLogLevel: 1,
  enableNumaTopology: false,
});

/** HAMi's `int32` fields (`defaultMemory`, `defaultGPUNum`, `memoryFactor`) stop here. */
const INT32_MAX = 2_147_483_647;

// ---------------------------------------------------------------------------------------------
// Schemas. Every check carries the reason a person reads; null counts as absent, as it does for
// Go's decoders (a chart value rendered empty gives `key:`).

/** Zod error option: `message`, or "is required" when the value is missing. */
function says(message: string): { error: (issue: { readonly input?: unknown }) => string } {
  return { error: (issue) => (issue.input === undefined || issue.input === null ? 'is required' : message) };
}

function integer(min: number, max: number, message: string) {
  const e = says(message);
  return z.int(e).min(min, e).max(max, e);
}

function positiveNumber(message: string) {
  const e = says(message);
  return z.number(e).positive(e);
}

const bool = z.boolean(says('must be true or false'));

const nonEmptyString = z.string(says('must be a string')).min(1, says('must not be empty'));

const resourceName = z.string(says('must be a string')).superRefine((value, ctx) => {
  const problem = extendedResourceNameProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const dnsSubdomain = z.string(says('must be a string')).superRefine((value, ctx) => {
  const problem = dns1123SubdomainProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const LOG_LEVEL_FROM_TEXT = { '0': 0, '1': 1, '3': 3, '4': 4 } as const;
const libCudaLogLevel = z.union(
  [z.literal([0, 1, 3, 4]), z.enum(['0', '1', '3', '4']).transform((text) => LOG_LEVEL_FROM_TEXT[text])],
  says('must be one of 0, 1, 3, 4 (a number or a numeric string)'),
);

/** Profile names as HAMi's chart lists them: `<slices>g.<memory>gb`. */
const MIG_PROFILE = /^\d+g\.\d+gb$/;

const migProfileEntryShape = {
  models: z.array(nonEmptyString, says('must be a list of GPU model names')).min(1, says('must name at least one GPU model')),
  profiles: z
    .array(
      z.string(says('must be a string')).regex(MIG_PROFILE, says('must be a MIG profile name such as 1g.10gb')),
      says('must be a list of MIG profile names'),
    )
    .min(1, says('must name at least one MIG profile')),
};

const splitCount = integer(1, Number.MAX_SAFE_INTEGER, 'must be an integer, at least 1');
const memoryScaling = positiveNumber('must be a number greater than 0');
const coreScaling = positiveNumber('must be a number greater than 0');
const preConfiguredMemory = integer(0, Number.MAX_SAFE_INTEGER, 'must be an integer number of MiB, at least 0');

const nvidiaShape = {
  resourceCountName: resourceName.nullish(),
  resourceMemoryName: resourceName.nullish(),
  resourceMemoryPercentageName: resourceName.nullish(),
  resourceCoreName: resourceName.nullish(),
  resourcePriorityName: resourceName.nullish(),
  overwriteEnv: bool.nullish(),
  defaultMemory: integer(0, INT32_MAX, `must be an integer number of MiB from 0 to ${INT32_MAX}`).nullish(),
  defaultCores: integer(0, 100, 'must be an integer from 0 to 100 (percent of one GPU)').nullish(),
  defaultGPUNum: integer(1, INT32_MAX, `must be an integer from 1 to ${INT32_MAX}`).nullish(),
  memoryFactor: integer(1, INT32_MAX, `must be an integer from 1 to ${INT32_MAX}`).nullish(),
  disableCoreLimit: bool.nullish(),
  gpuCorePolicy: z.enum(['default', 'force', 'disable'], says('must be one of default, force, disable')).nullish(),
  runtimeClassName: z
    .string(says('must be a string'))
    .superRefine((value, ctx) => {
      const problem = value === '' ? undefined : dns1123SubdomainProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .nullish(),
  migProfileAllowlist: z
    .array(z.strictObject(migProfileEntryShape, says('must be a mapping with models and profiles')), says('must be a list'))
    .nullish(),
  deviceSplitCount: splitCount.nullish(),
  deviceMemoryScaling: memoryScaling.nullish(),
  deviceCoreScaling: coreScaling.nullish(),
  preConfiguredDeviceMemory: preConfiguredMemory.nullish(),
  libCudaLogLevel: libCudaLogLevel.nullish(),
  enableNumaTopology: bool.nullish(),
};

const filterDevicesShape = {
  uuid: z.array(nonEmptyString, says('must be a list of GPU UUIDs')).nullish(),
  index: z
    .array(
      integer(0, Number.MAX_SAFE_INTEGER, 'must be a GPU index (an integer, at least 0)'),
      says('must be a list of GPU indexes'),
    )
    .nullish(),
};

const nodeEntryShape = {
  name: dnsSubdomain,
  operatingmode: z.enum(['hami-core', 'mig', 'mps'], says('must be one of hami-core, mig, mps')).nullish(),
  devicememoryscaling: memoryScaling.nullish(),
  devicesplitcount: splitCount.nullish(),
  devicecorescaling: coreScaling.nullish(),
  preconfigureddevicememory: preConfiguredMemory.nullish(),
  enablenumatopology: bool.nullish(),
  libcudaloglevel: libCudaLogLevel.nullish(),
  migstrategy: z.enum(['none', 'single', 'mixed'], says('must be one of none, single, mixed')).nullish(),
  filterdevices: z.strictObject(filterDevicesShape, says('must be a mapping with uuid and index lists')).nullish(),
  enablegetpreferredallocation: bool.nullish(),
};

const nodeConfigList = z
  .array(z.strictObject(nodeEntryShape, says('must be a mapping with at least a name')), says('must be a list'))
  .nullish();

const vendorMapping = z.record(z.string(), z.unknown(), says('must be a mapping')).nullish();
const vendorList = z.array(z.unknown(), says('must be a list')).nullish();

const deviceConfigShape = {
  nvidia: z.strictObject(nvidiaShape, says('must be a mapping')).nullish(),
  cambricon: vendorMapping,
  hygon: vendorMapping,
  metax: vendorMapping,
  enflame: vendorMapping,
  mthreads: vendorMapping,
  iluvatars: vendorList,
  kunlun: vendorMapping,
  awsneuron: vendorMapping,
  amd: vendorMapping,
  vastai: vendorMapping,
  biren: vendorMapping,
  vnpus: vendorMapping,
  nodeconfig: nodeConfigList,
};

const deviceConfigSchema = z.strictObject(deviceConfigShape, says('must be a mapping of vendor sections'));
const nodeConfigFileSchema = z.strictObject(
  { nodeconfig: nodeConfigList },
  says('must be a JSON object with a nodeconfig list'),
);

type NvidiaInput = NonNullable<z.output<typeof deviceConfigShape.nvidia>>;
type NodeEntryInput = NonNullable<z.output<typeof nodeConfigList>>[number];

/** Known keys per object, by the path with list indexes dropped, for "did you mean" hints. */
const DEVICE_CONFIG_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['', Object.keys(deviceConfigShape)],
  ['nvidia', Object.keys(nvidiaShape)],
  ['nvidia.migProfileAllowlist', Object.keys(migProfileEntryShape)],
  ['nodeconfig', Object.keys(nodeEntryShape)],
  ['nodeconfig.filterdevices', Object.keys(filterDevicesShape)],
]);
const NODE_CONFIG_FILE_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['', ['nodeconfig']],
  ['nodeconfig', Object.keys(nodeEntryShape)],
  ['nodeconfig.filterdevices', Object.keys(filterDevicesShape)],
]);

/** Keys HAMi used to accept, with what replaced them. */
const RETIRED_KEYS: ReadonlyMap<string, string> = new Map([
  [
    'nvidia.knownMigGeometries',
    'is no longer supported (HAMi v2.10 replaced it): list the allowed profile names under migProfileAllowlist instead',
  ],
]);

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Parses and validates a `device-config.yaml` document.
 *
 * @param text - the YAML text.
 * @param source - file name for messages.
 * @returns the compiled configuration, deep-frozen.
 * @throws {ConfigError} for a YAML syntax error (path `(yaml)`, with line:column), an empty
 *   document (path `(root)`), or any invalid value or unknown key (path of the key, value as
 *   text); one error for all problems, reporting the first in file order and counting the rest.
 */
export function parseDeviceConfig(text: string, source = 'device-config.yaml'): CompiledDeviceConfig {
  const { value, locate } = readYaml(text, source);
  if (value === undefined || value === null) {
    const sections = VENDOR_KEYS.join(', ');
    throw new ConfigError(source, ROOT, '', `is empty: expected a mapping with at least one vendor section (${sections})`);
  }
  const parsed = deviceConfigSchema.safeParse(value);
  const problems = [...zodProblems(parsed, DEVICE_CONFIG_KEYS), ...deviceConfigChecks(value)];
  if (problems.length > 0 || !parsed.success) throw report(source, value, problems, locate);
  return deepFreeze({
    source,
    nvidia: parsed.data.nvidia === null || parsed.data.nvidia === undefined ? undefined : compileNvidia(parsed.data.nvidia),
    vendors: compileVendors(value),
    nodeConfig: (parsed.data.nodeconfig ?? []).map(compileNodeEntry),
  });
}

/**
 * Reads and parses a `device-config.yaml` file (see {@link parseDeviceConfig}); the file path is
 * the source named in errors.
 *
 * @throws {ConfigError} with path `(file)` when the file is missing or cannot be read.
 */
export async function loadDeviceConfig(path: string): Promise<CompiledDeviceConfig> {
  return parseDeviceConfig(await readConfigFile(path), path);
}

/**
 * Parses HAMi's per-node NVIDIA overrides, the JSON file `{"nodeconfig":[…]}` the device plugin
 * reads (`config.json` of ConfigMap `hami-device-plugin`). As with Go's `encoding/json`, key
 * names match case-insensitively (`deviceSplitCount` is `devicesplitcount`); unlike it, unknown
 * keys are errors. Combine the result with the device configuration by {@link withNodeConfig}.
 *
 * @param text - the JSON text.
 * @param source - file name for messages.
 * @returns the entries in file order, deep-frozen.
 * @throws {ConfigError} for a JSON syntax error (path `(json)`), an empty file (path `(root)`),
 *   any invalid value or unknown key, or a duplicate node name.
 */
export function parseNodeConfigJson(text: string, source = 'config.json'): readonly NodeOverride[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') throw new ConfigError(source, ROOT, '', 'is empty: expected {"nodeconfig": [...]}');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw jsonSyntaxError(source, body, err);
  }
  value = foldJsonKeys(value);
  const parsed = nodeConfigFileSchema.safeParse(value);
  const problems = [...zodProblems(parsed, NODE_CONFIG_FILE_KEYS), ...duplicateNodeNames(value)];
  if (problems.length > 0 || !parsed.success) throw report(source, value, problems, jsonLocator(body));
  return deepFreeze((parsed.data.nodeconfig ?? []).map(compileNodeEntry));
}

/**
 * Reads and parses a per-node overrides file (see {@link parseNodeConfigJson}).
 *
 * @throws {ConfigError} with path `(file)` when the file is missing or cannot be read.
 */
export async function loadNodeConfigJson(path: string): Promise<readonly NodeOverride[]> {
  return parseNodeConfigJson(await readConfigFile(path), path);
}

/**
 * The device configuration with more `nodeconfig` entries (from {@link parseNodeConfigJson})
 * after its own; the configuration itself is not changed.
 *
 * @param source - the file the entries came from, for messages.
 * @throws {ConfigError} when an entry names a node the configuration already has (path
 *   `nodeconfig[i].name`, `i` counting in `entries`).
 */
export function withNodeConfig(
  config: CompiledDeviceConfig,
  entries: readonly NodeOverride[],
  source = 'config.json',
): CompiledDeviceConfig {
  const known = new Set(config.nodeConfig.map((entry) => entry.name));
  entries.forEach((entry, i) => {
    if (known.has(entry.name)) {
      const reason = `is already configured in ${config.source}: each node may be configured once`;
      throw new ConfigError(source, `nodeconfig[${i}].name`, entry.name, reason);
    }
    known.add(entry.name);
  });
  return deepFreeze({ ...config, nodeConfig: [...config.nodeConfig, ...entries] });
}

/**
 * The effective NVIDIA settings of node `nodeName`: the fields its `nodeconfig` entry sets, the
 * `nvidia` defaults (or HAMi's, without an `nvidia` section) for the rest. A node without an
 * entry gets the defaults. The result is frozen; its sets are fresh copies.
 */
export function nodeSettings(config: CompiledDeviceConfig, nodeName: string): NodeSettings {
  const base = config.nvidia ?? NVIDIA_DEFAULTS;
  const node = config.nodeConfig.find((entry) => entry.name === nodeName);
  return Object.freeze({
    operatingMode: node?.operatingMode ?? 'hami-core',
    deviceSplitCount: node?.deviceSplitCount ?? base.deviceSplitCount,
    deviceMemoryScaling: node?.deviceMemoryScaling ?? base.deviceMemoryScaling,
    deviceCoreScaling: node?.deviceCoreScaling ?? base.deviceCoreScaling,
    preConfiguredDeviceMemory: node?.preConfiguredDeviceMemory ?? base.preConfiguredDeviceMemory,
    enableNumaTopology: node?.enableNumaTopology ?? base.enableNumaTopology,
    libCudaLogLevel: node?.libCudaLogLevel ?? base.libCudaLogLevel,
    migStrategy: node?.migStrategy ?? 'none',
    filterDevices: Object.freeze({
      uuids: new Set(node?.filterDevices?.uuids),
      indexes: new Set(node?.filterDevices?.indexes),
    }),
    enableGetPreferredAllocation: node?.enableGetPreferredAllocation ?? false,
  });
}

// ---------------------------------------------------------------------------------------------
// Compiling validated input

function compileNvidia(input: NvidiaInput): NvidiaConfig {
  const d = NVIDIA_DEFAULTS;
  return {
    resourceCountName: input.resourceCountName ?? d.resourceCountName,
    resourceMemoryName: input.resourceMemoryName ?? d.resourceMemoryName,
    resourceMemoryPercentageName: input.resourceMemoryPercentageName ?? d.resourceMemoryPercentageName,
    resourceCoreName: input.resourceCoreName ?? d.resourceCoreName,
    resourcePriorityName: input.resourcePriorityName ?? d.resourcePriorityName,
    overwriteEnv: input.overwriteEnv ?? d.overwriteEnv,
    defaultMemory: input.defaultMemory ?? d.defaultMemory,
    defaultCores: input.defaultCores ?? d.defaultCores,
    defaultGPUNum: input.defaultGPUNum ?? d.defaultGPUNum,
    memoryFactor: input.memoryFactor ?? d.memoryFactor,
    disableCoreLimit: input.disableCoreLimit ?? d.disableCoreLimit,
    gpuCorePolicy: input.gpuCorePolicy ?? d.gpuCorePolicy,
    runtimeClassName: input.runtimeClassName === '' ? undefined : (input.runtimeClassName ?? d.runtimeClassName),
    migProfileAllowlist: (input.migProfileAllowlist ?? []).map((entry) => ({ models: entry.models, profiles: entry.profiles })),
    deviceSplitCount: input.deviceSplitCount ?? d.deviceSplitCount,
    deviceMemoryScaling: input.deviceMemoryScaling ?? d.deviceMemoryScaling,
    deviceCoreScaling: input.deviceCoreScaling ?? d.deviceCoreScaling,
    preConfiguredDeviceMemory: input.preConfiguredDeviceMemory ?? d.preConfiguredDeviceMemory,
    libCudaLogLevel: input.libCudaLogLevel ?? d.libCudaLogLevel,
    enableNumaTopology: input.enableNumaTopology ?? d.enableNumaTopology,
  };
}

function compileNodeEntry(input: NodeEntryInput): NodeOverride {
  const filter = input.filterdevices;
  return {
    name: input.name,
    operatingMode: input.operatingmode ?? undefined,
    deviceSplitCount: input.devicesplitcount ?? undefined,
    deviceMemoryScaling: input.devicememoryscaling ?? undefined,
    deviceCoreScaling: input.devicecorescaling ?? undefined,
    preConfiguredDeviceMemory: input.preconfigureddevicememory ?? undefined,
    enableNumaTopology: input.enablenumatopology ?? undefined,
    libCudaLogLevel: input.libcudaloglevel ?? undefined,
    migStrategy: input.migstrategy ?? undefined,
    filterDevices:
      filter === null || filter === undefined ? undefined : { uuids: filter.uuid ?? [], indexes: filter.index ?? [] },
    enableGetPreferredAllocation: input.enablegetpreferredallocation ?? undefined,
  };
}

/** The other vendors' sections, already checked to be mappings (lists for `iluvatars`). */
function compileVendors(root: unknown): VendorSections {
  const sections: Record<string, unknown> = {};
  if (isRecord(root)) {
    for (const key of VENDOR_KEYS) {
      const section = root[key];
      if (key !== 'nvidia' && section !== undefined && section !== null) sections[key] = section;
    }
  }
  // YAML yields only strings, numbers, booleans, null, lists and string-keyed mappings here.
  return sections as VendorSections;
}

// ---------------------------------------------------------------------------------------------
// Checks zod's per-field schemas cannot make

function deviceConfigChecks(root: unknown): Problem[] {
  if (!isRecord(root)) return [];
  const problems: Problem[] = [];
  if (VENDOR_KEYS.every((key) => root[key] === undefined || root[key] === null)) {
    problems.push({ path: [], reason: `has no vendor section: at least one of ${VENDOR_KEYS.join(', ')} must be present` });
  }
  const nvidia = root['nvidia'];
  if (isRecord(nvidia)) problems.push(...resourceNameClashes(nvidia));
  problems.push(...duplicateNodeNames(root));
  return problems;
}

const RESOURCE_NAME_KEYS = [
  'resourceCountName',
  'resourceMemoryName',
  'resourceMemoryPercentageName',
  'resourceCoreName',
  'resourcePriorityName',
] as const;

/** Two of the NVIDIA resources under one name would make the webhook read one request as two. */
function resourceNameClashes(nvidia: Readonly<Record<string, unknown>>): Problem[] {
  const problems: Problem[] = [];
  const firstKeyOf = new Map<string, string>();
  for (const key of RESOURCE_NAME_KEYS) {
    const written = nvidia[key];
    const name = typeof written === 'string' ? written : NVIDIA_DEFAULTS[key];
    const earlier = firstKeyOf.get(name);
    if (earlier === undefined) {
      firstKeyOf.set(name, key);
    } else {
      // Point at whichever of the two the file wrote (the later one when both are written).
      const at = typeof written === 'string' ? key : earlier;
      const other = at === key ? earlier : key;
      const reason = `is also the name of nvidia.${other}: each NVIDIA resource needs its own name`;
      problems.push({ path: ['nvidia', at], reason });
    }
  }
  return problems;
}

function duplicateNodeNames(root: unknown): Problem[] {
  if (!isRecord(root)) return [];
  const list = root['nodeconfig'];
  if (!Array.isArray(list)) return [];
  const problems: Problem[] = [];
  const firstIndex = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry['name'] !== 'string') return;
    const earlier = firstIndex.get(entry['name']);
    if (earlier === undefined) {
      firstIndex.set(entry['name'], i);
    } else {
      const reason = `repeats nodeconfig[${earlier}].name: each node may be configured once`;
      problems.push({ path: ['nodeconfig', i, 'name'], reason });
    }
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Problems and how they are reported

type PathSegment = string | number;

/** One thing wrong with the input; `atKey` points at a mapping key rather than its value. */
interface Problem {
  readonly path: readonly PathSegment[];
  readonly reason: string;
  readonly atKey?: boolean;
}

/** Where a node of the source text starts: offset for ordering, line and column (1-based) for people. */
interface Position {
  readonly offset: number;
  readonly line: number;
  readonly col: number;
}

type Locate = (path: readonly PathSegment[], atKey: boolean) => Position | undefined;

const ROOT = '(root)';
/** How many further problem paths an error lists after the first problem. */
const LISTED_PROBLEMS = 5;

function zodProblems(result: z.ZodSafeParseResult<unknown>, knownKeys: ReadonlyMap<string, readonly string[]>): Problem[] {
  if (result.success) return [];
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys.get(schemaKey(path)) ?? [];
      for (const key of issue.keys) {
        problems.push({ path: [...path, key], reason: unknownKeyReason([...path, key], key, known), atKey: true });
      }
    } else {
      problems.push({ path, reason: issue.message });
    }
  }
  return problems;
}

/** `nodeconfig.filterdevices` for `['nodeconfig', 2, 'filterdevices']`. */
function schemaKey(path: readonly PathSegment[]): string {
  return path.filter((segment) => typeof segment === 'string').join('.');
}

function unknownKeyReason(path: readonly PathSegment[], key: string, known: readonly string[]): string {
  const retired = RETIRED_KEYS.get(schemaKey(path));
  if (retired !== undefined) return retired;
  const suggestion = closestKey(key, known);
  const hint = suggestion === undefined ? `known keys: ${known.join(', ')}` : `did you mean ${suggestion}?`;
  return `is an unknown key (${hint})`;
}

/** The known key differing from `key` only in case, by at most two edits, or by a cut-off end. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameLetters = known.find((candidate) => candidate.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  const extended = lower.length >= 4 ? known.find((candidate) => candidate.toLowerCase().startsWith(lower)) : undefined;
  if (extended !== undefined) return extended;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** One ConfigError for all problems: the first in file order, then how many more and where. */
function report(source: string, root: unknown, problems: readonly Problem[], locate: Locate): ConfigError {
  const placed = problems
    .map((problem, order) => ({ problem, order, at: locate(problem.path, problem.atKey === true) }))
    .sort((a, b) => (a.at?.offset ?? Infinity) - (b.at?.offset ?? Infinity) || a.order - b.order);
  const first = placed[0];
  if (first === undefined) return new ConfigError(source, ROOT, '', 'is invalid');
  let reason = first.problem.reason;
  if (first.at !== undefined) reason += ` (line ${first.at.line}:${first.at.col})`;
  const rest = placed.slice(1).map(({ problem }) => pathText(problem.path));
  if (rest.length > 0) {
    const listed = rest.slice(0, LISTED_PROBLEMS).join(', ') + (rest.length > LISTED_PROBLEMS ? ', …' : '');
    reason += `; and ${rest.length} more problem${rest.length === 1 ? '' : 's'}: ${listed}`;
  }
  return new ConfigError(source, pathText(first.problem.path), valueText(valueAt(root, first.problem.path)), reason);
}

/** `nodeconfig[1].devicesplitcount`; `(root)` for the document itself. */
function pathText(path: readonly PathSegment[]): string {
  if (path.length === 0) return ROOT;
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isRecord(value) && typeof segment === 'string') value = value[segment];
    else return undefined;
  }
  return value;
}

/** The offending value as text: strings as they are, other scalars as written, collections as JSON. */
function valueText(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// Reading text

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : undefined;
    if (code === 'ENOENT') throw new ConfigError(path, '(file)', path, 'does not exist');
    throw new ConfigError(path, '(file)', path, `cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The YAML document as plain data, and a way to find where a path is written. */
function readYaml(text: string, source: string): { value: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  // Merge keys (`<<: *base`) on, as in Go's yaml decoders; duplicate keys are errors.
  // prettyErrors fills in `linePos` (and appends "at line L, column C:" and context to messages).
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  const [first, ...others] = doc.errors;
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const line = pos === undefined ? '' : (text.split(/\r?\n/)[pos.line - 1] ?? '').trim();
    const where = pos === undefined ? '' : ` (line ${pos.line}:${pos.col})`;
    const more = others.length === 0 ? '' : `; and ${others.length} more syntax error${others.length === 1 ? '' : 's'}`;
    const what = first.code === 'MULTIPLE_DOCS' ? 'holds more than one document (a second "---")' : firstLine(first.message);
    throw new ConfigError(source, '(yaml)', line, `is not valid YAML: ${what}${where}${more}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, '(yaml)', '', `cannot be expanded: ${err instanceof Error ? err.message : String(err)}`);
  }
  // An alias inside its own anchor (`a: &x [*x]`) makes a cycle: no configuration value is one.
  if (hasCycle(value)) {
    throw new ConfigError(source, '(yaml)', '', 'cannot be expanded: an alias refers to the node that contains it');
  }
  return { value, locate: yamlLocator(doc, lineCounter) };
}

/** The message of a yaml error without the position and context `prettyErrors` adds to it. */
function firstLine(message: string): string {
  return (message.split('\n', 1)[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Finds the node a path names in a parsed document, or the nearest ancestor that is written
 * (a missing key is reported where its mapping starts). Keys match exactly, else ignoring case
 * (JSON keys were folded to their canonical case before validation).
 */
function yamlLocator(doc: Document.Parsed, lineCounter: LineCounter): Locate {
  const at = (node: unknown): number | undefined => (isNode(node) && node.range ? node.range[0] : undefined);
  return (path, atKey) => {
    let node: unknown = doc.contents;
    let offset = at(node);
    for (const [i, segment] of path.entries()) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const keyText = (pairKey: unknown): string | undefined => (isScalar(pairKey) ? String(pairKey.value) : undefined);
        const wanted = String(segment);
        const pair =
          node.items.find((p) => keyText(p.key) === wanted) ??
          node.items.find((p) => keyText(p.key)?.toLowerCase() === wanted.toLowerCase());
        if (pair === undefined) break;
        const keyOffset = at(pair.key);
        if (atKey && i === path.length - 1) {
          offset = keyOffset ?? offset;
          break;
        }
        node = pair.value;
        offset = at(node) ?? keyOffset ?? offset;
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        node = node.items[segment];
        offset = at(node) ?? offset;
      } else {
        break;
      }
    }
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { offset, line, col };
  };
}

/** JSON is YAML's flow style, so the YAML parser can find positions in it; none if it cannot. */
function jsonLocator(text: string): Locate {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  return doc.errors.length > 0 ? () => undefined : yamlLocator(doc, lineCounter);
}

function jsonSyntaxError(source: string, text: string, err: unknown): ConfigError {
  const message = err instanceof Error ? err.message : String(err);
  const position = /at position (\d+)/.exec(message);
  let where = '';
  let line = '';
  if (position?.[1] !== undefined) {
    const before = text.slice(0, Number(position[1])).split(/\r?\n/);
    const lineNo = before.length;
    where = ` (line ${lineNo}:${(before[lineNo - 1] ?? '').length + 1})`;
    line = (text.split(/\r?\n/)[lineNo - 1] ?? '').trim();
  }
  return new ConfigError(source, '(json)', line, `is not valid JSON: ${message}${where}`);
}

/**
 * Renames keys that match a known key ignoring case to the known key, as Go's `encoding/json`
 * matches them (an exact spelling already present wins; the other is left to be reported).
 */
function foldJsonKeys(root: unknown): unknown {
  const fold = (value: unknown, known: readonly string[]): unknown => {
    if (!isRecord(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const canonical = known.find((k) => k.toLowerCase() === key.toLowerCase());
      const target = canonical !== undefined && !(canonical in value) ? canonical : key;
      out[target] = item;
    }
    return out;
  };
  const top = fold(root, ['nodeconfig']);
  if (!isRecord(top) || !Array.isArray(top['nodeconfig'])) return top;
  const entries: unknown[] = top['nodeconfig'];
  const nodeKeys = Object.keys(nodeEntryShape);
  const filterKeys = Object.keys(filterDevicesShape);
  return {
    ...top,
    nodeconfig: entries.map((entry) => {
      const folded = fold(entry, nodeKeys);
      return isRecord(folded) && isRecord(folded['filterdevices'])
        ? { ...folded, filterdevices: fold(folded['filterdevices'], filterKeys) }
        : folded;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasCycle(value: unknown, ancestors = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const found = Object.values(value).some((item) => hasCycle(item, ancestors));
  ancestors.delete(value);
  return found;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Built last: it runs the parser, which needs every constant above.

/** The configuration of `nvidia: {}`: every NVIDIA default, no other vendor, no node overrides. */
export const DEFAULT_DEVICE_CONFIG: CompiledDeviceConfig & { readonly nvidia: NvidiaConfig } = (() => {
  const config = parseDeviceConfig('nvidia: {}\n', '(defaults)');
  if (config.nvidia === undefined) throw new Error('unreachable: nvidia: {} compiles to an nvidia section');
  return Object.freeze({ ...config, nvidia: config.nvidia });
})();
