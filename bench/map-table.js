#!/usr/bin/env node
// The cells of a `lookout map` file as the Markdown table BENCHMARKS.md
// keeps, with the summary under it. Definitions as `lookout report` draws
// the map (src/offload/report_map.cc): error = (predicted - measured) /
// measured; a schedule's wall per pass of the collection (local and remote:
// images x ms per image); the winner has the smallest wall (a tie goes to
// local, then remote); lead = second-best wall / best wall - 1; ideal =
// 1 / (1 / local wall + 1 / remote wall), both measured alone; again = the
// local run repeated at the cell's end, with its drift from the first
// (again / first - 1), where the map has it.
//
//   node bench/map-table.js map.json
'use strict';
const fs = require('fs');
const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/map-table.js MAP.json');
  process.exit(2);
}
const map = JSON.parse(fs.readFileSync(file, 'utf8'));
const names = ['local', 'remote', 'hybrid'];
const winner = (w) => names.reduce((best, s) => (w[s] < w[best] ? s : best), 'local');
const pct = (e) => `${e >= 0 ? '+' : ''}${(100 * e).toFixed(0)}%`;
const num = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toPrecision(3));
const rows = [];
const tally = { cells: 0, local: 0, remote: 0, hybrid: 0, all: 0, wrong: 0, ideal: 0, again: 0, drifted: 0 };
for (const c of map.cells) {
  const o = c.offload, m = o.measured;
  if (!m) continue;
  const n = o.images;
  const pred = { local: o.local.ms_per_image, remote: o.remote.ms_per_image, hybrid: o.hybrid.predicted_s };
  const meas = { local: m.local_ms_per_image, remote: m.remote_ms_per_image, hybrid: m.hybrid_wall_s };
  const predWall = { local: (n * pred.local) / 1000, remote: (n * pred.remote) / 1000, hybrid: pred.hybrid };
  const measWall = { local: m.local_wall_s, remote: m.remote_wall_s, hybrid: m.hybrid_wall_s };
  const err = {};
  for (const s of names) err[s] = (pred[s] - meas[s]) / meas[s];
  const won = winner(measWall), predicted = winner(predWall);
  const walls = names.map((s) => measWall[s]).sort((a, b) => a - b);
  const lead = walls[1] / walls[0] - 1;
  const ideal = measWall.hybrid * (1 / measWall.local + 1 / measWall.remote);
  const wrong = won !== predicted && lead > 0.1;
  tally.cells++;
  let allIn = true;
  for (const s of names) {
    const ok = Math.abs(err[s]) <= 0.1;
    tally[s] += ok ? 1 : 0;
    allIn = allIn && ok;
  }
  tally.all += allIn ? 1 : 0;
  tally.wrong += wrong ? 1 : 0;
  tally.ideal += ideal <= 1.1 ? 1 : 0;
  const again = m.local_again_ms_per_image;
  const drift = again ? again / m.local_ms_per_image - 1 : null;
  if (again) {
    tally.again++;
    tally.drifted += Math.abs(drift) > 0.1 ? 1 : 0;
  }
  const side = (s) => `${num(pred[s])} / ${num(meas[s])} (${pct(err[s])})${Math.abs(err[s]) > 0.1 ? ' **' : ''}`;
  rows.push(`| ${c.pair.local_cpu}:${c.pair.remote_cpu} | ${c.bandwidth_mbps} | ${c.rtt_ms} | ${c.resize_before_upload ? 'yes' : 'no'} | ` +
            `${side('local')} | ${again ? `${num(again)} (${pct(drift)})${Math.abs(drift) > 0.1 ? ' **' : ''}` : '–'} | ${side('remote')} | ${side('hybrid')} | ${ideal.toFixed(2)}x${ideal > 1.1 ? ' **' : ''} | ` +
            `${predicted} / ${won}${wrong ? ' **' : ''} | ${(100 * lead).toFixed(0)}% |`);
}
console.log('| pair L:R | Mbit/s | RTT ms | resized | T_local ms pred / meas (err) | T_local again (drift) | T_remote ms pred / meas (err) | ' +
            'hybrid s pred / meas (err) | hybrid / ideal | winner pred / meas | lead |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`\nSummary (${tally.cells} cells): within 10 %: T_local ${tally.local}, T_remote ${tally.remote}, ` +
            `hybrid ${tally.hybrid}; all three in ${tally.all}. Wrong verdict where the lead is over 10 %: ` +
            `${tally.wrong}. Hybrid within 1.1x of the ideal: ${tally.ideal}.` +
            (tally.again ? ` The local run repeated at the cell's end drifted over 10 % in ${tally.drifted} of ${tally.again}.` : ''));
