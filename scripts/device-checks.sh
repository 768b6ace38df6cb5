#!/usr/bin/env bash
# Everything a lent GPU machine is for, as one prepared command (the device tool runs it in a copy
# of the working tree; results go to $OUT):
#   - the enforcement library on the GPU (native/gpu-check.sh, about 5 minutes);
#   - the extender benchmark on the machine's 16 cores (three runs, about 35 s each), from the
#     bundle scripts/bundle-bench.sh made, with the Node binary carried as .gpu/node.xz.
# Prepare on the development machine, then name `.gpu` in the device tool's `carry`:
#   mkdir -p .gpu && xz -T2 -c "$(command -v node)" > .gpu/node.xz && scripts/bundle-bench.sh extender
#
#   scripts/device-checks.sh [enforcement] [extender]     (default: both)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.}"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(enforcement extender)
status=0
nproc | sed 's/^/cores: /'

for step in "${wanted[@]}"; do
  case "$step" in
    enforcement)
      echo "== enforcement library (native/gpu-check.sh)"
      bash native/gpu-check.sh 2>&1 | tee "$out/gpu-check.txt" || status=1
      ;;
    extender)
      echo "== extender benchmark"
      node=$(command -v node || true)
      if [ -z "$node" ]; then
        [ -f .gpu/node.xz ] || { echo "no node and no .gpu/node.xz: see the header of $0" >&2; status=1; continue; }
        xz -d -c .gpu/node.xz > /tmp/tessera-node && chmod +x /tmp/tessera-node && node=/tmp/tessera-node
      fi
      [ -f .gpu/bench/extender.mjs ] || { echo "no .gpu/bench/extender.mjs: run scripts/bundle-bench.sh extender" >&2; status=1; continue; }
      for run in 1 2 3; do
        "$node" .gpu/bench/extender.mjs > "$out/extender-$run.json" 2> "$out/extender-$run.err" || status=1
        "$node" -e '
          const t = require("fs").readFileSync(process.argv[1], "utf8");
          const j = JSON.parse(t.slice(t.indexOf("{")));
          const coreEach = Object.fromEntries(Object.entries(j.coreEach ?? {}).filter(([, r]) => r && r.filterMs).map(([k, r]) => [`${k} (core each)`, r]));
          for (const [label, r] of Object.entries({ ...j.runs, ...coreEach, ...j.paced }))
            console.log(`run ${process.argv[2]} ${label}: ${r.podsPerSecond} pods/s, filter p50 ${r.filterMs.p50Ms} ms p99 ${r.filterMs.p99Ms} ms, bind p99 ${r.bindMs.p99Ms} ms`);
          console.log(`run ${process.argv[2]}: met ${j.met} (judged on ${j.judgedOn}), met in the runs as they come ${j.metInRuns}${j.coreEach?.unavailable ? `; no core-each runs: ${j.coreEach.unavailable}` : ""}`);
        ' "$out/extender-$run.json" "$run" || status=1
      done
      ;;
    *) echo "unknown step: $step (enforcement, extender)" >&2; status=2 ;;
  esac
done
exit $status
