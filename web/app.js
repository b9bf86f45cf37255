// Lookout's page: send photos to /api/detect, draw what comes back, filter
// it here. Each photo is asked for once at threshold 0 (every candidate the
// model keeps), so the slider and the class filter never upload again.
'use strict';

const KEY_STORAGE = 'lookout.apiKey';  // sessionStorage: this tab only
const REQUEST_THRESHOLD = 0;
const MAX_ERRORS_SHOWN = 5;

const $ = (id) => document.getElementById(id);
const slider = $('threshold');
const classFilter = $('class-filter');

// One entry per photo, in the order given: {name, file, card, status
// ('queued'|'detecting'|'done'|'failed'), result, roundTripMs, error}.
const photos = [];

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// ---- API calls -----------------------------------------------------------

// What went wrong, in words: the server's own message when it sent one.
function apiErrorMessage(res, body, text) {
  let message;
  if (body && typeof body.error === 'string') message = body.error;
  else if (text) message = text.trim().slice(0, 200);
  else message = res.statusText || 'no message';
  const after = res.status === 503 ? res.headers.get('Retry-After') : null;
  return `${message} (HTTP ${res.status}${after ? `; retry in ${after} s` : ''})`;
}

// fetch, plus the API key: on 401 the page asks for a key (once for all
// requests waiting), keeps it in sessionStorage and sends the request again.
// makeInit builds a fresh RequestInit for each attempt.
async function apiFetch(path, makeInit) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    const init = makeInit();
    if (key) init.headers = { ...(init.headers || {}), Authorization: `Bearer ${key}` };
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new Error(`no answer from ${location.origin} (${e.message}): is lookout serve still running?`);
    }
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (_) {
      // not JSON: apiErrorMessage shows the text itself
    }
    if (res.status !== 401) return { res, body, text };

    const current = sessionStorage.getItem(KEY_STORAGE);
    if (current && current !== key) continue;  // another request got a key meanwhile
    if (key) sessionStorage.removeItem(KEY_STORAGE);
    const reason = body && body.error ? body.error : 'the server answered 401 Unauthorized';
    const given = await askForKey(reason);
    if (!given) throw new Error(`${reason} (HTTP 401); no API key was given`);
  }
}

let pendingKey = null;

// Shows the key dialog; resolves to the key (also stored) or null if cancelled.
function askForKey(reason) {
  if (pendingKey) return pendingKey;
  const dialog = $('key-dialog');
  const input = $('key-input');
  $('key-reason').textContent = `The server said: ${reason}.`;
  input.value = '';
  dialog.returnValue = '';
  pendingKey = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const key = dialog.returnValue === 'ok' ? input.value.trim() : '';
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      pendingKey = null;
      resolve(key || null);
    }, { once: true });
  });
  dialog.showModal();
  input.focus();
  return pendingKey;
}

$('key-cancel').addEventListener('click', () => $('key-dialog').close('cancel'));

// ---- errors --------------------------------------------------------------

function showError(message) {
  const box = $('error');
  const line = document.createElement('p');
  line.textContent = message;
  box.append(line);
  while (box.childElementCount > MAX_ERRORS_SHOWN) box.firstElementChild.remove();
  box.hidden = false;
}

