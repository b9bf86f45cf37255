#!/bin/bash
# Runs the Lookout image (scripts/container-build.sh) with docker or podman,
# whichever is there (LOOKOUT_CONTAINER_ENGINE forces one). In the foreground
# by default: Ctrl-C stops it, the server drains and exits 0.
#
#   [LOOKOUT_...=value...] scripts/container-run.sh [OPTIONS] [ENGINE RUN OPTIONS...]
#
# --port N         host port (default 5029), published to the container's 5029
# --host-network   share the host's network instead (no port mapping; the
#                  server listens on --port, on LOOKOUT_HOST, default 0.0.0.0)
# --detach         run in the background; stop with `ENGINE stop lookout`
# --name NAME      container name (default lookout)
# --image NAME     image (default lookout:latest)
# Every LOOKOUT_* variable set in the environment (LOOKOUT_WORKERS,
# LOOKOUT_API_KEY, LOOKOUT_MAX_QUEUE, ...; see `lookout serve --help`) is
# passed into the container. Further options go to `ENGINE run` as they are.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/container-engine.sh
. "$ROOT/scripts/container-engine.sh"

PORT=5029
NAME=lookout
IMAGE=lookout:latest
HOST_NETWORK=0
DETACH=0
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --host-network) HOST_NETWORK=1; shift ;;
    --detach) DETACH=1; ARGS+=(--detach); shift ;;
    --name) NAME=${2:?--name needs a name}; shift 2 ;;
    --image) IMAGE=${2:?--image needs a name}; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

# The caller's LOOKOUT_* settings, by name (values stay out of the command line).
while IFS='=' read -r var _; do
  [ "$var" = LOOKOUT_CONTAINER_ENGINE ] || [ "$var" = LOOKOUT_PORT ] || ARGS+=(--env "$var")
done < <(env | grep -E '^LOOKOUT_[A-Z0-9_]*=' || true)

if [ "$HOST_NETWORK" -eq 1 ]; then
  ARGS+=(--network host --env "LOOKOUT_PORT=$PORT")
else
  ARGS+=(--publish "$PORT:5029")
fi
# In the foreground at a terminal, Ctrl-C reaches the server.
if [ "$DETACH" -eq 0 ] && [ -t 0 ] && [ -t 1 ]; then ARGS+=(--interactive --tty); fi
exec "$ENGINE" run --rm --name "$NAME" "${ARGS[@]}" "$IMAGE"
