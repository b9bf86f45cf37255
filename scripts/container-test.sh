#!/bin/bash
# `make test-container`: builds the container image and smoke-tests it, with
# no Docker daemon and no image registry (Debian's podman, buildah and runc).
#
#   scripts/container-test.sh [--keep] [--reuse DIR]
#
# 1. podman configured for a plain root shell: runc (crun fails on hybrid
#    cgroups), cgroupfs, file events, explicit ulimits, storage in a temp dir.
# 2. Base images: `debootstrap --variant=minbase bookworm` from the Debian
#    mirror apt uses, imported as debian:bookworm and debian:bookworm-slim,
#    so the Dockerfile users build is the one built here.
# 3. scripts/container-build.sh, then scripts/container-run.sh on the host
#    network (loopback only), configured by LOOKOUT_* variables.
# 4. Real photos to /api/detect and /v1/vision/detection, the expected
#    objects checked; the image's HEALTHCHECK run; the user is not root;
#    `lookout run` + `lookout report` work in the image; `podman stop`
#    drains and the server exits 0.
# 5. deploy/k8s's Deployment, rendered by kubectl, played by `podman kube
#    play` (scripts/container-kube-play.sh): the pod runs as the manifest
#    says (user, read-only root, capabilities, seccomp, env, CPU and memory
#    in its cgroups), its liveness probe (podman's healthcheck) passes, the
#    readiness probe's request answers, real photos through its hostPort,
#    and it stops cleanly. What podman 4.3 does not apply is named.
# 6. Scale-out: bench/k8s-scale-out.sh, one pass (two replicas, one core each).
# --keep leaves the temp dir (storage, logs) and prints its path.
# --reuse DIR keeps podman's storage in DIR and makes the base images and the
#   image only when DIR has none: for trying changes to the tests without a
#   rebuild (delete DIR, or `podman rmi lookout` with its storage, to rebuild).
# Needs root and the packages of `scripts/setup --container`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KEEP=0
REUSE=
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1; shift ;;
    --reuse) REUSE=${2:?--reuse needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "container-test: unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done

log() { echo "container-test: $*" >&2; }
die() { echo "container-test: FAILED: $*" >&2; exit 1; }
START=$SECONDS

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and podman's storage); run it as root or with sudo"
for tool in podman buildah runc catatonit debootstrap curl jq kubectl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed; run scripts/setup --container"
done
[ -f data/small/darknet__dog.jpg ] || die "data/small/ has no photos; run scripts/setup"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/lookout-container.XXXXXX")
STORE=${REUSE:-$WORK}
mkdir -p "$STORE"
NAME=lookout-test-$$
KUBE_NAME=lookout-kube-$$
cleanup() {
  local rc=$?
  podman rm --force --time 0 "$NAME" >/dev/null 2>&1 || true
  podman pod rm --force --time 0 "$KUBE_NAME-pod-0" >/dev/null 2>&1 || true
  if [ -n "$REUSE" ]; then
    rm -rf "$WORK"
    exit "$rc"
  fi
  if [ "$KEEP" -eq 1 ]; then
    log "kept $WORK (CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF)"
    exit "$rc"
  fi
  podman rmi --all --force >/dev/null 2>&1 || true
  buildah rm --all >/dev/null 2>&1 || true
  # Whatever overlay mounts are left under the temp dir, innermost first.
  awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# ---- 1. podman without a daemon, systemd or registry --------------------------
NOFILE=$(ulimit -Hn)
cat > "$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat > "$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$STORE/storage"
runroot = "$STORE/run"
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
export LOOKOUT_CONTAINER_ENGINE=podman
# shellcheck source=scripts/container-engine.sh
. "$ROOT/scripts/container-engine.sh"
# No systemd here for the healthcheck timers; `podman healthcheck run` below.
export DISABLE_HC_SYSTEMD=true

# ---- 2. base images from the Debian mirror ------------------------------------
if podman image exists docker.io/library/debian:bookworm-slim; then
  log "base images already in $STORE"
else
  # shellcheck disable=SC2016 # apt expands these, not the shell
  MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(COMPONENT)' 2>/dev/null |
    awk '$2 == "bookworm" && $3 == "main" { print $1; exit }')
  MIRROR=${MIRROR:-http://deb.debian.org/debian/}
  log "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # Like Docker's debian images: no package lists or .deb cache inside.
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  tar -C "$WORK/rootfs" -c . | podman import --quiet - docker.io/library/debian:bookworm-slim >/dev/null
  podman tag docker.io/library/debian:bookworm-slim docker.io/library/debian:bookworm
  rm -rf "$WORK/rootfs"
  log "base images ready ($((SECONDS - START)) s)"
fi

# ---- 3. build and run ----------------------------------------------------------
if [ -n "$REUSE" ] && podman image exists lookout:latest; then
  log "reusing the image in $STORE"
else
  scripts/container-build.sh --pull=never --force-rm > "$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log" >&2; die "the image did not build (log above)"; }
fi
log "image ready ($((SECONDS - START)) s): $(podman image inspect --format '{{.Size}}' lookout:latest | numfmt --to=iec) "

PORT=$(free_loopback_port) || die "found no free port on 127.0.0.1"

# --read-only: as the Kubernetes Deployment runs it (readOnlyRootFilesystem).
LOOKOUT_HOST=127.0.0.1 LOOKOUT_WORKERS=2 \
  scripts/container-run.sh --host-network --port "$PORT" --detach --name "$NAME" --read-only >/dev/null
podman wait "$NAME" > "$WORK/exit-code" 2>/dev/null &
WAIT_PID=$!
URL="http://127.0.0.1:$PORT"

ready=0
for _ in $(seq 240); do
  if curl -fsS -o /dev/null --max-time 2 "$URL/v2/health/ready" 2>/dev/null; then ready=1; break; fi
  [ "$(podman inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] ||
    { podman logs "$NAME" >&2 || true; die "the container exited before it was ready (its log above)"; }
  sleep 0.5
done
[ "$ready" -eq 1 ] || { podman logs "$NAME" >&2; die "not ready on $URL/v2/health/ready within 120 s (log above)"; }
log "container ready on $URL ($((SECONDS - START)) s)"

# ---- 4. the smoke test -------------------------------------------------------
PASSES=0
FAILS=0
# check NAME JQ_FILTER JSON: the filter must yield true.
check() {
  if jq -e "$2" <<<"$3" >/dev/null 2>&1; then
    log "ok: $1"
    PASSES=$((PASSES + 1))
  else
    log "NOT OK: $1; the answer was: $(head -c 2000 <<<"$3")"
    FAILS=$((FAILS + 1))
  fi
}
labels() { echo "[.detections[] | select(.score >= 0.5) | .label]"; }

DOG=data/small/darknet__dog.jpg
GIRAFFE=data/small/darknet__giraffe.jpg

# check_detection URL WHERE: real photos to both detection APIs at URL.
check_detection() {
  local r
  r=$(curl -sS --max-time 60 -H 'Content-Type: image/jpeg' --data-binary "@$DOG" "$1/api/detect?id=dog.jpg")
  check "$2/api/detect, raw JPEG: dog and bicycle" \
    ".results[0] | .id == \"dog.jpg\" and .status == 200 and .width == 768 and .height == 576
     and ($(labels) | index(\"dog\") and index(\"bicycle\"))" "$r"

  r=$(curl -sS --max-time 60 -F "a=@$DOG;filename=dog.jpg;type=image/jpeg" \
    -F "b=@$GIRAFFE;filename=giraffe.jpg;type=image/jpeg" "$1/api/detect")
  check "$2/api/detect, multipart batch: dog then giraffe" \
    ".summary.ok == 2 and ([.results[].id] == [\"dog.jpg\", \"giraffe.jpg\"])
     and (.results[0] | $(labels) | index(\"dog\")) and (.results[1] | $(labels) | index(\"giraffe\"))" "$r"

  r=$(curl -sS --max-time 60 -F "image=@$DOG;type=image/jpeg" -F min_confidence=0.5 "$1/v1/vision/detection")
  check "$2/v1/vision/detection (DeepStack): dog with its box in pixels" \
    '.success == true and .count >= 2 and (.predictions | map(select(.label == "dog"
     and .confidence >= 0.5 and .x_min < .x_max and .y_max <= 576)) | length == 1)' "$r"
}
check_detection "$URL" ""

r=$(curl -sS --max-time 10 "$URL/" | jq -Rs .)
check "the web UI at / is in the image" 'test("<title>Lookout</title>")' "$r"

r=$(curl -sS --max-time 10 "$URL/api/model")
check "/api/model: 300x300 input, LOOKOUT_WORKERS=2 taken from the environment" \
  '.input.width == 300 and .input.height == 300 and .workers == 2' "$r"

if podman healthcheck run "$NAME" >/dev/null 2>&1; then
  log "ok: the image's HEALTHCHECK (curl /healthz inside the container) passes"
  PASSES=$((PASSES + 1))
else
  log "NOT OK: the image's HEALTHCHECK fails"; FAILS=$((FAILS + 1))
fi

uid=$(podman exec "$NAME" id -u)
check "runs as a non-root user (uid $uid)" ". != 0" "$uid"

# `lookout report` works in the image (Chart.js compiled in): a local run
# over the photos, mounted read-only, then the page, in a second container.
# The last line is the figures as JSON, or the error that stopped it.
photos=$(find data/small -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)
# shellcheck disable=SC2016 # expanded by the container's shell
r=$(podman run --rm --network none --read-only --tmpfs /tmp -v "$ROOT/data/small:/photos:ro" \
  --entrypoint sh lookout:latest -c 'lookout run /photos --target local --out /tmp/r.jsonl --quiet >/dev/null &&
    lookout report /tmp/r.jsonl -o /tmp/r.html >/dev/null &&
    printf "{\"records\": %s, \"canvases\": %s, \"chart_js\": %s}" "$(wc -l < /tmp/r.jsonl)" \
      "$(grep -o "<canvas" /tmp/r.html | wc -l)" "$(grep -c "Chart.js v4" /tmp/r.html)"' 2>&1 | tail -n 1) || true
check "lookout run + lookout report in the image: $photos results, a page with its charts and Chart.js inlined" \
  ".records == $photos and .canvases >= 2 and .chart_js >= 1" "$r"

podman stop --time 20 "$NAME" >/dev/null
wait "$WAIT_PID" || true
code=$(tr -d '[:space:]' < "$WORK/exit-code")
check "podman stop: the server drains and exits 0 (exit code ${code:-unknown})" '. == 0' "${code:-1}"

# ---- 5. the Kubernetes Deployment, played by podman --------------------------
KUBE=$WORK/deployment.json
URL=$(scripts/container-kube-play.sh --name "$KUBE_NAME" --port 0 --wait --out "$KUBE") ||
  die "deploy/k8s's Deployment, played by podman kube play, did not get ready"
CTR=$KUBE_NAME-pod-0-$(jq -r '.spec.template.spec.containers[0].name' "$KUBE")
log "deploy/k8s's Deployment played by podman kube play, ready on $URL ($((SECONDS - START)) s)"
podman wait "$CTR" > "$WORK/kube-exit-code" 2>/dev/null &
KUBE_WAIT_PID=$!
# What the manifest says, and what the running server process has.
M=$(jq '.spec.template.spec | {pod: .securityContext, c: .containers[0]}' "$KUBE")
PID=$(podman inspect --format '{{.State.Pid}}' "$CTR")
PROC=$(grep -E '^(Uid|Gid|CapEff|NoNewPrivs|Seccomp):' "/proc/$PID/status" |
  jq -Rn --argjson env "$(tr '\0' '\n' < "/proc/$PID/environ" | jq -Rs 'split("\n")')" \
    '[inputs | capture("^(?<k>[^:]+):\\s+(?<v>.*)$") | {(.k): .v}] | add + {env: $env}')
both() { jq -n --argjson m "$M" --argjson p "$1" '{m: $m, p: $p}'; }

path=$(jq -r '.c.readinessProbe.httpGet | "\(.path) on port \(.port)"' <<<"$M")
r=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL$(jq -r '.c.readinessProbe.httpGet.path' <<<"$M")")
check "readinessProbe (GET $path): 200, sent through the hostPort (podman 4.3 runs no readiness probes)" \
  '. == 200' "$r"
path=$(jq -r '.c.livenessProbe.httpGet | "http://localhost:\(.port)\(.path)"' <<<"$M")
check "livenessProbe: podman's healthcheck is GET $path" \
  "(.Test | join(\" \") | contains(\"$path\"))" "$(podman inspect --format '{{json .Config.Healthcheck}}' "$CTR")"
# No systemd here for its timer: run once, as the timer would.
podman healthcheck run "$CTR" >/dev/null 2>&1 || true
check "livenessProbe run by podman (curl inside the container): healthy" \
  '.Status == "healthy"' "$(podman inspect --format '{{json .State.Health}}' "$CTR")"

check_detection "$URL" "kube play: "
r=$(curl -sS --max-time 10 "$URL/api/model")
check "kube play: /api/model reports the manifest's LOOKOUT_WORKERS" \
  ".workers == $(jq '.c.env[] | select(.name == "LOOKOUT_WORKERS") | .value | tonumber' <<<"$M")" "$r"
check "kube play: the server's environment has every env value the manifest sets" \
  '[.m.c.env[] | select(has("value")) | "\(.name)=\(.value)"] - .p.env == []' "$(both "$PROC")"
check "kube play: runs as runAsUser:runAsGroup ($(jq -r '.pod | "\(.runAsUser):\(.runAsGroup)"' <<<"$M")), not root" \
  '(.p.Uid | split("\t") | unique) == [.m.pod.runAsUser | tostring] and .m.pod.runAsUser != 0
   and (.p.Gid | split("\t") | unique) == [.m.pod.runAsGroup | tostring]' "$(both "$PROC")"
check "kube play: capabilities drop ALL: none effective" \
  '.m.c.securityContext.capabilities.drop == ["ALL"] and .p.CapEff == "0000000000000000"' "$(both "$PROC")"
check "kube play: allowPrivilegeEscalation false: no_new_privs set" \
  '.m.c.securityContext.allowPrivilegeEscalation == false and .p.NoNewPrivs == "1"' "$(both "$PROC")"
check "kube play: seccompProfile RuntimeDefault: a seccomp filter on" \
  '.m.pod.seccompProfile.type == "RuntimeDefault" and .p.Seccomp == "2"' "$(both "$PROC")"
r=$(podman exec "$CTR" touch /tmp/written 2>&1 | jq -Rs .) || true
check "kube play: readOnlyRootFilesystem: even /tmp is not writable" \
  '.m.c.securityContext.readOnlyRootFilesystem == true and (.p | test("Read-only file system"))' "$(both "$r")"

# Resources, as the container's cgroups hold them (v1 here; v2 names too).
# cgroup_value V1_CONTROLLER V1_FILE V2_FILE
cgroup_value() {
  local dir
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    dir=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$PID/cgroup")
    cat "$dir/$3"
  else
    dir=/sys/fs/cgroup/$1$(awk -F: -v c="$1" '$2 ~ "(^|,)" c "(,|$)" { print $3 }' "/proc/$PID/cgroup")
    cat "$dir/$2"
  fi
}
cores() { jq -r "$1 | if endswith(\"m\") then (.[:-1] | tonumber) / 1000 else tonumber end" <<<"$M"; }
bytes() { numfmt --from=auto "$(jq -r "$1" <<<"$M")"; }
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  read -r quota period < <(cgroup_value cpu - cpu.max)
else
  quota=$(cgroup_value cpu cpu.cfs_quota_us -) period=$(cgroup_value cpu cpu.cfs_period_us -)
fi
check "kube play: limits.cpu $(cores .c.resources.limits.cpu): CFS quota $quota per $period us" \
  ". == $(cores .c.resources.limits.cpu) * $period" "$quota"
check "kube play: limits.memory $(jq -r .c.resources.limits.memory <<<"$M"): the cgroup's memory limit" \
  ". == $(bytes .c.resources.limits.memory)" "$(cgroup_value memory memory.limit_in_bytes memory.max)"
check "kube play: requests.memory $(jq -r .c.resources.requests.memory <<<"$M"): the cgroup's soft limit" \
  ". == $(bytes .c.resources.requests.memory)" "$(cgroup_value memory memory.soft_limit_in_bytes memory.low)"
log "not applied by podman 4.3: requests.cpu (no CPU weight set; the limit above is what holds);" \
  "runAsNonRoot (not verified: a uid 0 pod would start; the uid above is what holds);" \
  "readinessProbe (sent from here, above); terminationGracePeriodSeconds (given to podman pod stop);" \
  "replicas (one pod per hostPort; two in 6.); the Service and the HPA (not played; the hostPort stands in)"

scripts/container-kube-play.sh --name "$KUBE_NAME" --down
wait "$KUBE_WAIT_PID" || true
code=$(tr -d '[:space:]' < "$WORK/kube-exit-code")
check "kube play: stopped (SIGTERM, its grace period): the server drains and exits 0 (exit code ${code:-unknown})" \
  '. == 0' "${code:-1}"
podman pod exists "$KUBE_NAME-pod-0" && r=true || r=false
check "kube play: podman kube down removed the pod" '. == false' "$r"

# ---- 6. scale-out over two replicas ------------------------------------------
r=$(bench/k8s-scale-out.sh --passes 1 --name "$KUBE_NAME" 2> "$WORK/scale-out.log" | tail -n 1) ||
  { cat "$WORK/scale-out.log" >&2; r='{}'; }
check "scale-out: every photo answered by one replica, then by two (each served some) sharing one queue" \
  "(.one.ok == $photos) and (.two.ok == $photos) and ((.two.per_replica | length) == 2)
   and all(.two.per_replica[]; . > 0)" "$r"

log "$((SECONDS - START)) s in all"
echo "container-test: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ] || die "$FAILS smoke check(s) failed"