window.addEventListener('error', (e) => showError(`page error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`page error: ${e.reason}`));

// ---- model info ----------------------------------------------------------

let models = [];        // /api/model's "models": the first is the server's default
let modelChoice = '';   // the name new photos are sent to ('' = the default)

function describeModel(m, classes) {
  const input = m.input || {};
  return `${m.model} · input ${input.width}×${input.height}×${input.channels} · ` +
    `${m.backend} backend · ${plural(m.workers, 'worker')} · ${plural(classes, 'class', 'classes')}`;
}

async function loadModelInfo() {
  const info = $('model-info');
  try {
    const { res, body, text } = await apiFetch('/api/model', () => ({}));
    if (!res.ok || !body) throw new Error(apiErrorMessage(res, body, text));
    const classes = (body.labels || []).length;
    models = Array.isArray(body.models) && body.models.length ? body.models : [body];
    info.textContent = describeModel(models[0], classes);
    // Several models served: a menu picks the one new photos go to.
    if (models.length > 1) {
      const select = $('model-select');
      for (const m of models) {
        const option = document.createElement('option');
        option.value = m.name;
        option.textContent = m === models[0] ? `${m.name} (default)` : m.name;
        select.append(option);
      }
      select.hidden = false;
      $('model-label').hidden = false;
      select.addEventListener('change', () => {
        modelChoice = select.value === models[0].name ? '' : select.value;
        info.textContent = describeModel(models.find((m) => m.name === select.value) || models[0], classes);
      });
    }
  } catch (e) {
    info.textContent = 'Model info unavailable.';
    showError(`/api/model: ${e.message}`);
  }
}

// ---- photos in, detections back -----------------------------------------

let queue = Promise.resolve();  // one request at a time, in the order given

function addFiles(files) {
  for (const file of files) {
    const name = file.name || `pasted.${(file.type.split('/')[1] || 'png')}`;
    const photo = { name, file, card: makeCard(name, file), status: 'queued' };
    photos.push(photo);
    queue = queue.then(() => detect(photo));
  }
  render();
}

function makeCard(name, file) {
  const card = $('result-template').content.firstElementChild.cloneNode(true);
  card.querySelector('.name').textContent = name;
  card.querySelector('.state').textContent = 'Waiting…';
  const img = card.querySelector('img');
  img.src = URL.createObjectURL(file);
  img.alt = `Photo ${name}`;
  $('results').append(card);
  return card;
}

async function detect(photo) {
  photo.status = 'detecting';
  photo.card.dataset.status = photo.status;
  photo.card.querySelector('.state').textContent = 'Detecting…';
  let t0;  // per attempt: the time spent typing an API key is not round trip
  try {
    photo.model = modelChoice;
    const path = photo.model ? `/api/detect?model=${encodeURIComponent(photo.model)}` : '/api/detect';
    const { res, body, text } = await apiFetch(path, () => {
      t0 = performance.now();
      const form = new FormData();
      form.append('threshold', String(REQUEST_THRESHOLD));
      form.append('image', photo.file, photo.name);
      return { method: 'POST', body: form };
    });
    photo.roundTripMs = performance.now() - t0;
    const result = body && Array.isArray(body.results) ? body.results[0] : null;
    if (!res.ok || !result || result.status !== 200) {
      throw new Error(result && result.error ? `${result.error} (HTTP ${result.status})` : apiErrorMessage(res, body, text));
    }
    photo.result = result;
    photo.status = 'done';
  } catch (e) {
    photo.status = 'failed';
    photo.error = e.message;
    showError(`${photo.name}: ${e.message}`);
  }
  render();
}

// ---- drawing -------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

// Golden-angle hues: neighbouring class ids get far-apart colours.
function colorOf(classId) {
  return `hsl(${(classId * 137.508) % 360} 85% 48%)`;
}

function svgElement(tag, attributes) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
  return el;
}

function drawBoxes(svg, result, shown) {
  const { width, height } = result;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const fontSize = Math.max(width, height) / 40;
  for (const d of shown) {
    const b = d.box_px;
    const color = colorOf(d.class_id);
    const g = svgElement('g', { class: 'box' });
    g.append(svgElement('rect', { class: 'outline', x: b.xmin, y: b.ymin, width: b.xmax - b.xmin,
                                  height: b.ymax - b.ymin, stroke: color }));
    const caption = `${d.label} ${d.score.toFixed(2)}`;
    const above = b.ymin >= fontSize * 1.3;
    const y = above ? b.ymin - fontSize * 0.3 : b.ymin + fontSize;
    g.append(svgElement('rect', { class: 'tag', x: b.xmin, y: y - fontSize, height: fontSize * 1.25,
                                  width: caption.length * fontSize * 0.6, fill: color }));
    const text = svgElement('text', { x: b.xmin + fontSize * 0.15, y, 'font-size': fontSize });
    text.textContent = caption;
    g.append(text);
    svg.append(g);
  }
}

function listDetections(ul, shown) {
  ul.replaceChildren(...shown.map((d) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.setProperty('--color', colorOf(d.class_id));
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = d.label;
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = d.score.toFixed(2);
    li.append(swatch, label, ' ', score);
    return li;
  }));
}

function listTimings(dl, photo) {
  const t = photo.result.timing_ms;
  const rows = [['upload', t.upload], ['queue', t.queue], ['decode', t.decode], ['preprocess', t.preprocess],
                ['inference', t.inference], ['postprocess', t.postprocess], ['server total', t.total],
                ['round trip (browser)', photo.roundTripMs]];
  dl.replaceChildren();
  for (const [name, ms] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.dataset.stage = name;
    dd.textContent = typeof ms === 'number' ? `${ms.toFixed(1)} ms` : '–';
    dl.append(dt, dd);
  }
}

// The class menu lists the classes present at the current threshold, with
// counts; the chosen class stays listed even when none is left.
function updateClassOptions(threshold) {
  const counts = new Map();
  for (const p of photos) {
    if (p.status !== 'done') continue;
    for (const d of p.result.detections) {
      if (d.score >= threshold) counts.set(d.label, (counts.get(d.label) || 0) + 1);
    }
  }
  const chosen = classFilter.value;
  if (chosen && !counts.has(chosen)) counts.set(chosen, 0);
  const options = [new Option('All classes', '')];
  for (const label of [...counts.keys()].sort()) options.push(new Option(`${label} (${counts.get(label)})`, label));
  classFilter.replaceChildren(...options);
  classFilter.value = chosen;
}

function render() {
  const threshold = Number(slider.value);
  $('threshold-value').textContent = threshold.toFixed(2);
  updateClassOptions(threshold);
  const chosen = classFilter.value;
  let shownTotal = 0;
  let done = 0;
  let failed = 0;
  for (const photo of photos) {
    const card = photo.card;
    card.dataset.status = photo.status;
    if (photo.status === 'failed') {
      failed++;
      const state = card.querySelector('.state');
      state.textContent = `Failed: ${photo.error}`;
      state.classList.add('failed');
      continue;
    }
    if (photo.status !== 'done') continue;
    done++;
    const all = photo.result.detections;
    const shown = all.filter((d) => d.score >= threshold && (!chosen || d.label === chosen));
    shownTotal += shown.length;
    card.dataset.shown = String(shown.length);
    card.querySelector('.state').textContent = `${photo.result.width}×${photo.result.height}`;
    card.querySelector('.count').textContent = `${plural(shown.length, 'object')} shown of ${all.length} candidates`;
    drawBoxes(card.querySelector('.boxes'), photo.result, shown);
    listDetections(card.querySelector('.detections'), shown);
    listTimings(card.querySelector('.timings'), photo);
  }
  const pending = photos.length - done - failed;
  const summary = $('summary');
  summary.dataset.shown = String(shownTotal);
  summary.textContent = photos.length === 0 ? 'No images yet.'
    : `${plural(shownTotal, 'object')} shown in ${plural(done, 'image')}` +
      (failed ? `, ${failed} failed` : '') + (pending ? `, ${pending} in progress` : '') + '.';
}

// ---- input: pick, drop, paste ---------------------------------------------

const fileInput = $('files');
$('pick').addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', () => {
  addFiles([...fileInput.files]);
  fileInput.value = '';  // choosing the same file again still triggers change
});

const dropZone = $('drop-zone');
// Anywhere on the page: a photo dropped beside the zone must not make the
// browser leave the page to display it.
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  dropZone.classList.add('over');
});
document.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) dropZone.classList.remove('over');
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('over');
  const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
  if (files.length) addFiles(files);
  else showError('nothing to detect in what was dropped: drop image files (JPEG or PNG)');
});

document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData ? e.clipboardData.files : [])];
  if (files.length) {
    e.preventDefault();
    addFiles(files);
  }
});

slider.addEventListener('input', render);
classFilter.addEventListener('change', render);

loadModelInfo();
render();
