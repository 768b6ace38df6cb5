/**
 * `tessera explain <namespace>/<pod>`: why a pod is pending, or where it went and what it got,
 * from the scheduler's explain API (`GET /api/v1/explain/<ns>/<name>` on its metrics port).
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';

import { TesseraError } from '../../core/errors.js';
import { EXPLAIN_PATH, type Explanation, nodesByReason } from '../../scheduler/explain.js';
import type { CommandFactory } from './index.js';

function podRef(value: string): { namespace: string; name: string } {
  const parts = value.split('/');
  if (parts.length === 1 && parts[0]) return { namespace: 'default', name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  throw new InvalidArgumentError(`'${value}' is not a pod: write <namespace>/<name> (or <name> in default).`);
}

/** Nodes grouped by reason, most common first: `CardInsufficientMemory (2): gpu-a, gpu-b`. */
function reasonLines(failed: Readonly<Record<string, string>>): string[] {
  return [...nodesByReason(Object.entries(failed)).entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([reason, nodes]) => `  ${reason} (${nodes.length}): ${nodes.sort().join(', ')}`);
}

/** The explanation as a person reads it. */
export function renderExplanation(e: Explanation): string {
  const lines = [`Pod ${e.namespace}/${e.name}`];
  const f = e.filter;
  if (f === undefined) {
    lines.push('  no Filter recorded');
  } else if (f.outcome === 'placed') {
    lines.push(`Filter ${f.at}: placed on node ${f.node ?? '?'} (score ${(f.score ?? 0).toFixed(2)}) among ${f.candidates} candidate node(s)`);
    (f.grants ?? []).forEach((grants, i) => {
      if (grants.length === 0) return;
      const name = f.containers?.[i] ?? `#${i}`;
      lines.push(`  container ${name}: ${grants.map((g) => `${g.id} ${g.memoryMiB} MiB ${g.cores}%`).join(', ')}`);
    });
    // Under binpack and spread the engine stops at the first node that fits in preference order,
    // so these are the nodes it passed over, not every node that would not fit.
    if (Object.keys(f.failedNodes).length > 0) lines.push('Preferred nodes passed over (did not fit):', ...reasonLines(f.failedNodes));
    if ((f.busyNodes ?? []).length > 0) lines.push(`Preferred nodes passed over (another pod was being bound there): ${(f.busyNodes ?? []).join(', ')}`);
  } else if (f.outcome === 'unschedulable') {
    lines.push(`Filter ${f.at}: pending, no node fits (0 of ${f.candidates} candidates)`);
    lines.push(...reasonLines(f.failedNodes));
    if (f.message !== undefined && Object.values(f.failedNodes).every((r) => r.startsWith('ResourceQuotaNotFit'))) lines.push(`  quota: ${f.message}`);
  } else {
    lines.push(`Filter ${f.at}: refused: ${f.message ?? 'no reason recorded'}`);
  }
  if (e.bind !== undefined) {
    lines.push(e.bind.error === '' ? `Bind ${e.bind.at}: bound to ${e.bind.node}` : `Bind ${e.bind.at}: binding to ${e.bind.node} failed: ${e.bind.error}`);
  } else if (f?.outcome === 'placed') {
    lines.push('Bind: not yet (kube-scheduler binds after Filter)');
  }
  return `${lines.join('\n')}\n`;
}

export const explainCommand: CommandFactory = (program) => {
  program
    .command('explain')
    .description("why a pod is pending or where it went: each node's reason, the devices chosen and the score, from the scheduler")
    .argument('<pod>', '<namespace>/<name>, or <name> in the default namespace', podRef)
    .option('--server <url>', "the scheduler's metrics address (kubectl -n kube-system port-forward deploy/tessera 9395)", 'http://127.0.0.1:9395')
    .option('--json', 'print the raw explanation')
    .action(async (pod, options) => {
      const url = `${options.server.replace(/\/+$/, '')}${EXPLAIN_PATH}${encodeURIComponent(pod.namespace)}/${encodeURIComponent(pod.name)}`;
      let response: Response;
      try {
        response = await fetch(url);
      } catch (error) {
        const why = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
        throw new TesseraError('TESSERA_ERR_INPUT', `cannot reach the scheduler at ${options.server} (${why}); forward its port: kubectl -n kube-system port-forward deploy/tessera 9395, or pass --server`);
      }
      const body = (await response.json().catch(() => ({}))) as Explanation & { error?: string };
      if (!response.ok) throw new TesseraError('TESSERA_ERR_INPUT', body.error ?? `${url} answered ${response.status}`);
      process.stdout.write(options.json === true ? `${JSON.stringify(body, null, 2)}\n` : renderExplanation(body));
    });
};
