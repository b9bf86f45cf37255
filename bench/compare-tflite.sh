#!/bin/bash
# Lookout's engine vs TensorFlow Lite's own runtime (WebAssembly build with
# its XNNPACK delegate, under Node) on the same 300x300x3 input tensor,
# alternating the two in one run, at 1 and 2 threads. Prints per-round
# medians and the ratio TFLite-ms / Lookout-ms (higher = Lookout faster),
# with the CPU and the ISA level of Lookout's own kernels (LOOKOUT_ISA=avx2
# etc. forces a lower one).
#
#   [LOOKOUT_ISA=avx512vnni|avxvnni|avx2|xnnpack] bench/compare-tflite.sh [ROUNDS] [RUNS_PER_ROUND] [PHOTO]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
RUNS=${2:-30}
PHOTO=${3:-data/small/darknet__dog.jpg}
LOOKOUT=${LOOKOUT:-build/lookout}
[ -x "$LOOKOUT" ] || { echo "compare-tflite: $LOOKOUT not built (run make build)" >&2; exit 2; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The oracle decodes and resizes the photo; both sides then read that tensor.
node tests/oracle/oracle.js --dump-raw "$tmp" "$PHOTO" > /dev/null
raw="$tmp/$(basename "${PHOTO%.*}").rgb"

for threads in 1 2; do
  for round in $(seq "$ROUNDS"); do
    node tests/oracle/oracle.js --threads "$threads" --bench "$RUNS" "$raw" 2>/dev/null |
      node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log(["tflite",'"$threads"',j.median_ms].join(" "))' >> "$tmp/times"
    "$LOOKOUT" bench --threads "$threads" --runs "$RUNS" "$raw" |
      node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log(["lookout",'"$threads"',j.engine_ms.median,j.isa||"unnamed",(j.cpu||"unnamed").replace(/ /g,"_")].join(" "))' >> "$tmp/times"
  done
done

node - "$tmp/times" "$ROUNDS" "$RUNS" "$PHOTO" <<'JS'
const [file, rounds, runs, photo] = process.argv.slice(2);
const rows = require('fs').readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '));
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const mine = rows.find((r) => r[0] === 'lookout');
const isa = mine[3], cpu = mine[4].replace(/_/g, ' ');
console.log(`input: ${photo} as a 300x300x3 tensor; ${rounds} alternating rounds x ${runs} inferences each`);
console.log(`cpu: ${cpu}; Lookout's ISA level: ${isa}`);
console.log(`threads  tflite-wasm ms  ${('lookout-' + isa + ' ms').padStart(18)}  ratio (tflite/lookout)`);
const out = [];
for (const t of ['1', '2']) {
  const tf = med(rows.filter((r) => r[0] === 'tflite' && r[1] === t).map((r) => +r[2]));
  const lo = med(rows.filter((r) => r[0] === 'lookout' && r[1] === t).map((r) => +r[2]));
  console.log(`${t.padEnd(9)}${tf.toFixed(2).padStart(14)}  ${lo.toFixed(2).padStart(18)}  ${(tf / lo).toFixed(2).padStart(8)}x`);
  out.push({ threads: +t, isa, tflite_ms: tf, lookout_ms: lo, ratio: tf / lo });
}
console.log(JSON.stringify(out));
JS
