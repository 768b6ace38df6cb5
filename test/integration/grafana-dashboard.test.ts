/**
 * deploy/grafana/tessera-dashboard.json: valid Grafana JSON whose every query names a metric that
 * the scheduler or the node agent really registers, so a renamed metric cannot leave a dashboard
 * panel silently empty.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ClusterState } from '../../src/core/placement/cluster.js';
import { NodeMonitor } from '../../src/node-agent/monitor/metrics.js';
import { SchedulerCache } from '../../src/scheduler/scheduler-cache.js';
import { SchedulerMetrics } from '../../src/scheduler/metrics.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Panel {
  id: number;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets: { expr: string; refId: string }[];
}

function dashboard(): { uid: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] } } {
  return JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'tessera-dashboard.json'), 'utf8')) as never;
}

/** Every metric family the two processes register. */
async function registered(): Promise<Set<string>> {
  const scheduler = new SchedulerMetrics({ cache: new SchedulerCache(new ClusterState(), () => {}), quotas: () => [], quotaResources: [], ready: () => true });
  const node = new NodeMonitor({ nodeName: 'n', hookPath: '/nonexistent', deviceTypes: () => new Map(), pods: () => Promise.resolve(() => undefined) });
  const names = new Set<string>();
  for (const name of await scheduler.familyNames()) names.add(name);
  for (const metric of await node.registry.getMetricsAsJSON()) names.add(metric.name);
  return names;
}

test('every query uses metrics the scheduler or the node agent registers', async () => {
  const names = await registered();
  const d = dashboard();
  const exprs = [...d.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...d.templating.list.map((v) => (typeof v.query === 'string' ? v.query : ''))];
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:hami|tessera)_[a-z_]+)/g)].map((m) => m[1] ?? '')));
  assert.ok(used.size >= 10, `the dashboard uses ${used.size} metrics`);
  for (const name of used) {
    // A histogram's series are <name>_bucket, _sum and _count.
    const family = names.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(names.has(family), `${name} is used by the dashboard but registered by neither process`);
  }
});

test('panels have unique ids, queries, and do not overlap on the grid', () => {
  const d = dashboard();
  assert.equal(d.uid, 'tessera-gpu-sharing');
  assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
  const cells = new Set<string>();
  for (const p of d.panels) {
    assert.ok(p.targets.length > 0, `${p.title} has a query`);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        const cell = `${x},${y}`;
        assert.ok(!cells.has(cell), `${p.title} overlaps another panel at ${cell}`);
        cells.add(cell);
      }
    }
  }
});
