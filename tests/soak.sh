#!/usr/bin/env bash
# Soak: `lookout serve` under mixed valid, odd and bad requests for SECONDS
# (default 1800), with the server's RSS, open file descriptors and threads
# sampled every 10 s; prints the samples and their least-squares slopes
# (after the first minute's warm-up), and the responses by kind and status.
# Fails when a request gets a status its kind must not get (a 5xx, no
# answer), when the server dies or logs a sanitizer report, or when its
# descriptors do not come back to where they started once traffic stops.
# Not part of `make test` (`make soak` runs it).
#
# Usage: tests/soak.sh [SECONDS] [LOOKOUT_BINARY]   (default 1800, build/lookout)
# Env:   CLIENTS=3 (parallel request loops)  SAMPLE_SECONDS=10
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${1:-1800}
LOOKOUT=${2:-build/lookout}
CLIENTS=${CLIENTS:-3}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
PHOTOS=data/small

die() { echo "soak: $*" >&2; exit 1; }
[[ -x $LOOKOUT ]] || die "no lookout binary at $LOOKOUT (make build)"
command -v curl >/dev/null || die "curl is needed (scripts/setup installs it)"
[[ -f $PHOTOS/darknet__dog.jpg ]] || die "no photos in $PHOTOS (scripts/setup fetches them)"

