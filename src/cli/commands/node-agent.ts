/**
 * `tessera node-agent`: the per-node DaemonSet process (device discovery, registration on the Node,
 * the kubelet device plugin, Allocate), and `tessera install-hook`, the host install step its init
 * container runs. Flags follow HAMi's device plugin where one exists.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';

import { DEFAULT_DEVICE_CONFIG, loadDeviceConfig, loadNodeConfigJson, withNodeConfig } from '../../config/device-config.js';
import { loadKubeConfig } from '../../k8s/index.js';
import { DEFAULT_CDI_OPTIONS } from '../../node-agent/allocate/cdi.js';
import { DEFAULT_HOOK_LAYOUT } from '../../node-agent/allocate/container-edits.js';
import { startNodeAgent } from '../../node-agent/agent.js';
import { openBackend } from '../../node-agent/discovery/index.js';
import { installHook } from '../../node-agent/install.js';
import { closeOnSignal, logLine as log } from '../process.js';
import type { CommandFactory } from './index.js';
import { parseBind } from './scheduler.js';

/** An http(s) URL, `{port}` allowed in place of the port. */
function advertiseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.replaceAll('{port}', '9394'));
  } catch {
    throw new InvalidArgumentError(`'${value}' is not a URL; write e.g. http://10.0.3.7:{port}/metrics`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`'${value}' is not an http(s) URL`);
  return value;
}

function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 10) throw new InvalidArgumentError(`'${value}' is not a duration: write whole milliseconds, at least 10 (e.g. 5000).`);
  return n;
}


export const nodeAgentCommand: CommandFactory = (program) => {
  program
    .command('node-agent')
    .description('run the node agent: discover GPUs, register them on the Node, and serve the kubelet device plugin')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--node-name <name>', 'the Node this agent runs on (default: $NODE_NAME)')
    .option('--device-config <path>', "HAMi's device-config.yaml (default: HAMi's defaults)")
    .option('--node-config <path>', "per-node overrides in HAMi's device plugin config.json ({\"nodeconfig\": [...]})")
    .option('--devices <yaml>', 'read devices from this mock file instead of NVML (see docs/node-agent.md)')
    .option('--nvml-library <path>', 'NVML library to load', 'libnvidia-ml.so.1')
    .option('--plugin-dir <dir>', "the kubelet's device plugin directory", '/var/lib/kubelet/device-plugins')
    .option('--kubelet-socket <path>', "the kubelet's registration socket (default: <plugin-dir>/kubelet.sock)")
    .option('--socket-name <name>', 'socket file of this plugin in the plugin directory', 'tessera-nvidia.sock')
    .option('--hook-path <dir>', 'host directory of the enforcement library and per-container files (also their path in containers)', DEFAULT_HOOK_LAYOUT.hookPath)
    .option('--preload-library <file>', 'library file name in --hook-path that ld.so.preload loads (libvgpu.so for HAMi-core)', DEFAULT_HOOK_LAYOUT.library)
    .option('--cdi', 'answer Allocate with CDI device names and write CDI specs instead of env and mounts')
    .option('--cdi-dir <dir>', 'where CDI specs are written', DEFAULT_CDI_OPTIONS.dir)
    .option('--cdi-gpu-kind <kind>', "CDI kind of the NVIDIA Container Toolkit's GPU devices", DEFAULT_CDI_OPTIONS.gpuKind)
    .option('--no-topology-score', 'do not publish hami.io/node-nvidia-score')
    .option('--health-interval <ms>', 'how often devices are re-read', milliseconds, 5000)
    .option('--register-interval <ms>', 'longest time between two reads of the Node', milliseconds, 30_000)
    .option('--metrics-bind-address <address>', "serve the node monitor's GET /metrics (HAMi's vGPUmonitor metrics) here", parseBind, parseBind(':9394'))
    .option('--no-metrics', 'do not serve metrics')
    .option(
      '--metrics-advertise-url <url>',
      "the monitor's /metrics URL as the scheduler's dashboard reaches it, written to the Node ({port}: the port listened on); the DaemonSet passes http://$(POD_IP):{port}/metrics",
      advertiseUrl,
    )
    .action(async (options) => {
      const nodeName = options.nodeName ?? process.env.NODE_NAME;
      if (nodeName === undefined || nodeName === '') {
        throw new InvalidArgumentError('the node name is unknown: pass --node-name or set NODE_NAME (the DaemonSet sets it from spec.nodeName).');
      }
      let config = options.deviceConfig === undefined ? DEFAULT_DEVICE_CONFIG : await loadDeviceConfig(options.deviceConfig);
      if (options.nodeConfig !== undefined) config = withNodeConfig(config, await loadNodeConfigJson(options.nodeConfig));
      const backend = await openBackend({
        nodeName,
        nvmlLibrary: options.nvmlLibrary,
        ...(options.devices !== undefined && { devices: options.devices }),
      });
      const agent = await startNodeAgent({
        kubeConfig: loadKubeConfig(options.kubeconfig),
        nodeName,
        backend,
        config,
        pluginDir: options.pluginDir,
        ...(options.kubeletSocket !== undefined && { kubeletSocket: options.kubeletSocket }),
        socketName: options.socketName,
        layout: { hookPath: options.hookPath, library: options.preloadLibrary },
        ...(options.cdi === true && { cdi: { dir: options.cdiDir, gpuKind: options.cdiGpuKind } }),
        topologyScore: options.topologyScore,
        healthIntervalMs: options.healthInterval,
        registerIntervalMs: options.registerInterval,
        ...(options.metrics && {
          metrics: { ...options.metricsBindAddress, ...(options.metricsAdvertiseUrl !== undefined && { advertiseUrl: options.metricsAdvertiseUrl }) },
        }),
        log,
      });
      log(
        `node agent on ${nodeName}: ${agent.devices().length} device(s), ${agent.slots().length} slot(s) advertised` +
          (agent.metricsUrl === null ? '' : `, metrics on ${agent.metricsUrl}/metrics`),
      );
      await closeOnSignal(() => agent.close(), (signal) => log(`${signal}: shutting down`));
    });

  program
    .command('install-hook')
    .description('install the enforcement library and ld.so.preload on this host (run by the node agent DaemonSet before it starts)')
    .requiredOption('--library <path>', 'the library to install (libtessera.so from the image)')
    .option('--hook-path <dir>', 'host directory to install into', DEFAULT_HOOK_LAYOUT.hookPath)
    .option('--name <file>', 'file name to install as (libvgpu.so to stand in for HAMi-core)', DEFAULT_HOOK_LAYOUT.library)
    .option('--board-dir <dir>', 'node-wide directory the library shares between containers', '/tmp/vgpulock')
    .action(async (options) => {
      const result = await installHook({ library: options.library, hookPath: options.hookPath, name: options.name, boardDir: options.boardDir });
      log(`installed ${result.library}; ${result.preload} loads it`);
    });
};
