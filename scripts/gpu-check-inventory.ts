/**
 * GPU-machine check of NVML discovery: opens the NVML backend on the real driver, prints its
 * inventory beside nvidia-smi's answers, and exits 1 on any difference (UUID, name, memory MiB,
 * PCI bus id, MIG mode, and NVLink counts from `nvidia-smi topo -m`). The comparison lives in
 * src/node-agent/discovery/compare-smi.ts, tested without a GPU; this file only runs things.
 *
 *   npm run gpu-check                      # libnvidia-ml.so.1 from the loader path
 *   npx tsx scripts/gpu-check-inventory.ts /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
 *
 * docs/node-agent.md ("On a GPU machine") says how to run it where Node.js is not installed.
 */
import { execFileSync } from 'node:child_process';

import {
  compareWithSmi,
  parseSmiQuery,
  parseSmiTopoNvlinks,
  renderComparison,
  SMI_QUERY_FIELDS,
} from '../src/node-agent/discovery/compare-smi.js';
import { NvmlBackend } from '../src/node-agent/discovery/nvml.js';

function smi(args: readonly string[]): string {
  return execFileSync('nvidia-smi', args, { encoding: 'utf8' });
}

const library = process.argv[2] ?? process.env.TESSERA_NVML_LIBRARY;
const backend = await NvmlBackend.open(library === undefined ? {} : { library }).catch((error: unknown) => {
  console.error(`gpu-check: ${(error as Error).message}`);
  process.exit(2);
});
let inventory;
try {
  inventory = await backend.inventory();
} finally {
  await backend.close();
}
console.log(`${backend.source}: ${String(inventory.devices.length)} device(s)`);
for (const d of inventory.devices) {
  const health = d.healthy ? 'healthy' : `UNHEALTHY (${d.healthReason ?? ''})`;
  const facts = [d.uuid, d.name, `${String(d.memoryMiB)} MiB`, d.pciBusId, `numa ${String(d.numa)}`, `mig ${String(d.migEnabled)}`];
  console.log(`  ${String(d.index)}  ${facts.join('  ')}  ${health}`);
}
for (const l of inventory.links) console.log(`  link ${l.a} ↔ ${l.b}: nvlinks ${String(l.nvlinks)}, pcie ${l.pcie}`);

const query = smi([`--query-gpu=${SMI_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits']);
let topo = '';
try {
  topo = smi(['topo', '-m']);
} catch (error) {
  console.log(`nvidia-smi topo -m failed (${(error as Error).message}); NVLink counts are not compared`);
}
console.log(`\nnvidia-smi --query-gpu=${SMI_QUERY_FIELDS.join(',')}:\n${query}\nnvidia-smi topo -m:\n${topo}`);

const rows = compareWithSmi(inventory, parseSmiQuery(query), parseSmiTopoNvlinks(topo));
console.log(renderComparison(rows));
const differences = rows.filter((r) => !r.same).length;
console.log(differences === 0 ? '\ngpu-check: NVML discovery matches nvidia-smi' : `\ngpu-check: ${String(differences)} difference(s)`);
process.exitCode = differences === 0 ? 0 : 1;
