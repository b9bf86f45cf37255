#!/bin/bash
# `make test-container`: builds the container image and smoke-tests it, with
# no Docker daemon and no image registry (Debian's podman, buildah and runc).
#
#   scripts/container-test.sh [--keep]
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
# --keep leaves the temp dir (storage, logs) and prints its path.
# Needs root and the packages of `scripts/setup --container`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "container-test: unknown option: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { echo "container-test: $*" >&2; }
die() { echo "container-test: FAILED: $*" >&2; exit 1; }
START=$SECONDS

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and podman's storage); run it as root or with sudo"
for tool in podman buildah runc debootstrap curl jq; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed; run scripts/setup --container"
done
[ -f data/small/darknet__dog.jpg ] || die "data/small/ has no photos; run scripts/setup"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/lookout-container.XXXXXX")
NAME=lookout-test-$$
cleanup() {
  local rc=$?
  podman rm --force --time 0 "$NAME" >/dev/null 2>&1 || true
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
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
export LOOKOUT_CONTAINER_ENGINE=podman
# No systemd here for the healthcheck timers; `podman healthcheck run` below.
export DISABLE_HC_SYSTEMD=true

# ---- 2. base images from the Debian mirror ------------------------------------
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

# ---- 3. build and run ----------------------------------------------------------
scripts/container-build.sh --pull=never --force-rm > "$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log" >&2; die "the image did not build (log above)"; }
log "image built ($((SECONDS - START)) s): $(podman image inspect --format '{{.Size}}' lookout:latest | numfmt --to=iec) "

# A free loopback port: the kernel's pick for a socket bound to port 0 is
# not reachable from bash, so try random high ports until one is unused.
PORT=
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || die "found no free port on 127.0.0.1"

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

r=$(curl -sS --max-time 60 -H 'Content-Type: image/jpeg' --data-binary "@$DOG" "$URL/api/detect?id=dog.jpg")
check "/api/detect, raw JPEG: dog and bicycle" \
  ".results[0] | .id == \"dog.jpg\" and .status == 200 and .width == 768 and .height == 576
   and ($(labels) | index(\"dog\") and index(\"bicycle\"))" "$r"

r=$(curl -sS --max-time 60 -F "a=@$DOG;filename=dog.jpg;type=image/jpeg" \
  -F "b=@$GIRAFFE;filename=giraffe.jpg;type=image/jpeg" "$URL/api/detect")
check "/api/detect, multipart batch: dog then giraffe" \
  ".summary.ok == 2 and ([.results[].id] == [\"dog.jpg\", \"giraffe.jpg\"])
   and (.results[0] | $(labels) | index(\"dog\")) and (.results[1] | $(labels) | index(\"giraffe\"))" "$r"

r=$(curl -sS --max-time 60 -F "image=@$DOG;type=image/jpeg" -F min_confidence=0.5 "$URL/v1/vision/detection")
check "/v1/vision/detection (DeepStack): dog with its box in pixels" \
  '.success == true and .count >= 2 and (.predictions | map(select(.label == "dog"
   and .confidence >= 0.5 and .x_min < .x_max and .y_max <= 576)) | length == 1)' "$r"

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

log "$((SECONDS - START)) s in all"
echo "container-test: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ] || die "$FAILS smoke check(s) failed"
