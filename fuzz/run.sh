#!/bin/bash
# Builds the libFuzzer targets with clang (build-fuzz/, ASan+UBSan), writes
# the seed corpora from real inputs, and runs every target for SECONDS each
# (default: FUZZ_SECONDS, else 60). The growing corpus stays in
# build-fuzz/corpus/<target>/ between runs. A finding (crash, sanitizer
# report, leak, timeout, out-of-memory) stops with exit 1 and names the
# input: copy it into fuzz/regressions/<target>/ and fix the bug; the replay
# tests of `make test` then run it forever after.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     targets: model image request
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(model image request)
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found: run scripts/setup" >&2; exit 2; }
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOKOUT_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD" -j"$JOBS" --target make_seeds "${TARGETS[@]/%/_fuzz}"
rm -rf "$BUILD/seeds"
"$BUILD/fuzz/make_seeds" . "$BUILD/seeds"

# Leaks are findings; a leak report must name our frames.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
printf '%-8s %8s %10s %8s %8s %6s %s\n' target seconds execs exec/s corpus cover finding
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$t"
  findings="$BUILD/findings/$t"
  mkdir -p "$corpus" "$findings"
  inputs=("$corpus" "$BUILD/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && inputs+=("fuzz/regressions/$t")
  log="$BUILD/$t.log"
  # -timeout: an input taking this long is a finding (a stall); the memory
  # limits make a runaway allocation one too.
  # FUZZ_RUNS (CI): a fixed number of inputs from a fixed seed, so a commit
  # passes or fails the same way every time; else SECONDS of fresh search.
  if [ -n "${FUZZ_RUNS:-}" ]; then
    runs_var="FUZZ_RUNS_$t"
    budget=(-runs="${!runs_var:-$FUZZ_RUNS}" -seed="${FUZZ_SEED:-1}")
  else
    budget=(-max_total_time="$SECONDS_EACH")
  fi
  if "$BUILD/fuzz/${t}_fuzz" "${budget[@]}" -timeout=30 -rss_limit_mb=2560 -malloc_limit_mb=1024 \
      -print_final_stats=1 -artifact_prefix="$findings/" "${inputs[@]}" >"$log" 2>&1; then
    finding=none
  else
    finding=$(grep -m1 -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | head -n1 || true)
    finding="$findings/${finding:-see $log}"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  units=$(find "$corpus" -type f | wc -l)
  cover=$(grep -oE "cov: [0-9]+" "$log" | tail -n1 | cut -d' ' -f2)
  printf '%-8s %8s %10s %8s %8s %6s %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "$units" "${cover:-?}" "$finding"
  if [ "$finding" != none ]; then
    grep -m1 -B2 -A25 -E "ERROR: |runtime error|==ERROR|deadly signal|uncaught" "$log" >&2 || tail -n 40 "$log" >&2
  fi
done
exit $status
