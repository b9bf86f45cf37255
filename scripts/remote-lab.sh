#!/bin/bash
# remote-lab.sh: a reproducible "remote machine" on this one: `lookout serve`
# in its own network namespace behind a veth pair, CPU-limited, with the
# link's bandwidth shaped in the kernel (tc tbf, both directions) and a
# round-trip delay (netem where the kernel has it; otherwise
# lookout-delay-proxy in front of the server holds every chunk for RTT/2
# each way: data exchanges pay the RTT, the TCP handshake does not).
#
#   scripts/remote-lab.sh up     [--name NAME] [--rate 20mbit] [--rtt 40ms] [--cpus 1] [--cpu-quota CORES]
#                                [--port 5029] [--bin-dir DIR] [-- SERVE-ARGS...]
#   scripts/remote-lab.sh set    [--name NAME] [--rate RATE] [--rtt RTT] [--cpu-quota CORES|max]
#   scripts/remote-lab.sh status [--name NAME]
#   scripts/remote-lab.sh down   [--name NAME]
#
# up       prints the server's URL (http://10.77.N.2:PORT) on stdout once
#          /v2/health/ready answers 200 through the shaped link.
# set      changes rate, RTT and/or CPU quota of a running lab (connections stay up).
# status   the lab's settings, processes and qdiscs (with counters); exit 3 if down.
# down     stops the processes, deletes the namespace and the veth pair;
#          safe to run twice; removes the CPU quota's cgroup. Logs stay in /tmp/lookout-lab-NAME/.
#
# --name     several labs can run at once, each with its own /30 (10.77.N.0/30;
#            the host side is 10.77.N.1, the server 10.77.N.2). Default: default.
# --rate     tc rate: NUMBER followed by bit, kbit, mbit or gbit (per direction).
# --rtt      round-trip delay: NUMBER followed by ms, us or s (0 = none).
# --cpus     the server runs on the last N CPUs (taskset), one detector each.
# --cpu-quota  and gets at most CORES CPUs' worth of time on them (e.g. 0.5: a
#            remote half as fast), in a cgroup of its own (v2 cpu.max or v1
#            cpu.cfs_quota_us, 1 ms per period); max or none lifts it. Needs
#            a cgroup cpu controller. The delay proxy (the network) is not capped.
# --port     the server's port. --bin-dir: where lookout and
#            lookout-delay-proxy are (default: build/ of this repository).
# After --, arguments go to `lookout serve` (e.g. -- --max-queue 16).
#
# Needs root (network namespaces, tc) and iproute2, util-linux, curl.
# Exit codes: 0 done, 1 failed (the message says why), 2 bad arguments, 3 status: lab is down.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=remote-lab.sh
LOCK=/tmp/lookout-lab.lock
READY_TIMEOUT_S=${LOOKOUT_LAB_READY_TIMEOUT:-180}

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$0 --help' for usage" >&2; exit 2; }
usage() { sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
COMMAND=$1
shift
case "$COMMAND" in
  -h|--help|help) usage; exit 0 ;;
  up|down|status|set) ;;
  *) usage_error "unknown command '$COMMAND' (up, set, status or down)" ;;
esac

NAME=default RATE="" RTT="" CPUS=1 PORT=5029 BIN_DIR="$ROOT/build" QUOTA=""
SERVE_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --rate) RATE=${2:?--rate needs a value}; shift 2 ;;
    --rtt) RTT=${2:?--rtt needs a value}; shift 2 ;;
    --cpus) CPUS=${2:?--cpus needs a value}; shift 2 ;;
    --cpu-quota) QUOTA=${2:?--cpu-quota needs a value}; shift 2 ;;
    --port) PORT=${2:?--port needs a value}; shift 2 ;;
    --bin-dir) BIN_DIR=${2:?--bin-dir needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; SERVE_ARGS=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done

[[ "$NAME" =~ ^[A-Za-z0-9_-]{1,40}$ ]] || usage_error "--name '$NAME': use 1-40 letters, digits, _ or -"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || usage_error "--port '$PORT': a TCP port 1-65535"

RUN=/tmp/lookout-lab-$NAME
NS=lookout-lab-$NAME
STATE=$RUN/state

# --rate -> bits per second (tc's units: bit, kbit, mbit, gbit; decimal).
rate_bps() {
  [[ "$1" =~ ^([0-9]+(\.[0-9]+)?)(bit|kbit|mbit|gbit)$ ]] || usage_error "--rate '$1': NUMBER with bit, kbit, mbit or gbit (e.g. 20mbit)"
  awk -v n="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[3]}" 'BEGIN {
    m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : (u == "kbit") ? 1e3 : 1
    printf "%.0f\n", n * m }'
}
# --rtt -> microseconds.
rtt_us() {
  [[ "$1" =~ ^([0-9]+(\.[0-9]+)?)(ms|us|s)$ ]] || [ "$1" = 0 ] || usage_error "--rtt '$1': NUMBER with ms, us or s (e.g. 40ms)"
  [ "$1" = 0 ] && { echo 0; return; }
  awk -v n="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[3]}" 'BEGIN {
    m = (u == "s") ? 1e6 : (u == "ms") ? 1e3 : 1
    printf "%.0f\n", n * m }'
}

