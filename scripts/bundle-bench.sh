#!/usr/bin/env bash
# Bundles one benchmark, with everything it imports, into a single ES module for a machine that
# has Node but no node_modules (the lent GPU machine, whose 16 cores the extender benchmark wants:
# on the 2-core development machine its three busy threads share two cores).
#
#   scripts/bundle-bench.sh extender      → .gpu/bench/extender.mjs
#   node .gpu/bench/extender.mjs          → the same JSON as `npm run bench -- extender`
#
# The bundle sits two folders below the repository root, where the sources' `../../package.json`
# lookups still find package.json. Its worker threads run the bundle again (bench/extender.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/bundle-bench.sh <benchmark> (e.g. extender)}"
source="bench/${name}.ts"
[ -f "$source" ] || { echo "bundle-bench: no benchmark ${source}" >&2; exit 2; }
mkdir -p .gpu/bench
# The entry runs the benchmark on the main thread only; its workers load the same file and take
# their role from workerData.
printf "import { isMainThread } from 'node:worker_threads';\nimport { main } from './%s';\nif (isMainThread) await main();\n" "$source" |
  npx esbuild --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --sourcefile=bench-entry.ts --loader=ts \
    --banner:js="import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" \
    --outfile=".gpu/bench/${name}.mjs"
echo ".gpu/bench/${name}.mjs ($(du -h ".gpu/bench/${name}.mjs" | cut -f1))"
