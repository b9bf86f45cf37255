# shellcheck shell=bash
# Sourced by the container-*.sh scripts: sets ENGINE to the container engine
# to use. LOOKOUT_CONTAINER_ENGINE=docker|podman forces one; otherwise docker
# when its daemon answers, else podman (daemonless), else an error that says
# what to install.
if [ -n "${LOOKOUT_CONTAINER_ENGINE:-}" ]; then
  ENGINE=$LOOKOUT_CONTAINER_ENGINE
  command -v "$ENGINE" >/dev/null 2>&1 || { echo "$0: LOOKOUT_CONTAINER_ENGINE=$ENGINE is not installed" >&2; exit 1; }
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  ENGINE=docker
elif command -v podman >/dev/null 2>&1; then
  ENGINE=podman
else
  echo "$0: neither a running docker nor podman found; install one (Debian: apt-get install podman runc)," \
       "or set LOOKOUT_CONTAINER_ENGINE" >&2
  exit 1
fi

# A free port on 127.0.0.1, on stdout: the kernel's pick for a socket bound to
# port 0 is not reachable from bash, so try random high ports until one is unused.
free_loopback_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
