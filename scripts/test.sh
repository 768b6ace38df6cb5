#!/usr/bin/env bash
# Every check CI runs: typecheck, lint, then the node:test suites through the tsx loader.
# Node 20's `--test` does not expand globs itself, so bash does (globstar).
set -euo pipefail
shopt -s globstar nullglob

cd "$(dirname "$0")/.."

scripts/ensure-test-tools.sh

echo '> typecheck'
npm run -s typecheck

echo '> lint'
npm run -s lint

files=(src/**/*.test.ts test/**/*.test.ts)
if ((${#files[@]} == 0)); then
  echo 'scripts/test.sh: no test files found under src/ or test/' >&2
  exit 1
fi

echo "> node --test (${#files[@]} files)"
# One file at a time: the enforcement library's compute tests measure duty cycles on a simulated
# GPU in real time, and on a 2-core machine a neighbouring test file can starve them of CPU.
node --import tsx --test --test-reporter=spec --test-concurrency=1 "${files[@]}"
