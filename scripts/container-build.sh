#!/bin/bash
# Builds the Lookout container image (Dockerfile at the repository root) with
# docker or podman, whichever is there (LOOKOUT_CONTAINER_ENGINE forces one).
#
#   scripts/container-build.sh [--tag NAME] [ENGINE BUILD OPTIONS...]
#
# --tag NAME   image name (default lookout:latest)
# The model must be in models/ and Chart.js in node_modules/ first
# (scripts/setup fetches both); the image downloads nothing at run time. Further options go to `ENGINE build` as
# they are (e.g. --network=host, --pull=never).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/container-engine.sh
. "$ROOT/scripts/container-engine.sh"

TAG=lookout:latest
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=${2:?--tag needs a name}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

for f in models/mobilenet_ssd_v2_coco_quant_postprocess.tflite models/coco_labels.txt \
         node_modules/chart.js/dist/chart.umd.js; do
  [ -f "$ROOT/$f" ] || { echo "$0: $f is missing; run scripts/setup first" >&2; exit 1; }
done

# podman's default OCI format has no HEALTHCHECK; the docker format keeps it.
[ "$ENGINE" = podman ] && ARGS=(--format docker "${ARGS[@]+"${ARGS[@]}"}")
echo "$0: $ENGINE build -t $TAG ${ARGS[*]+"${ARGS[*]}"} $ROOT" >&2
exec "$ENGINE" build -t "$TAG" "${ARGS[@]+"${ARGS[@]}"}" "$ROOT"
