#!/bin/bash
# Runs the Kubernetes Deployment of deploy/k8s/ on this machine with
# `podman kube play`: kubectl renders the kustomization, and the Deployment
# is played as it is but for what a lone machine needs instead of a cluster.
#
#   scripts/container-kube-play.sh [OPTIONS]
#
# --port N       host port for the container's 5029 (hostPort; default 5029;
#                0 = a free one). There is no Service here: this stands in.
# --host-ip IP   address the host port is on (default 127.0.0.1)
# --name NAME    the Deployment's name (default lookout): one per port
# --cpus N       CPU request and limit, and LOOKOUT_WORKERS to match
#                (default: the manifest's)
# --cpuset CPUS  pin the container to these cores (podman update --cpuset-cpus)
# --image NAME   the image (default: the manifest's, lookout:latest, which
#                scripts/container-build.sh tags)
# --wait         return once the readiness probe's path answers 200 (at most 300 s)
# --out FILE     keep the manifest played in FILE (JSON)
# --down         stop what the same --name played, as a kubelet would (SIGTERM,
#                terminationGracePeriodSeconds, then SIGKILL), and remove it
# One replica per name: one host port cannot be shared. Prints the URL.
# podman only (docker has no kube play); podman 4.3 needs catatonit for the
# pod's pause process.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOOKOUT_CONTAINER_ENGINE=podman
# shellcheck source=scripts/container-engine.sh
. "$ROOT/scripts/container-engine.sh"

PORT=5029
HOST_IP=127.0.0.1
NAME=lookout
CPUS=
CPUSET=
IMAGE=
WAIT=0
OUT=
DOWN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --host-ip) HOST_IP=${2:?--host-ip needs an address}; shift 2 ;;
    --name) NAME=${2:?--name needs a name}; shift 2 ;;
    --cpus) CPUS=${2:?--cpus needs a number}; shift 2 ;;
    --cpuset) CPUSET=${2:?--cpuset needs a list of cores}; shift 2 ;;
    --image) IMAGE=${2:?--image needs a name}; shift 2 ;;
    --wait) WAIT=1; shift ;;
    --out) OUT=${2:?--out needs a file}; shift 2 ;;
    --down) DOWN=1; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for tool in kubectl python3 jq curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool is not installed; run scripts/setup --container" >&2; exit 1; }
done
if [ "$PORT" = 0 ]; then
  PORT=$(free_loopback_port) || { echo "$0: found no free port on 127.0.0.1" >&2; exit 1; }
fi

MANIFEST=$(mktemp "${TMPDIR:-/tmp}/lookout-kube.XXXXXX")
trap 'rm -f "$MANIFEST"' EXIT
# The rendered Deployment as JSON (YAML's subset, which kube play reads).
kubectl kustomize "$ROOT/deploy/k8s" |
  python3 -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))' |
  jq --arg name "$NAME" --argjson port "$PORT" --arg ip "$HOST_IP" --arg cpus "$CPUS" --arg image "$IMAGE" '
    def with_workers($n): .env |= map(if .name == "LOOKOUT_WORKERS" then .value = $n else . end);
    .[] | select(.kind == "Deployment")
    | .metadata.name = $name | .spec.replicas = 1
    | .spec.template.spec.containers[0] |= (
        .ports |= map(if .containerPort == 5029 then . + {hostPort: $port, hostIP: $ip} else . end)
        | if $image != "" then .image = $image else . end
        | if $cpus != "" then .resources.requests.cpu = $cpus | .resources.limits.cpu = $cpus
            | with_workers($cpus) else . end)' > "$MANIFEST"
[ -s "$MANIFEST" ] || { echo "$0: kubectl kustomize deploy/k8s rendered no Deployment" >&2; exit 1; }
[ -z "$OUT" ] || cp "$MANIFEST" "$OUT"

POD=$NAME-pod-0
CONTAINER="$POD-$(jq -r '.spec.template.spec.containers[0].name' "$MANIFEST")"
if [ "$DOWN" -eq 1 ]; then
  # podman 4.3's kube down sends SIGKILL at once (podman#22397, fixed in 5.1):
  # pod stop first, with the grace period kube play leaves unused.
  GRACE=$(jq '.spec.template.spec.terminationGracePeriodSeconds // 30' "$MANIFEST")
  if podman pod exists "$POD"; then
    podman pod stop --time "$GRACE" "$POD" >/dev/null
    podman kube down "$MANIFEST" >/dev/null
  fi
  exit 0
fi

podman kube play "$MANIFEST" >/dev/null
[ -z "$CPUSET" ] || podman update --cpuset-cpus "$CPUSET" "$CONTAINER" >/dev/null
URL="http://$HOST_IP:$PORT"
# kube play has no readiness probes: their request, sent from here.
READY_PATH=$(jq -r '.spec.template.spec.containers[0].readinessProbe.httpGet.path' "$MANIFEST")
if [ "$WAIT" -eq 1 ]; then
  DEADLINE=$((SECONDS + 300))
  until curl -fsS -o /dev/null --max-time 2 "$URL$READY_PATH" 2>/dev/null; do
    if [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" != true ]; then
      podman logs "$CONTAINER" >&2 || true
      echo "$0: $CONTAINER stopped before it was ready (its log above)" >&2
      exit 1
    fi
    [ "$SECONDS" -lt "$DEADLINE" ] || { echo "$0: $CONTAINER not ready on $URL$READY_PATH within 300 s" >&2; exit 1; }
    sleep 0.5
  done
fi
echo "$URL"
