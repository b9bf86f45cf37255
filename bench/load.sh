#!/usr/bin/env bash
# HTTP load on `lookout serve` next to in-process `lookout detect`, same
# photos, same run: prints images/s and p50/p99 latency at concurrency
# 1, 2, 4, 8 over real HTTP (a small node client: keep-alive connections,
# one raw image/jpeg body per request, data/small round-robin), the
# in-process images/s of `lookout detect --jobs 2`, and the ratio
# HTTP / in-process (target >= 0.9 on 2 cores).
#
# Usage: bench/load.sh [LOOKOUT_BINARY]   (default build/lookout; run from anywhere)
# Env:   PHOTOS=data/small  SECONDS_PER_LEVEL=8  LEVELS="1 2 4 8"  DETECT_RUNS=3
# Bounded: each level stops after SECONDS_PER_LEVEL or 4 passes over the
# photos, whichever comes first; the whole run takes well under 2 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOOKOUT=${1:-${LOOKOUT:-build/lookout}}
PHOTOS=${PHOTOS:-data/small}
SECONDS_PER_LEVEL=${SECONDS_PER_LEVEL:-8}
LEVELS=${LEVELS:-"1 2 4 8"}
DETECT_RUNS=${DETECT_RUNS:-3}

die() { echo "load.sh: $*" >&2; exit 1; }
[[ -x $LOOKOUT ]] || die "no lookout binary at $LOOKOUT (build first, or pass its path)"
command -v node >/dev/null || die "node is needed for the HTTP client"
[[ -d $PHOTOS ]] || die "no photos in $PHOTOS (scripts/setup fetches them)"

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# The HTTP client: node's http module, keep-alive, N requests in flight.
cat >"$TMP/client.js" <<'EOF'
const http = require('http');
const fs = require('fs');
const path = require('path');
const [port, concurrency, seconds, dir] = [+process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const files = fs.readdirSync(dir).filter(f => /\.(jpe?g|png)$/i.test(f)).sort()
  .map(f => ({ name: f, data: fs.readFileSync(path.join(dir, f)), type: /png$/i.test(f) ? 'image/png' : 'image/jpeg' }));
const total = Math.max(4 * files.length, 8 * concurrency);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const lat = []; let next = 0, errors = 0, statuses = {};
const deadline = Date.now() + seconds * 1000;
function one(f) {
  return new Promise(resolve => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST',
      path: '/api/detect?id=' + encodeURIComponent(f.name),
      headers: { 'Content-Type': f.type, 'Content-Length': f.data.length } }, res => {
      res.resume();
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        if (res.statusCode === 200) lat.push(Number(process.hrtime.bigint() - t0) / 1e6); else errors++;
        resolve();
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout')));
    req.on('error', () => { errors++; resolve(); });
    req.end(f.data);
  });
}
async function loop() {
  while (next < total && Date.now() < deadline) await one(files[next++ % files.length]);
}
(async () => {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = p => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
  console.log(JSON.stringify({ ok: lat.length, errors, statuses, seconds: s, ips: lat.length / s, p50: q(0.5), p99: q(0.99) }));
  agent.destroy();
})();
EOF

# In-process: lookout detect --jobs 2 on the same photos, 4 passes (as many
# images as one HTTP level), its own images/s (model load excluded, as the
# server's is). Runs before and after the HTTP levels: the cores are shared,
# so load from elsewhere hits both sides alike.
DETECT_IPS=()
detect_run() {
  local line v
  line=$("$LOOKOUT" detect --jobs 2 --format jsonl --output /dev/null "$PHOTOS" "$PHOTOS" "$PHOTOS" "$PHOTOS" 2>&1 |
    grep -m1 "images/s" || true)
  v=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' <<<"$line")
  [[ -n $v ]] || die "could not read images/s from lookout detect: $line"
  DETECT_IPS+=("$v")
}
detect_run

PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
"$LOOKOUT" serve --host 127.0.0.1 --port "$PORT" --log-format json 2>"$TMP/server.log" &
SERVER_PID=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "lookout serve exited"; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null || die "lookout serve not ready after 30 s"
READY_LINE=$(grep -m1 "listening on" "$TMP/server.log" || true)

# Warm-up (not measured): a pass at concurrency 2.
node "$TMP/client.js" "$PORT" 2 3 "$PHOTOS" >/dev/null

declare -A IPS P50 P99 OK ERR
BEST_HTTP=0
for c in $LEVELS; do
  out=$(node "$TMP/client.js" "$PORT" "$c" "$SECONDS_PER_LEVEL" "$PHOTOS")
  IPS[$c]=$(node -e "const r=$out;console.log(r.ips.toFixed(1))")
  P50[$c]=$(node -e "const r=$out;console.log(r.p50.toFixed(1))")
  P99[$c]=$(node -e "const r=$out;console.log(r.p99.toFixed(1))")
  OK[$c]=$(node -e "const r=$out;console.log(r.ok)")
  ERR[$c]=$(node -e "const r=$out;console.log(r.errors ? r.errors+' '+JSON.stringify(r.statuses) : 0)")
  BEST_HTTP=$(node -e "console.log(Math.max($BEST_HTTP, ${IPS[$c]}))")
done

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" && SERVER_EXIT=0 || SERVER_EXIT=$?
SERVER_PID=""

for _ in $(seq $((DETECT_RUNS - 1))); do detect_run; done
BEST_DETECT=$(printf '%s\n' "${DETECT_IPS[@]}" | sort -g | tail -1)
N_PHOTOS=$(find "$PHOTOS" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)

echo "lookout serve vs lookout detect --jobs 2 on $PHOTOS ($N_PHOTOS photos), $(nproc) cores"
echo "server: ${READY_LINE#*: } defaults; exit status after SIGTERM: $SERVER_EXIT"
printf '%-22s %10s %10s %10s %8s %s\n' "client" "images/s" "p50 ms" "p99 ms" "ok" "errors"
for c in $LEVELS; do
  printf '%-22s %10s %10s %10s %8s %s\n' "http c=$c" "${IPS[$c]}" "${P50[$c]}" "${P99[$c]}" "${OK[$c]}" "${ERR[$c]}"
done
printf '%-22s %10s %10s %10s %8s %s\n' "in-process --jobs 2" "$BEST_DETECT" "-" "-" "$((4 * N_PHOTOS))" "runs: ${DETECT_IPS[*]}"
RATIO=$(node -e "console.log(($BEST_HTTP / $BEST_DETECT).toFixed(2))")
VERDICT=$(node -e "console.log($RATIO >= 0.9 ? 'meets' : 'misses')")
echo "ratio HTTP/in-process (best of each): $RATIO ($VERDICT the 0.9 target)"