TMP=$(mktemp -d)
SERVER_PID=""
LOOP_PIDS=()
cleanup() {
  local p
  for p in "${LOOP_PIDS[@]+"${LOOP_PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(( 20000 + RANDOM % 20000 ))
"$LOOKOUT" serve --host 127.0.0.1 --port "$PORT" --workers 2 --max-queue 8 --max-body-mb 2 \
  --read-timeout 3 --log-format json 2>"$TMP/server.log" &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 300); do
  curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/ready" 2>/dev/null | grep -q 200 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "the server exited at startup"; }
  sleep 0.2
done

# Request bodies made once.
mapfile -t JPEGS < <(ls "$PHOTOS"/*.jpg)
DOG=$PHOTOS/darknet__dog.jpg
printf '{"images":[{"id":"a","data":"%s"},{"id":"b","data":"%s"}],"threshold":0.4}' \
  "$(base64 -w0 "$DOG")" "$(base64 -w0 "$PHOTOS/qtwebengine5-examples__pizza.jpg")" > "$TMP/batch.json"
printf '{"images":[{"id":"a","data":"%s"},{"id":"bad","data":"bm90IGFuIGltYWdl"}]}' "$(base64 -w0 "$DOG")" > "$TMP/mixed.json"
printf '{"images":[{"id":"a","data":"%s' "$(base64 -w0 "$DOG" | head -c 5000)" > "$TMP/cut.json"
printf '{"images":[{"data":"@@@@"}]}' > "$TMP/badb64.json"
head -c 20000 "$DOG" > "$TMP/truncated.jpg"
head -c 3000000 /dev/zero | tr '\0' 'x' > "$TMP/big.bin"

# One kind of request: name, the statuses it may get, curl arguments.
# 000 (no answer) is never allowed except where the client itself gives up.
# Several URLs in one curl share its connection (keep-alive): a line each.
request() {
  local name=$1 allowed=$2
  shift 2
  local codes code
  codes=$(curl -s --max-time 60 -w '%{http_code}\n' "$@" 2>/dev/null) || true
  [[ -n $codes ]] || codes=000
  while read -r code; do
    if [[ " $allowed " == *" $code "* ]]; then echo "$name $code ok"; else echo "$name $code UNEXPECTED"; fi
  done <<<"$codes"
}

traffic() {
  local i=0 img
  while :; do
    img=${JPEGS[$(( (i + RANDOM) % ${#JPEGS[@]} ))]}
    i=$((i + 1))
    request raw_jpeg "200 503" -o /dev/null -H 'Content-Type: image/jpeg' --data-binary "@$img" "$URL/api/detect?id=x.jpg"
    request json_batch "200 503" -o /dev/null -H 'Content-Type: application/json' --data "@$TMP/batch.json" "$URL/api/detect"
    request multipart "200 503" -o /dev/null -F "a=@$img" -F "b=@$DOG" -F threshold=0.5 "$URL/api/detect"
    request deepstack "200 503" -o /dev/null -F "image=@$img" -F min_confidence=0.3 "$URL/v1/vision/detection"
    # Odd but valid.
    request chunked "200 503" -o /dev/null -H 'Content-Type: image/jpeg; charset=binary' -H 'Transfer-Encoding: chunked' \
      --data-binary "@$img" "$URL/api/detect?threshold=1&id=%E2%9C%93&junk"
    request mixed_batch "200 503" -o /dev/null -H 'Content-Type: application/json' --data "@$TMP/mixed.json" "$URL/api/detect"
    request keepalive_3 "200" -o /dev/null "$URL/healthz" -o /dev/null "$URL/api/model" -o /dev/null "$URL/metrics"
    request slow_upload "200 503" -o /dev/null --limit-rate 200k -H 'Content-Type: image/jpeg' --data-binary "@$DOG" "$URL/api/detect"
    request abandoned "000 200 503" -o /dev/null --max-time 0.3 --limit-rate 30k -H 'Content-Type: image/jpeg' \
      --data-binary "@$DOG" "$URL/api/detect"
    # Bad.
    request cut_json "400" -o /dev/null -H 'Content-Type: application/json' --data "@$TMP/cut.json" "$URL/api/detect"
    request bad_base64 "400" -o /dev/null -H 'Content-Type: application/json' --data "@$TMP/badb64.json" "$URL/api/detect"
    request truncated_jpeg "400" -o /dev/null -H 'Content-Type: image/jpeg' --data-binary "@$TMP/truncated.jpg" "$URL/api/detect"
    request not_an_image "400" -o /dev/null -H 'Content-Type: image/png' --data-binary 'hello' "$URL/api/detect"
    request empty_body "400" -o /dev/null -H 'Content-Type: image/jpeg' --data-binary '' "$URL/api/detect"
    request wrong_type "415" -o /dev/null -H 'Content-Type: text/plain' --data 'hi' "$URL/api/detect"
    request too_large "413" -o /dev/null -H 'Content-Type: image/jpeg' --data-binary "@$TMP/big.bin" "$URL/api/detect"
    request bad_threshold "400" -o /dev/null -H 'Content-Type: image/jpeg' --data-binary "@$DOG" "$URL/api/detect?threshold=2"
    request no_image_field "400" -o /dev/null -F "other=@$DOG" "$URL/v1/vision/detection"
    request wrong_method "405" -o /dev/null "$URL/api/detect"
    request no_route "404" -o /dev/null "$URL/nope"
  done
}

sample() {  # seconds rss_kib fds threads
  local rss threads fds
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$SERVER_PID/status")
  fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
  echo "$1 $rss $fds $threads"
}

echo "soak: lookout serve on $URL, $CLIENTS request loops, $DURATION s, a sample every $SAMPLE_SECONDS s" >&2
BASE_FDS=$(ls "/proc/$SERVER_PID/fd" | wc -l)
for c in $(seq "$CLIENTS"); do
  traffic > "$TMP/requests.$c" &
  LOOP_PIDS+=($!)
done
START=$(date +%s)
echo "seconds rss_kib fds threads" > "$TMP/samples"
while :; do
  now=$(( $(date +%s) - START ))
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 50 "$TMP/server.log" >&2; die "the server died after $now s"; }
  sample "$now" | tee -a "$TMP/samples" >&2
  (( now >= DURATION )) && break
  sleep "$SAMPLE_SECONDS"
done
for p in "${LOOP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${LOOP_PIDS[@]}" 2>/dev/null || true
LOOP_PIDS=()
sleep 5  # keep-alive and read timeouts close what the killed loops left open
END_FDS=$(ls "/proc/$SERVER_PID/fd" | wc -l)

echo
echo "responses (kind status count):"
cat "$TMP"/requests.* | awk '{ n[$1 " " $2 " " $3]++ } END { for (k in n) print "  " k, n[k] }' | sort
TOTAL=$(cat "$TMP"/requests.* | wc -l)
BAD=$(cat "$TMP"/requests.* | grep -c UNEXPECTED || true)
echo
# Least-squares slopes: after the first minute (warm-up: allocator pools,
# one connection thread per client), and over the second half of the run.
slopes() {  # from-seconds label
  awk -v from="$1" -v label="$2" 'NR > 1 && $1 >= from { n++; sx += $1; sy += $2; sf += $3; st += $4; sxx += $1 * $1; sxy += $1 * $2; sxf += $1 * $3; sxt += $1 * $4 }
    END {
      d = n * sxx - sx * sx
      if (n < 3 || d == 0) { print "slopes " label ": too few samples"; exit }
      printf "slopes %s (%d samples): RSS %+.1f KiB/min, fds %+.3f /min, threads %+.3f /min\n",
        label, n, 60 * (n * sxy - sx * sy) / d, 60 * (n * sxf - sx * sf) / d, 60 * (n * sxt - sx * st) / d
    }' "$TMP/samples"
}
slopes 60 "after the first minute"
slopes $(( DURATION / 2 )) "over the second half"
echo "requests: $TOTAL ($BAD unexpected); fds: $BASE_FDS before traffic, $END_FDS after it stopped"

status=0
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/server.log"; then
  echo "soak: sanitizer report in the server's log" >&2; status=1
fi
(( BAD == 0 )) || { echo "soak: $BAD requests got a status their kind must not get" >&2; status=1; }
(( END_FDS <= BASE_FDS + 2 )) || { echo "soak: descriptors did not come back ($BASE_FDS -> $END_FDS)" >&2; status=1; }
exit $status
