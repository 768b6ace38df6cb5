/**
 * `tessera scheduler`: the scheduler extender (and, with `--webhook-bind`, the admission webhook)
 * as one process, beside a stock kube-scheduler. Flags follow HAMi's scheduler where one exists.
 */
import { hostname } from 'node:os';

import { InvalidArgumentError } from '@commander-js/extra-typings';

import { DEFAULT_DEVICE_CONFIG, loadDeviceConfig } from '../../config/device-config.js';
import { loadKubeConfig } from '../../k8s/index.js';
import { DEFAULT_SCHEDULER_NAME, startScheduler } from '../../scheduler/scheduler.js';
import { closeOnSignal, logLine as log } from '../process.js';
import type { CommandFactory } from './index.js';

/** `host:port`, `:port` (all interfaces) or `port`. */
export function parseBind(value: string): { host: string; port: number } {
  const match = /^(?:(.*):)?(\d+)$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new InvalidArgumentError(`'${value}' is not an address: write host:port, :port or port (e.g. 127.0.0.1:8080).`);
  }
  const host = match[1] === undefined || match[1] === '' ? '0.0.0.0' : match[1].replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

/** HAMi's metrics address (`--metrics-bind-address`, all interfaces). */
export const DEFAULT_METRICS_BIND = ':9395';

/**
 * Like {@link parseBind}, but the empty string turns the endpoint off: `false`, not null, which
 * commander would replace with ''.
 */
export function parseOptionalBind(value: string): { host: string; port: number } | false {
  return value.trim() === '' ? false : parseBind(value);
}

/** `namespace/name` of a Lease. */
export function parseLeaseRef(value: string): { namespace: string; name: string } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(value.trim());
  if (!match?.[1] || !match[3]) throw new InvalidArgumentError(`'${value}' is not a Lease: write namespace/name (e.g. kube-system/hami-scheduler).`);
  return { namespace: match[1], name: match[3] };
}

export const schedulerCommand: CommandFactory = (program) => {
  program
    .command('scheduler')
    .description('run the scheduler extender (POST /filter, /bind; GET /healthz, /readyz) for kube-scheduler, and optionally the admission webhook')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--device-config <path>', "HAMi's device-config.yaml (default: HAMi's defaults)")
    .option('--scheduler-name <name>', 'scheduler name pods are routed to, and Events are recorded as', DEFAULT_SCHEDULER_NAME)
    .option('--http-bind <address>', 'extender address', parseBind, parseBind('127.0.0.1:8080'))
    .option('--webhook-bind <address>', 'also serve the mutating webhook (POST /webhook) here', parseBind)
    .option('--cert-file <path>', 'TLS certificate (reloaded when it changes): for --webhook-bind, or without it HTTPS on --http-bind serving the extender and the webhook together, as HAMi does')
    .option('--key-file <path>', 'TLS key, with --cert-file')
    .option('--leader-elect', 'elect a leader among replicas with a Lease; only the leader decides')
    .option('--leader-elect-namespace <ns>', 'namespace of the Lease', 'kube-system')
    .option('--leader-elect-name <name>', 'name of the Lease', 'tessera-scheduler')
    .option('--follow-lease <namespace/name>', "lead while the kube-scheduler in this pod holds this Lease (its holderIdentity starts with --identity + '_'), as HAMi's extender does", parseLeaseRef)
    .option('--identity <id>', 'this replica in the Lease (default: the host name, which in a pod is its name)')
    .option('--metrics-bind-address <address>', "Prometheus metrics (GET /metrics) address, as HAMi's flag; '' turns them off", parseOptionalBind, parseOptionalBind(DEFAULT_METRICS_BIND))
    .option('--no-metrics', 'do not serve Prometheus metrics (nor the dashboard, which shares their port)')
    .option('--no-dashboard', 'do not serve the web dashboard (/ui) on the metrics port, nor read the node monitors for it')
    .option('--no-avoid-busy-nodes', "choose exactly as HAMi does, even a node where another pod is between Bind and the device plugin's Allocate (the second pod's Bind then fails on the node lock and kube-scheduler retries it)")
    .action(async (options) => {
      if (options.leaderElect === true && options.followLease !== undefined) {
        throw new InvalidArgumentError('--leader-elect and --follow-lease exclude each other: elect a leader of its own, or follow kube-scheduler\'s.');
      }
      if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
        throw new InvalidArgumentError('--cert-file and --key-file go together.');
      }
      const config = options.deviceConfig === undefined ? DEFAULT_DEVICE_CONFIG : await loadDeviceConfig(options.deviceConfig);
      const kubeConfig = loadKubeConfig(options.kubeconfig);
      const metricsBind = options.metrics ? options.metricsBindAddress : false;
      const tls = options.certFile !== undefined && options.keyFile !== undefined ? { certFile: options.certFile, keyFile: options.keyFile } : undefined;
      const running = await startScheduler({
        kubeConfig,
        config,
        schedulerName: options.schedulerName,
        host: options.httpBind.host,
        port: options.httpBind.port,
        log,
        ...(metricsBind === false ? {} : { metrics: metricsBind }),
        ...(options.dashboard === false && { dashboard: false }),
        ...(options.avoidBusyNodes === false && { avoidBusyNodes: false }),
        // HAMi's layout when TLS files come without --webhook-bind: one HTTPS port for everything.
        ...(options.webhookBind === undefined
          ? tls
            ? { webhook: { shareExtenderPort: true as const, tls } }
            : {}
          : { webhook: { ...options.webhookBind, ...(tls ? { tls } : {}) } }),
        ...(options.leaderElect
          ? { leaderElection: { namespace: options.leaderElectNamespace, name: options.leaderElectName, identity: options.identity ?? hostname() } }
          : {}),
        ...(options.followLease === undefined ? {} : { followLease: { ...options.followLease, identity: options.identity ?? hostname() } }),
      });
      if (running.metricsUrl !== null) log(`metrics on ${running.metricsUrl}`);
      log(`extender serving on ${running.url}${running.webhookUrl === null ? '' : `, webhook on ${running.webhookUrl}/webhook`}`);
      await closeOnSignal(() => running.close(), (signal) => log(`${signal}: shutting down`));
    });
};