# --cpu-quota -> CORES, or "none" for max/none (no quota).
quota_cores() {
  case "$1" in max|none) echo none; return ;; esac
  if ! [[ "$1" =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v c="$1" -v n="$(nproc)" 'BEGIN { exit !(c >= 0.001 && c <= n) }'; then
    usage_error "--cpu-quota '$1': CORES from 0.001 to $(nproc) (this machine's CPUs), e.g. 0.5; or max"
  fi
  echo "$1"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root for network namespaces and tc: run it as root (sudo $0 $COMMAND ...)"
  local tool
  for tool in ip tc taskset flock curl setsid; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found: run scripts/setup (it installs iproute2, util-linux, curl)"
  done
}

# The CPU quota's cgroup. cg_place prints "VERSION DIR": the cgroup version
# and the directory the lab's group is made in (under this script's own
# cgroup; on v2 beside it when it has processes, which keep a v2 group from
# giving controllers to children). Dies saying why when there is none.
cg_place() {
  local self path mount point root
  self=/proc/$$/cgroup
  # Never inside a caller's own CPU quota (`lookout map` caps itself with a
  # group named lookout-cpu-PID, then calls `set`): the server stands for
  # another machine, and a v1 parent's quota would cap it too.
  local under_quota=0
  # v1: the hierarchy with the cpu controller.
  path=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' "$self")
  case $path in */lookout-cpu-*) path=${path%%/lookout-cpu-*}; path=${path:-/}; under_quota=1 ;; esac
  mount=$(awk '{ for (i = 7; i < NF && $i != "-"; i++); if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)cpu(,|$)/) { print $4, $5; exit } }' /proc/self/mountinfo)
  if [ -n "$path" ] && [ -n "$mount" ]; then
    read -r root point <<<"$mount"
    [ "$root" = / ] || path=${path#"$root"}
    path=${point%/}$path
    echo "1 ${path%/}"
    return
  fi
  # v2: the unified hierarchy, if it has the cpu controller.
  path=$(awk -F: '$1 == 0 && $2 == "" { print $3; exit }' "$self")
  case $path in */lookout-cpu-*) path=${path%%/lookout-cpu-*}; path=${path:-/}; under_quota=1 ;; esac
  mount=$(awk '{ for (i = 7; i < NF && $i != "-"; i++); if ($(i+1) == "cgroup2") { print $4, $5; exit } }' /proc/self/mountinfo)
  { [ -n "$mount" ] && [ -n "$path" ]; } ||
    die "--cpu-quota needs a cgroup cpu controller: none mounted (neither cgroup v1 'cpu' nor cgroup v2; see /proc/self/mountinfo)"
  read -r root point <<<"$mount"
  grep -qw cpu "$point/cgroup.controllers" ||
    die "--cpu-quota needs a cgroup cpu controller: cgroup v2 at $point has none in cgroup.controllers, and no v1 'cpu' hierarchy is mounted"
  [ "$root" = / ] || path=${path#"$root"}
  # The group goes beside this script's own (a v2 group with processes can
  # give no controller to its children, the root excepted), and every group
  # from the root down to its parent hands cpu on.
  local top=${point%/} base dir chain=()
  base=${top}$path
  base=${base%/}
  # (A caller's quota group already sits beside the caller's own group.)
  [ "$base" = "$top" ] || [ "$under_quota" = 1 ] || base=$(dirname "$base")
  dir=$base
  while :; do
    chain=("$dir" "${chain[@]}")
    { [ "$dir" = "$top" ] || [ "$dir" = / ]; } && break
    dir=$(dirname "$dir")
  done
  for dir in "${chain[@]}"; do
    grep -qw cpu "$dir/cgroup.subtree_control" && continue
    { echo +cpu >"$dir/cgroup.subtree_control"; } 2>/dev/null ||
      die "--cpu-quota: cannot enable the cpu controller in $dir/cgroup.subtree_control (cgroup v2: a group with processes of its own gives no controller to its children): run it from a cgroup whose parent can"
  done
  echo "2 $base"
}

cg_write() {
  { printf '%s\n' "$2" >"$1"; } 2>/dev/null || die "cannot write '$2' to $1"
}

# Makes the lab's group (CGROUP, CGROUP_V) unless there is one.
cg_make() {
  [ -z "${CGROUP:-}" ] || return 0
  local place
  place=$(cg_place)
  CGROUP_V=${place%% *}
  CGROUP=${place#* }/lookout-lab-$NAME
  mkdir -p "$CGROUP" 2>/dev/null || die "cannot make the cgroup $CGROUP (read-only cgroup filesystem? in a container, run it privileged)"
}

# Sets the quota of $CGROUP to $1 CORES, or none. The period is as short as
# the kernel allows (a quota of at least 1 ms): 2 ms for 0.5 CPU. A 10 ms
# period slowed the server's ~10 ms inference only 1.0-1.2x at 0.5 CPU;
# 2 ms, 2.1x (see src/client/cpu_quota.cc).
cg_set_quota() {
  local period quota
  # A quota of all the server's CPUs (--cpus) caps nothing, yet periods of a
  # millisecond still throttle it in bursts: lift it instead.
  if [ "$1" = none ] || awk -v c="$1" -v n="$CPUS" 'BEGIN { exit !(c >= n) }'; then
    if [ "$CGROUP_V" = 2 ]; then cg_write "$CGROUP/cpu.max" "max"; else cg_write "$CGROUP/cpu.cfs_quota_us" -1; fi
    return
  fi
  read -r quota period < <(awk -v c="$1" 'BEGIN {
    p = int(1000 / c + 0.999999); if (p < 1000) p = 1000; if (p > 1000000) p = 1000000
    q = int(c * p + 0.5); if (q < 1000) q = 1000
    print q, p }')
  if [ "$CGROUP_V" = 2 ]; then
    cg_write "$CGROUP/cpu.max" "$quota $period"
  else
    # A new period is checked against the quota in force: lift it first.
    cg_write "$CGROUP/cpu.cfs_quota_us" -1
    cg_write "$CGROUP/cpu.cfs_period_us" "$period"
    cg_write "$CGROUP/cpu.cfs_quota_us" "$quota"
  fi
}

# The quota as the kernel has it, e.g. "cpu.max 5000 10000".
cg_show() {
  if [ "$CGROUP_V" = 2 ]; then
    echo "cpu.max $(cat "$CGROUP/cpu.max")"
  else
    echo "cpu.cfs_quota_us $(cat "$CGROUP/cpu.cfs_quota_us") cpu.cfs_period_us $(cat "$CGROUP/cpu.cfs_period_us")"
  fi
}

cg_remove() {
  [ -n "${CGROUP:-}" ] && [ -d "$CGROUP" ] || return 0
  # The server's threads leave the group as they exit.
  for _ in $(seq 1 50); do
    rmdir "$CGROUP" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$PROG: could not remove the cgroup $CGROUP (processes still in it: $(tr '\n' ' ' <"$CGROUP/cgroup.procs"))" >&2
}

load_state() {
  [ -f "$STATE" ] || return 1
  # shellcheck disable=SC1090
  . "$STATE"
}

# tbf for one direction: rate, a burst of 2 ms of traffic (at least 10
# full-size frames) and a queue of up to 200 ms. The queue is long because
# the delay proxy acknowledges at once: TCP sees no round trip, so its window
# outgrows a short queue. With 50 ms, a third of a 10 mbit upload's packets
# are dropped and resent, adding ~20 ms per request and scattering the link
# fit (r2 0.945); with 200 ms none are (r2 1.000).
tbf_args() {
  local bps=$1
  local burst=$(( bps / 8 / 500 ))
  [ "$burst" -ge 15140 ] || burst=15140
  echo "rate ${bps}bit burst ${burst} latency 200ms"
}

# Applies rate and delay on both veth ends ($1 = add or change).
shape() {
  local verb=$1 bps=$2 one_way_us=$3
  local ns_tc=(ip netns exec "$NS" tc)
  # shellcheck disable=SC2046
  if [ "$MODE" = netem ]; then
    tc qdisc "$verb" dev "$HOST_IF" root handle 1: netem delay "${one_way_us}us"
    tc qdisc "$verb" dev "$HOST_IF" parent 1:1 handle 10: tbf $(tbf_args "$bps")
    "${ns_tc[@]}" qdisc "$verb" dev "$NS_IF" root handle 1: netem delay "${one_way_us}us"
    "${ns_tc[@]}" qdisc "$verb" dev "$NS_IF" parent 1:1 handle 10: tbf $(tbf_args "$bps")
  else
    tc qdisc "$verb" dev "$HOST_IF" root handle 1: tbf $(tbf_args "$bps")
    "${ns_tc[@]}" qdisc "$verb" dev "$NS_IF" root handle 1: tbf $(tbf_args "$bps")
  fi
}

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# ", CPU quota 0.5" when the server is capped.
quota_text() {
  [ "${CPU_QUOTA:-none}" = none ] || echo ", CPU quota $CPU_QUOTA"
}

cmd_down() {
  need_root
  local pid
  if load_state; then
    for pid in ${PROXY_PID:-} ${SERVE_PID:-}; do stop_pid "$pid"; done
  fi
  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do stop_pid "$pid"; done
    ip netns del "$NS"
  fi
  # Deleting the namespace deletes its veth end and with it the pair, in the
  # background: the host end may still be there, or vanish under our feet.
  if [ -n "${HOST_IF:-}" ]; then ip link del "$HOST_IF" 2>/dev/null || true; fi
  cg_remove
  rm -f "$STATE" "$RUN/delay_ms"
  echo "$PROG: lab '$NAME' is down" >&2
}

# Lowest N in 0-255 that no running lab and no interface uses.
free_index() {
  local n used="" st lab
  # Indices of labs that are up (a state file left by a killed run does not count).
  for st in /tmp/lookout-lab-*/state; do
    [ -f "$st" ] || continue
    lab=${st%/state}
    ip netns list | awk '{print $1}' | grep -qx "${lab#/tmp/}" || continue
    used+="$(sed -n 's/^INDEX=//p' "$st")"$'\n'
  done
  for n in $(seq 0 255); do
    grep -qx "$n" <<<"$used" && continue
    ip link show "lkl${n}h" >/dev/null 2>&1 && continue
    ip -o addr show | grep -q " 10\.77\.$n\.1/" && continue
    echo "$n"
    return 0
  done
  die "all 256 lab subnets 10.77.0-255.0/30 are in use: bring some labs down"
}

cmd_up() {
  need_root
  RATE=${RATE:-20mbit}
  RTT=${RTT:-40ms}
  local bps one_way_us ncpu first cpulist
  bps=$(rate_bps "$RATE")
  one_way_us=$(( $(rtt_us "$RTT") / 2 ))
  ncpu=$(nproc)
  [[ "$CPUS" =~ ^[0-9]+$ ]] && [ "$CPUS" -ge 1 ] && [ "$CPUS" -le "$ncpu" ] || usage_error "--cpus '$CPUS': 1 to $ncpu (this machine's CPUs)"
  [ -z "$QUOTA" ] || QUOTA=$(quota_cores "$QUOTA")
  first=$(( ncpu - CPUS ))
  cpulist="$first-$(( ncpu - 1 ))"
  local lookout="$BIN_DIR/lookout" proxy="$BIN_DIR/lookout-delay-proxy"
  [ -x "$lookout" ] || die "$lookout not found: build it (cmake --build build --target lookout lookout-delay-proxy) or pass --bin-dir"

  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    die "lab '$NAME' is already up ($(load_state && echo "$URL")): '$0 down --name $NAME' first, or 'set' to change it"
  fi

  mkdir -p "$RUN"
  exec 9>"$LOCK"
  flock 9
  INDEX=$(free_index)
  HOST_IF=lkl${INDEX}h NS_IF=lkl${INDEX}n
  HOST_IP=10.77.$INDEX.1 NS_IP=10.77.$INDEX.2
  URL=http://$NS_IP:$PORT
  # Anything failing from here on takes the half-built lab down again.
  trap 'echo "$PROG: up failed; cleaning up (logs in $RUN)" >&2; cmd_down 2>/dev/null || true' EXIT
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
  ip addr add "$HOST_IP/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NS" addr add "$NS_IP/30" dev "$NS_IF"
  ip -n "$NS" link set "$NS_IF" up
  ip -n "$NS" link set lo up
  # State first, so that `down` finds what there is even if the rest fails.
  write_state() {
    cat >"$STATE" <<EOF
INDEX=$INDEX
HOST_IF=$HOST_IF
NS_IF=$NS_IF
HOST_IP=$HOST_IP
NS_IP=$NS_IP
PORT=$PORT
URL=$URL
RATE=$RATE
RTT=$RTT
CPUS=$CPUS
CPULIST=$cpulist
CPU_QUOTA=${CPU_QUOTA:-none}
CGROUP=${CGROUP:-}
CGROUP_V=${CGROUP_V:-}
MODE=${MODE:-}
SERVE_PID=${SERVE_PID:-}
PROXY_PID=${PROXY_PID:-}
EOF
  }
  write_state
  flock -u 9
  if [ -n "$QUOTA" ] && [ "$QUOTA" != none ]; then
    cg_make
    write_state
    cg_set_quota "$QUOTA"
    CPU_QUOTA=$QUOTA
  fi

  if tc qdisc add dev "$HOST_IF" root netem delay "${one_way_us}us" 2>/dev/null; then
    tc qdisc del dev "$HOST_IF" root
    MODE=netem
  else
    MODE=proxy
    [ -x "$proxy" ] || die "$proxy not found (this kernel has no netem, the delay needs it): cmake --build build --target lookout-delay-proxy"
  fi
  shape add "$bps" "$one_way_us"

  : >"$RUN/serve.log"
  : >"$RUN/proxy.log"
  local serve_host=$NS_IP
  [ "$MODE" = proxy ] && serve_host=127.0.0.1
  # setsid, ip netns exec and taskset all exec: $! is the server's own pid, in
  # the quota's group from the start.
  (cd "$ROOT" && { [ -z "${CGROUP:-}" ] || echo "$BASHPID" >"$CGROUP/cgroup.procs"; } && exec setsid ip netns exec "$NS" taskset -c "$cpulist" "$lookout" serve --host "$serve_host" \
     --port "$PORT" "${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"}" </dev/null >>"$RUN/serve.log" 2>&1) &
  SERVE_PID=$!
  if [ "$MODE" = proxy ]; then
    awk -v us="$one_way_us" 'BEGIN { printf "%.3f\n", us / 1000 }' >"$RUN/delay_ms"
    # On every CPU, whatever the caller was pinned to: the proxy stands for
    # the network and must not take the CPU of the side it connects.
    (exec setsid ip netns exec "$NS" taskset -c "0-$(( $(nproc --all) - 1 ))" "$proxy" --listen "$NS_IP:$PORT" --to "127.0.0.1:$PORT" \
       --delay-ms "$(cat "$RUN/delay_ms")" --delay-file "$RUN/delay_ms" </dev/null >>"$RUN/proxy.log" 2>&1) &
    PROXY_PID=$!
  fi
  write_state

  local deadline=$(( SECONDS + READY_TIMEOUT_S )) code
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/v2/health/ready" || true)
    [ "$code" = 200 ] && break
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then
      echo "$PROG: lookout serve exited; its log ($RUN/serve.log):" >&2
      tail -n 20 "$RUN/serve.log" >&2
      false
    fi
    if [ -n "${PROXY_PID:-}" ] && ! kill -0 "$PROXY_PID" 2>/dev/null; then
      echo "$PROG: lookout-delay-proxy exited; its log ($RUN/proxy.log):" >&2
      tail -n 20 "$RUN/proxy.log" >&2
      false
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$PROG: $URL/v2/health/ready did not answer 200 within ${READY_TIMEOUT_S} s (last: $code); server log:" >&2
      tail -n 20 "$RUN/serve.log" >&2
      false
    fi
    sleep 0.2
  done
  trap - EXIT
  echo "$PROG: lab '$NAME' up: $RATE each way, RTT $RTT ($MODE), server on CPUs $cpulist$(quota_text); logs in $RUN" >&2
  echo "$URL"
}

cmd_set() {
  need_root
  [ -n "$RATE$RTT$QUOTA" ] || usage_error "set needs --rate, --rtt and/or --cpu-quota"
  local new_rate=$RATE new_rtt=$RTT new_quota=""
  [ -z "$QUOTA" ] || new_quota=$(quota_cores "$QUOTA")
  load_state || die "lab '$NAME' is not up: '$0 up --name $NAME' first"
  RATE=${new_rate:-$RATE}
  RTT=${new_rtt:-$RTT}
  if [ -n "$new_rate$new_rtt" ]; then
    local bps one_way_us
    bps=$(rate_bps "$RATE")
    one_way_us=$(( $(rtt_us "$RTT") / 2 ))
    shape change "$bps" "$one_way_us"
    if [ "$MODE" = proxy ]; then
      awk -v us="$one_way_us" 'BEGIN { printf "%.3f\n", us / 1000 }' >"$RUN/delay_ms.new"
      mv "$RUN/delay_ms.new" "$RUN/delay_ms"
      kill -HUP "$PROXY_PID"
    fi
    sed -i -e "s/^RATE=.*/RATE=$RATE/" -e "s/^RTT=.*/RTT=$RTT/" "$STATE"
  fi
  if [ -n "$new_quota" ]; then
    if [ "$new_quota" != none ] || [ -n "${CGROUP:-}" ]; then
      cg_make
      cg_set_quota "$new_quota"
      # A lab that came up without a quota: the server (every thread) joins the group now.
      cg_write "$CGROUP/cgroup.procs" "$SERVE_PID"
    fi
    CPU_QUOTA=$new_quota
    sed -i -e '/^CPU_QUOTA=/d' -e '/^CGROUP=/d' -e '/^CGROUP_V=/d' "$STATE"
    printf 'CPU_QUOTA=%s\nCGROUP=%s\nCGROUP_V=%s\n' "$CPU_QUOTA" "${CGROUP:-}" "${CGROUP_V:-}" >>"$STATE"
  fi
  echo "$PROG: lab '$NAME': $RATE each way, RTT $RTT$(quota_text)" >&2
}

cmd_status() {
  need_root
  if ! load_state; then
    echo "lab '$NAME' is down"
    exit 3
  fi
  echo "lab '$NAME': $URL  rate $RATE each way  RTT $RTT ($MODE)  server CPUs $CPULIST$(quota_text)"
  [ -z "${CGROUP:-}" ] || echo "cgroup v$CGROUP_V $CGROUP: $(cg_show)"
  echo "namespace $NS, veth $HOST_IF ($HOST_IP) <-> $NS_IF ($NS_IP), logs in $RUN"
  echo "processes:"
  local pid
  for pid in ${SERVE_PID:-} ${PROXY_PID:-}; do
    if kill -0 "$pid" 2>/dev/null; then
      ps -o pid=,psr=,pcpu=,rss=,args= -p "$pid" | sed 's/^/  /'
    else
      echo "  $pid (not running)"
    fi
  done
  echo "upload (host -> server), $HOST_IF:"
  tc -s qdisc show dev "$HOST_IF" | sed 's/^/  /'
  echo "download (server -> host), $NS_IF:"
  ip netns exec "$NS" tc -s qdisc show dev "$NS_IF" | sed 's/^/  /'
}

case "$COMMAND" in
  up) cmd_up ;;
  down) cmd_down ;;
  set) cmd_set ;;
  status) cmd_status ;;
esac
