/**
 * `tessera demo`: the embedded demo cluster (src/demo/cluster/) in this process, until Ctrl-C.
 * It prints where to reach it and, every few seconds, what the cluster is doing.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';

import { PODS } from '../../apiserver/index.js';
import { startDemoCluster, type DemoCluster } from '../../demo/cluster/cluster.js';
import { closeOnSignal } from '../process.js';
import type { CommandFactory } from './index.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`'${value}' is not a port (0–65535; 0 picks a free one).`);
  return n;
}

/** One line: pods by phase and GPU memory allocated, from the API server and the scheduler's cache. */
export function statusLine(cluster: DemoCluster): string {
  const phases = new Map<string, number>();
  for (const pod of cluster.api.store.list(PODS).items as { status?: { phase?: string } }[]) {
    const phase = pod.status?.phase ?? 'Pending';
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  let total = 0;
  let used = 0;
  for (const node of cluster.scheduler.cache.cluster.nodes) {
    node.devices.forEach((device, position) => {
      total += device.memoryMiB;
      used += node.usage(position).memoryMiB;
    });
  }
  const share = total === 0 ? 0 : Math.round((100 * used) / total);
  const counts = ['Running', 'Pending', 'Failed'].map((p) => `${phases.get(p) ?? 0} ${p.toLowerCase()}`).join(', ');
  return `pods: ${counts}; GPU memory allocated ${share}% of ${Math.round(total / 1024)} GiB`;
}

export const demoCommand: CommandFactory = (program) => {
  program
    .command('demo')
    .description('run the embedded demo cluster: an API server, the scheduler and webhook, 4 GPU nodes with node agents on mock GPUs, and a workload, until Ctrl-C')
    .option('--api-port <port>', 'API server port (0: any free port)', port, 0)
    .option('--metrics-port <port>', "the scheduler's dashboard, metrics and explain port (0: any free port)", port, 0)
    .option('--status-interval <seconds>', 'print a status line this often (0: never)', (v) => Number(v), 10)
    .option('--no-workload', 'start no workload: submit pods yourself with kubectl')
    .option('--verbose', "print every component's log lines")
    .action(async (options) => {
      const say = (line: string): void => {
        process.stdout.write(`${line}\n`);
      };
      const cluster = await startDemoCluster({
        apiPort: options.apiPort,
        metricsPort: options.metricsPort,
        workload: options.workload,
        log: options.verbose === true ? (line) => process.stderr.write(`${line}\n`) : () => {},
      });
      const metrics = cluster.scheduler.metricsUrl ?? '';
      const base = metrics.replace(/\/metrics$/, '');
      const gpus = cluster.nodes.reduce((n, node) => n + node.gpus, 0);
      say(`Tessera demo cluster: ${cluster.nodes.length} nodes, ${gpus} GPUs (${cluster.nodes.map((n) => n.name).join(', ')})`);
      say(`  dashboard      ${base}/ui`);
      say(`  API server     ${cluster.api.url}    kubectl --server ${cluster.api.url} get pods -A`);
      say(`  metrics        ${metrics}`);
      say(`  explain        tessera explain <namespace>/<pod> --server ${base}`);
      say(`  node metrics   ${cluster.agents.map((a) => (a.metricsUrl ?? '').replace(/(?<!\/metrics)$/, '/metrics')).join(' ')}`);
      say(options.workload ? '  workload       inference shares, notebooks, training jobs and a few pods that fit nowhere' : '  workload       none (--no-workload)');
      say('Press Ctrl-C to stop.');
      const timer = options.statusInterval > 0 ? setInterval(() => say(statusLine(cluster)), options.statusInterval * 1000) : undefined;
      await closeOnSignal(
        () => cluster.close(),
        (signal) => {
          say(`${signal}: stopping the demo cluster`);
          clearInterval(timer);
        },
      );
    });
};
