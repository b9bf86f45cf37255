#!/bin/bash
# Scale-out over replicas of deploy/k8s's Deployment, on this machine: two
# replicas played by `podman kube play` (scripts/container-kube-play.sh), one
# core each (CPU limit 1 and LOOKOUT_WORKERS=1, pinned to cores 0 and 1), and
# `lookout run DIR --target URL1 --target URL2` draining one queue over both,
# against replica 1 alone, in the same run.
#
#   bench/k8s-scale-out.sh [--passes N] [--concurrency N] [--name PREFIX] [DIR]
#
# DIR defaults to data/small. Each pass sends DIR once to replica 1 alone and
# once to both, so that a change in the machine's load falls on both sides.
# --concurrency: requests in flight per replica (default 2: one uploading
# while one is detected). The client is the image's own `lookout run`, on the
# host network. Prints images/s per pass and overall to stderr, then one JSON
# line on stdout: {"one": {...}, "two": {...}} with images, ok, seconds,
# images_per_s and, for two, the images each replica answered.
# Needs root, podman with the image (scripts/container-build.sh), kubectl,
# jq and two cores.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PASSES=3
CONCURRENCY=2
PREFIX=lookout-scale
DIR=data/small
while [ $# -gt 0 ]; do
  case "$1" in
    --passes) PASSES=${2:?--passes needs a number}; shift 2 ;;
    --concurrency) CONCURRENCY=${2:?--concurrency needs a number}; shift 2 ;;
    --name) PREFIX=${2:?--name needs a prefix}; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$0: unknown option: $1 (try --help)" >&2; exit 2 ;;
    *) DIR=$1; shift ;;
  esac
done
[ -d "$DIR" ] || { echo "$0: $DIR is not a directory" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "$0: needs two cores, this machine has $(nproc)" >&2; exit 1; }
DIR=$(cd "$DIR" && pwd)
log() { echo "k8s-scale-out: $*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lookout-scale.XXXXXX")
cleanup() {
  local i
  for i in 1 2; do scripts/container-kube-play.sh --name "$PREFIX-$i" --down || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
URLS=()
for i in 1 2; do
  URLS+=("$(scripts/container-kube-play.sh --name "$PREFIX-$i" --port 0 --cpus 1 --cpuset $((i - 1)) --wait)")
  log "replica $i ready on ${URLS[-1]}, core $((i - 1))"
done

# run URL...: one `lookout run` over DIR; its results (JSON lines) on stdout,
# preceded by a line with the nanoseconds it took, timed inside the container.
run() {
  local targets=() u
  for u in "$@"; do targets+=(--target "$u"); done
  # shellcheck disable=SC2016 # expanded by the container's shell
  podman run --rm --network host --read-only --tmpfs /tmp -v "$DIR:/photos:ro" --entrypoint sh lookout:latest \
    -c 'start=$(date +%s%N); lookout run /photos "$@" --out /tmp/r.jsonl --quiet >&2 || exit $?
        echo $(( $(date +%s%N) - start )); cat /tmp/r.jsonl' sh "${targets[@]}" --concurrency "$CONCURRENCY"
}

# summary RESULTS...: the figures of runs, each file a run's output from run().
summary() {
  jq -n '[inputs] as $lines
    | ($lines | map(select(type == "number")) | add / 1e9) as $seconds
    | ($lines | map(select(type == "object"))) as $records
    | {images: ($records | length), ok: ($records | map(select(.ok)) | length),
       seconds: ($seconds * 1000 | round / 1000),
       images_per_s: (($records | length) / $seconds * 100 | round / 100),
       per_replica: ($records | group_by(.target) | map({key: .[0].target, value: length}) | from_entries)}' "$@"
}

images=$(find "$DIR" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)
log "$PASSES pass(es) of $images images from $DIR, $CONCURRENCY requests in flight per replica;" \
  "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for pass in $(seq "$PASSES"); do
  run "${URLS[0]}" > "$WORK/one-$pass"
  run "${URLS[@]}" > "$WORK/two-$pass"
  log "pass $pass: one replica $(summary "$WORK/one-$pass" | jq .images_per_s) images/s," \
    "two $(summary "$WORK/two-$pass" | jq .images_per_s) images/s"
done
one=$(summary "$WORK"/one-*)
two=$(summary "$WORK"/two-*)
log "all passes: one replica $(jq .images_per_s <<<"$one") images/s, two $(jq .images_per_s <<<"$two") images/s" \
  "(load average now $(cut -d' ' -f1-3 /proc/loadavg))"
jq -cn --argjson one "$one" --argjson two "$two" '{one: ($one | del(.per_replica)), two: $two}'
