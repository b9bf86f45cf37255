#!/usr/bin/env node
// TFLite oracle: runs the model with TensorFlow Lite's own runtime (the
// emscripten/WASM build in @tensorflow/tfjs-tflite, TFLiteWebModelRunner with
// its XNNPACK delegate), loaded directly under Node. See README.md.
//
// usage: node tests/oracle/oracle.js [options] FILE...
//   FILE                 .png/.jpg (decoded by pngjs/jpeg-js, bilinear half-pixel
//                        resize to the model input), or a raw H*W*3-byte uint8 RGB
//                        tensor (270000 bytes for 300x300) used verbatim
//   --threads N          TFLite threads (default 1; N>1 uses the threaded build)
//   --warmup N           untimed inferences on a zero tensor after load (default 2)
//   --repeat N           N inferences per input; ms is their median (default 1)
//   --bench N            N timed inferences per input; adds threads, runs,
//                        median_ms, p90_ms, min_ms, cpu_ms (median process CPU)
//   --dump-raw DIR       write the input tensor to DIR/<basename>.rgb
//   --dump-intermediates DIR  write the uint8 inputs of the post-process op:
//                        DIR/<basename>.Squeeze.u8 (box encodings 1x1917x4) and
//                        DIR/<basename>.convert_scores.u8 (scores 1x1917x91)
//   --model PATH         default models/mobilenet_ssd_v2_coco_quant_postprocess.tflite
//   --labels PATH        default models/coco_labels.txt
// Output: one JSON line per input: {file, count, boxes:[[ymin,xmin,ymax,xmax]..],
// classes, scores, names, ms}. boxes/classes/scores hold every row the model
// emits (max_detections); the first `count` are valid. classes are 0-based
// label ids as emitted (coco_labels.txt: "id name"). ms is inference only.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const ROOT = path.resolve(__dirname, '..', '..');
const WASM_DIR = path.join(ROOT, 'node_modules/@tensorflow/tfjs-tflite/wasm');
const USAGE_LINES = [6, 24];
class UserError extends Error {} // printed without a stack

