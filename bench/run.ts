/**
 * `npm run bench -- <name>`: runs one benchmark (or every one, without a name) and prints its JSON.
 * Benchmarks measure speed goals; tests never do.
 */
const benchmarks: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  dashboard: () => import('./dashboard.js'),
  'enforcement-launch': () => import('./enforcement-launch.js'),
  explain: () => import('./explain.js'),
  extender: () => import('./extender.js'),
  metrics: () => import('./metrics.js'),
  'node-agent': () => import('./node-agent.js'),
  placement: () => import('./placement.js'),
  simulate: () => import('./simulate.js'),
  'simulate-study': async () => ({ main: (await import('./simulate.js')).study }),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benchmarks).join(', ')}\n`);
  process.exit(2);
}
// The study takes minutes: it runs when named, not with the rest.
for (const name of wanted.length > 0 ? wanted : Object.keys(benchmarks).filter((b) => b !== 'simulate-study')) {
  const load = benchmarks[name];
  if (load) await (await load()).main();
}
