#!/usr/bin/env bash
# Runs the enforcement library's tests (test/cases.txt) against the fake driver,
# with the library preloaded exactly as a container would load it.
#   test/run.sh <release|asan|ubsan> [case ...]     all cases when none is named
# Build first: make VARIANT=<variant> tests
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
variant=${1:?usage: test/run.sh <release|asan|ubsan> [case ...]}
shift
build=$root/build/$variant
[ -x "$build/libtessera.so" ] || [ -f "$build/libtessera.so" ] || {
  echo "no $build/libtessera.so: run 'make VARIANT=$variant tests' first" >&2
  exit 2
}
preload=$build/libtessera.so
# AddressSanitizer's runtime must come first in the initial library list.
[ "$variant" = asan ] && preload="$(${CC:-gcc} -print-file-name=libasan.so) $preload"

wanted=" $* "
failures=0
count=0
while IFS='|' read -r left right; do
  left=${left%%#*}
  read -r -a words <<<"$left"
  [ ${#words[@]} -eq 0 ] && continue
  name=${words[0]}
  [ "$wanted" != "  " ] && [[ "$wanted" != *" $name "* ]] && continue
  read -r -a extra_env <<<"${right:-}"
  cmd=("$build/tests/${words[1]}")
  for arg in "${words[@]:2}"; do cmd+=("${arg//\{tests\}/$build/tests}"); done
  tmp=$(mktemp -d)
  mkdir -p "$tmp/board"
  count=$((count + 1))
  output=$(env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    LD_LIBRARY_PATH="$build/fake" LD_PRELOAD="$preload" \
    CUDA_DEVICE_MEMORY_SHARED_CACHE="$tmp/region.cache" TESSERA_BOARD_DIR="$tmp/board" \
    FAKE_GPU_STATE="$tmp/gpu.state" TESSERA_TMP="$tmp" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "${extra_env[@]}" timeout 120 "${cmd[@]}" 2>&1)
  status=$?
  if [ $status -eq 0 ]; then
    echo "ok $name"
  else
    failures=$((failures + 1))
    echo "FAIL $name (exit $status)"
    echo "$output" | sed 's/^/    /'
  fi
  [ -n "${TESSERA_TEST_VERBOSE:-}" ] && echo "$output" | sed 's/^/    /'
  rm -rf "$tmp"
done <"$root/test/cases.txt"
[ $count -eq 0 ] && { echo "no test case matches: $*" >&2; exit 2; }
echo "$variant: $((count - failures)) of $count passed"
[ $failures -eq 0 ]