function parseArgs(argv) {
  const o = {
    threads: 1, warmup: 2, repeat: 1, bench: 0, dumpRaw: null, dumpInter: null, files: [],
    model: path.join(ROOT, 'models/mobilenet_ssd_v2_coco_quant_postprocess.tflite'),
    labels: path.join(ROOT, 'models/coco_labels.txt'),
  };
  const int = (s, a) => { const n = Number(s); if (!Number.isInteger(n) || n < 0) throw new UserError(`${a}: not a count: ${s}`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new UserError('missing value for ' + a); return argv[++i]; };
    if (a === '--threads') o.threads = Math.max(1, int(next(), a));
    else if (a === '--warmup') o.warmup = int(next(), a);
    else if (a === '--repeat') o.repeat = Math.max(1, int(next(), a));
    else if (a === '--bench') o.bench = Math.max(1, int(next(), a));
    else if (a === '--dump-raw') o.dumpRaw = next();
    else if (a === '--dump-intermediates') o.dumpInter = next();
    else if (a === '--model') o.model = next();
    else if (a === '--labels') o.labels = next();
    else if (a === '-h' || a === '--help') {
      const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(USAGE_LINES[0] - 1, USAGE_LINES[1]);
      process.stdout.write(lines.map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else if (a.startsWith('--')) throw new UserError('unknown option ' + a + ' (see --help)');
    else o.files.push(a);
  }
  if (!o.files.length) throw new UserError('no input files (see --help)');
  return o;
}

// The pthread build spawns browser Workers: give it a minimal Worker on top of
// worker_threads, running the emscripten worker script with importScripts.
function installWorkerShim() {
  const { Worker: NodeWorker } = require('worker_threads');
  const boot = `
    const { parentPort, workerData } = require('worker_threads');
    const fs = require('fs'), vm = require('vm');
    globalThis.self = globalThis;
    self.location = { href: 'file://' + workerData.url };
    globalThis.postMessage = (d, t) => parentPort.postMessage(d, t);
    globalThis.importScripts = (f) => vm.runInThisContext(fs.readFileSync(f, 'utf8'), { filename: f });
    parentPort.on('message', (d) => self.onmessage({ data: d }));
    importScripts(workerData.url);
  `;
  globalThis.Worker = class {
    constructor(url) {
      this.w = new NodeWorker(boot, { eval: true, workerData: { url } });
      this.w.unref();
      this.w.on('message', (d) => { if (this.onmessage) this.onmessage({ data: d }); });
      this.w.on('error', (e) => { if (this.onerror) this.onerror(e); else console.error('worker error', e); });
    }
    postMessage(d, t) { this.w.postMessage(d, t); }
    terminate() { this.w.terminate(); }
    addEventListener(ev, fn) { this.w.on(ev, ev === 'message' ? (d) => fn({ data: d }) : fn); }
  };
}

// Load the emscripten factory from disk, bypassing the package's browser loader.
async function loadRuntime(threaded) {
  const base = threaded ? 'tflite_web_api_cc_simd_threaded' : 'tflite_web_api_cc_simd';
  const jsPath = path.join(WASM_DIR, base + '.js');
  if (!fs.existsSync(jsPath)) throw new UserError(`${jsPath} missing: run scripts/setup`);
  if (threaded) installWorkerShim();
  const src = fs.readFileSync(jsPath, 'utf8');
  const factory = vm.runInThisContext('(function(){' + src + '\nreturn tflite_web_api_ModuleFactory;})', { filename: jsPath })();
  return factory({
    wasmBinary: fs.readFileSync(path.join(WASM_DIR, base + '.wasm')),
    mainScriptUrlOrBlob: jsPath,
    locateFile: (p) => path.join(WASM_DIR, p),
    print: (s) => process.stderr.write(s + '\n'),
    printErr: (s) => process.stderr.write(s + '\n'),
  });
}

// Append tensors (by name) to subgraph 0's outputs: write a new int vector at
// the end of the flatbuffer and repoint the (forward, unsigned) offset to it.
function patchOutputs(bytes, extraNames) {
  const { ByteBuffer } = require('flatbuffers');
  const bb = new ByteBuffer(new Uint8Array(bytes));
  const fld = (t, id) => bb.__offset(t, 4 + 2 * id);
  const model = bb.readInt32(0);
  const sg = bb.__indirect(bb.__vector(model + fld(model, 2))); // Model.subgraphs[0]
  const tv = bb.__vector(sg + fld(sg, 0)), tn = bb.__vector_len(sg + fld(sg, 0)); // SubGraph.tensors
  const idx = {};
  for (let i = 0; i < tn; i++) { const t = bb.__indirect(tv + 4 * i); const o = fld(t, 3); if (o) idx[bb.__string(t + o)] = i; }
  const outField = sg + fld(sg, 2); // SubGraph.outputs
  const ov = bb.__vector(outField), on = bb.__vector_len(outField);
  const outs = []; for (let i = 0; i < on; i++) outs.push(bb.readInt32(ov + 4 * i));
  for (const n of extraNames) { if (!(n in idx)) throw new Error('model has no tensor ' + n); outs.push(idx[n]); }
  const pad = (4 - (bytes.length % 4)) % 4;
  const out = Buffer.alloc(bytes.length + pad + 4 + 4 * outs.length);
  bytes.copy(out, 0);
  const vpos = bytes.length + pad;
  out.writeUInt32LE(outs.length, vpos);
  outs.forEach((v, i) => out.writeInt32LE(v, vpos + 4 + 4 * i));
  out.writeUInt32LE(vpos - outField, outField);
  return out;
}

function vecToArray(v) { const a = []; for (let i = 0; i < v.size(); i++) a.push(v.get(i)); v.delete(); return a; }

function decodeImage(buf) {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) {
    const png = require('pngjs').PNG.sync.read(buf); // RGBA 8-bit (16-bit scaled, palette/gray expanded)
    return { w: png.width, h: png.height, rgba: png.data };
  }
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
    const img = require('jpeg-js').decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048, maxResolutionInMP: 400 });
    return { w: img.width, h: img.height, rgba: img.data };
  }
  return null;
}

