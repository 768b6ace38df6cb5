/**
 * `npm run bench -- <name>`: runs one benchmark (or every one, without a name) and prints its JSON.
 * Benchmarks measure speed goals; tests never do.
 */
const benchmarks: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  'enforcement-launch': () => import('./enforcement-launch.js'),
  placement: () => import('./placement.js'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benchmarks).join(', ')}\n`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(benchmarks)) {
  const load = benchmarks[name];
  if (load) await (await load()).main();
}