// Bilinear resize RGBA (alpha dropped) -> RGB uint8 dw x dh, in float64:
//   sx = max(0, (ox + 0.5) * srcW / dw - 0.5); x0 = floor(sx); x1 = min(x0 + 1, srcW - 1); fx = sx - x0
//   (same for y), out = floor(bilinear mix + 0.5). TF resize_bilinear with
//   half_pixel_centers=True, align_corners=False; no aspect preservation.
function resizeBilinear(src, sw, sh, dw, dh) {
  const out = new Uint8Array(dw * dh * 3);
  const axis = (o, s, d) => {
    let v = (o + 0.5) * (s / d) - 0.5; if (v < 0) v = 0;
    let i0 = Math.floor(v); if (i0 > s - 1) i0 = s - 1;
    return [i0, Math.min(i0 + 1, s - 1), i0 === s - 1 ? 0 : Math.min(v - i0, 1)];
  };
  const xs = Array.from({ length: dw }, (_, ox) => axis(ox, sw, dw));
  for (let oy = 0; oy < dh; oy++) {
    const [y0, y1, fy] = axis(oy, sh, dh);
    const r0 = y0 * sw * 4, r1 = y1 * sw * 4;
    for (let ox = 0; ox < dw; ox++) {
      const [x0, x1, fx] = xs[ox];
      for (let ch = 0; ch < 3; ch++) {
        const top = (1 - fx) * src[r0 + x0 * 4 + ch] + fx * src[r0 + x1 * 4 + ch];
        const bot = (1 - fx) * src[r1 + x0 * 4 + ch] + fx * src[r1 + x1 * 4 + ch];
        const v = Math.floor((1 - fy) * top + fy * bot + 0.5);
        out[(oy * dw + ox) * 3 + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

function loadInput(file, w, h) {
  const buf = fs.readFileSync(file);
  const img = decodeImage(buf);
  if (img) return resizeBilinear(img.rgba, img.w, img.h, w, h);
  if (buf.length === w * h * 3) return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  throw new UserError(`${file}: not PNG/JPEG and not a raw ${w * h * 3}-byte RGB tensor`);
}

const sorted = (a) => [...a].sort((x, y) => x - y);
function median(a) { const s = sorted(a), n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; }
function p90(a) { const s = sorted(a); return s[Math.max(0, Math.ceil(0.9 * s.length) - 1)]; } // nearest rank
const r6 = (x) => Math.round(x * 1e6) / 1e6;
const r3 = (x) => Math.round(x * 1e3) / 1e3;
const stem = (file) => path.basename(file).replace(/\.[^.]*$/, '');

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(o.model)) throw new UserError(`${o.model} missing: run scripts/setup`);
  const labels = {};
  if (fs.existsSync(o.labels)) for (const line of fs.readFileSync(o.labels, 'utf8').split('\n')) {
    const m = line.match(/^\s*(\d+)\s+(.*\S)\s*$/); if (m) labels[+m[1]] = m[2];
  }

  const M = await loadRuntime(o.threads > 1);
  let modelBytes = fs.readFileSync(o.model);
  if (o.dumpInter) modelBytes = patchOutputs(modelBytes, ['Squeeze', 'convert_scores']);
  const mptr = M._malloc(modelBytes.length);
  M.HEAPU8.set(modelBytes, mptr);
  const st = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(mptr, modelBytes.length,
    { numThreads: o.threads, enableProfiling: false, maxProfilingBufferEntries: 16 });
  if (!st.ok()) throw new Error('CreateFromBufferAndOptions failed: ' + st.errorMessage());
  const runner = st.value();
  const inputs = vecToArray(runner.GetInputs());
  const outputs = vecToArray(runner.GetOutputs());
  const [, H, W, C] = String(inputs[0].shape).split(',').map(Number);
  if (inputs[0].dataType !== 'uint8' || C !== 3) throw new UserError(`unsupported input ${inputs[0].dataType} [${inputs[0].shape}]: want uint8 [1,H,W,3]`);
  const inBuf = () => inputs[0].data(); // a view into the wasm heap: fetch anew each time (the heap may grow)
  inBuf().fill(0);
  for (let i = 0; i < o.warmup; i++) if (!runner.Infer()) throw new Error('Infer failed');

  const runs = o.bench || o.repeat;
  for (const file of o.files) {
    const tensor = loadInput(file, W, H);
    if (o.dumpRaw) { fs.mkdirSync(o.dumpRaw, { recursive: true }); fs.writeFileSync(path.join(o.dumpRaw, stem(file) + '.rgb'), tensor); }
    const times = [], cpu = [];
    for (let r = 0; r < runs; r++) {
      inBuf().set(tensor);
      const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
      const ok = runner.Infer();
      const t1 = process.hrtime.bigint(), c1 = process.cpuUsage(c0);
      if (!ok) throw new Error('Infer failed');
      times.push(Number(t1 - t0) / 1e6);
      cpu.push((c1.user + c1.system) / 1e3);
    }
    if (o.dumpInter) {
      fs.mkdirSync(o.dumpInter, { recursive: true });
      for (const t of outputs.slice(4)) fs.writeFileSync(path.join(o.dumpInter, `${stem(file)}.${t.name}.u8`), Buffer.from(t.data()));
    }
    const [boxesF, classesF, scoresF, countF] = outputs.slice(0, 4).map((t) => Float32Array.from(t.data()));
    const boxes = [];
    for (let i = 0; i < boxesF.length / 4; i++) boxes.push(Array.from(boxesF.subarray(4 * i, 4 * i + 4), r6));
    const count = countF[0], classes = Array.from(classesF);
    const rec = { file, count, boxes, classes, scores: Array.from(scoresF, r6),
      names: classes.slice(0, Math.round(count)).map((c) => labels[Math.round(c)] ?? null), ms: r3(median(times)) };
    if (o.bench) Object.assign(rec, { threads: o.threads, runs, median_ms: r3(median(times)), p90_ms: r3(p90(times)), min_ms: r3(Math.min(...times)), cpu_ms: r3(median(cpu)) });
    process.stdout.write(JSON.stringify(rec) + '\n');
  }
  runner.delete();
}

main().then(() => process.exit(0), (e) => { console.error('oracle: ' + (e instanceof UserError ? e.message : (e && e.stack) || e)); process.exit(1); });
