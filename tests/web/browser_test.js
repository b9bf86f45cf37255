// The web UI in a real browser: Debian's chromium (headless), driven by
// playwright-core, against a real `lookout serve` that the caller started
// (tests/web/web_ui_test.cc does, with tests/server/server_process.h).
//
//   node tests/web/browser_test.js --url http://127.0.0.1:PORT --scenario detect|api-key
//        --artifacts DIR [--api-key KEY] [--timeout-ms 30000]
//
// Prints each step; exits 0 when every check passed, 1 with the reason (and
// what the page showed) otherwise. Screenshots go to DIR.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const PHOTOS = path.join(ROOT, 'data', 'small');
const CHROMIUM = '/usr/bin/chromium';
// No sandbox (CI runs as root), no GPU, nothing that talks to the network on
// its own: a headless run that works in a container and stays offline.
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

function parseArgs(argv) {
  const args = { timeoutMs: 30000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--url') args.url = value;
    else if (flag === '--scenario') args.scenario = value;
    else if (flag === '--artifacts') args.artifacts = value;
    else if (flag === '--api-key') args.apiKey = value;
    else if (flag === '--timeout-ms') args.timeoutMs = Number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.url || !args.scenario || !args.artifacts) {
    throw new Error('usage: browser_test.js --url URL --scenario detect|api-key --artifacts DIR [--api-key KEY] [--timeout-ms N]');
  }
  if (args.scenario === 'api-key' && !args.apiKey) throw new Error('--scenario api-key needs --api-key');
  return args;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function step(message) {
  console.log(`- ${message}`);
}

// What the page shows, for failure messages.
async function pageState(page) {
  try {
    return await page.evaluate(() => {
      const text = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.trim()).join(' | ');
      return `summary: "${text('#summary')}"; errors: "${text('#error p')}"; cards: "${text('.result .state')}"; ` +
        `dialog open: ${document.getElementById('key-dialog').open}`;
    });
  } catch (e) {
    return `(page state unavailable: ${e.message})`;
  }
}

// Waits (bounded) for fn(arg) to be truthy in the page.
async function waitFor(page, what, fn, arg, timeoutMs) {
  try {
    await page.waitForFunction(fn, arg, { timeout: timeoutMs });
  } catch (e) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the page shows ${await pageState(page)}`);
  }
}

// The cards' visible state: labels listed, boxes drawn, count shown.
async function cards(page) {
  return page.$$eval('.result', (nodes) => nodes.map((card) => {
    const img = card.querySelector('img').getBoundingClientRect();
    return {
      name: card.querySelector('.name').textContent,
      status: card.dataset.status,
      state: card.querySelector('.state').textContent,
      shown: Number(card.dataset.shown),
      labels: [...card.querySelectorAll('.detections .label')].map((e) => e.textContent),
      boxes: [...card.querySelectorAll('.boxes .outline')].map((r) => {
        const b = r.getBoundingClientRect();
        return { x: b.x, y: b.y, w: b.width, h: b.height, stroke: r.getAttribute('stroke') };
      }),
      image: { x: img.x, y: img.y, w: img.width, h: img.height, loaded: card.querySelector('img').naturalWidth > 0 },
      timings: Object.fromEntries([...card.querySelectorAll('.timings dd')].map((dd) => [dd.dataset.stage, dd.textContent])),
    };
  }));
}

async function shownTotal(page) {
  return Number(await page.getAttribute('#summary', 'data-shown'));
}

// Boxes on the photo: one per listed detection, non-empty, inside the image.
function checkBoxes(card) {
  check(card.boxes.length === card.labels.length && card.boxes.length === card.shown,
    `${card.name}: ${card.boxes.length} boxes drawn, ${card.labels.length} detections listed, count says ${card.shown}`);
  check(card.image.loaded && card.image.w > 50, `${card.name}: the photo is not displayed (${JSON.stringify(card.image)})`);
  for (const b of card.boxes) {
    check(b.w >= 2 && b.h >= 2 && b.stroke, `${card.name}: a box is not drawn visibly: ${JSON.stringify(b)}`);
    check(b.x >= card.image.x - 2 && b.y >= card.image.y - 2 && b.x + b.w <= card.image.x + card.image.w + 2 &&
          b.y + b.h <= card.image.y + card.image.h + 2,
    `${card.name}: box ${JSON.stringify(b)} lies outside the photo ${JSON.stringify(card.image)}`);
  }
}

// The promise's value, or null once timeoutMs have passed.
async function orNullAfter(promise, timeoutMs) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function cardNamed(all, name) {
  const card = all.find((c) => c.name === name);
  check(card, `no result card for ${name}; cards: ${all.map((c) => c.name).join(', ')}`);
  return card;
}

// Drops or pastes a file the way a browser delivers one: a DataTransfer in
// a drop or paste event.
async function deliverFile(page, how, file, mimeType) {
  const base64 = fs.readFileSync(file).toString('base64');
  await page.evaluate(({ how, name, base64, mimeType }) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: mimeType }));
    if (how === 'drop') {
      const zone = document.getElementById('drop-zone');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    } else {
      document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    }
  }, { how, name: path.basename(file), base64, mimeType });
}

async function doneCount(page, n, timeoutMs) {
  await waitFor(page, `${n} finished result(s)`, (n) =>
    document.querySelectorAll('.result[data-status="done"], .result[data-status="failed"]').length >= n, n, timeoutMs);
}

// ---- scenarios -----------------------------------------------------------

async function detectScenario(page, args, watch) {
  const t = args.timeoutMs;
  const model = await (await page.request.get(`${args.url}/api/model`)).json();

  // Listening before the page exists turns file chooser interception on
  // early; enabling it only when Enter is pressed races with the click.
  const chooserOpened = new Promise((resolve) => page.once('filechooser', resolve));

  step('the page loads, with the model info from /api/model');
  const response = await page.goto(args.url, { waitUntil: 'load', timeout: t });
  check(response.status() === 200, `GET / answered ${response.status()}`);
  await waitFor(page, 'the model info', (want) => document.getElementById('model-info').textContent.includes(want),
    `${model.labels.length} classes`, t);
  const info = await page.textContent('#model-info');
  check(info.includes(model.model), `model info "${info}" does not name the model ${model.model}`);
  check(await page.$eval('#model-select', (s) => s.hidden), 'a model menu is shown though the server has one model');

  step('the metrics link works');
  const metricsHref = await page.$eval('#metrics-link', (a) => a.href);
  const metrics = await page.request.get(metricsHref);
  check(metrics.status() === 200 && (await metrics.text()).includes('lookout_requests_total'),
    `the metrics link ${metricsHref} answered ${metrics.status()} without Prometheus text`);

  step('keyboard: Tab reaches the metrics link, the image picker, the slider and the class filter in order');
  const order = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  check(order.join(',') === 'metrics-link,pick,threshold,class-filter', `Tab order is ${order.join(', ')}`);

  step('a photo picked with the keyboard (Enter on "Choose images") shows its boxes');
  await page.focus('#pick');
  await page.keyboard.press('Enter');
  const chooser = await orNullAfter(chooserOpened, t);
  check(chooser, `no file chooser opened within ${t} ms of Enter on "Choose images"`);
  await chooser.setFiles(path.join(PHOTOS, 'darknet__dog.jpg'));
  await doneCount(page, 1, t);
  let dog = cardNamed(await cards(page), 'darknet__dog.jpg');
  check(dog.status === 'done', `darknet__dog.jpg: ${dog.state}`);
  for (const label of ['dog', 'bicycle']) {
    check(dog.labels.includes(label), `darknet__dog.jpg at 0.50: "${label}" is not listed (listed: ${dog.labels.join(', ')})`);
  }
  checkBoxes(dog);
  for (const stage of ['upload', 'queue', 'decode', 'inference']) {
    check(/^\d+\.\d ms$/.test(dog.timings[stage] || ''), `timing "${stage}" shows "${dog.timings[stage]}"`);
  }
  check(parseFloat(dog.timings.inference) > 0, `inference time shows ${dog.timings.inference}`);
  const detectsAfterUpload = watch.detectRequests.length;
  check(detectsAfterUpload === 1, `${detectsAfterUpload} requests to /api/detect for one photo`);

  step('the threshold slider re-filters without uploading again');
  const atHalf = await shownTotal(page);
  await page.focus('#threshold');
  for (let i = 0; i < 25; i++) await page.keyboard.press('ArrowLeft');
  check((await page.textContent('#threshold-value')) === '0.25', `slider shows ${await page.textContent('#threshold-value')} after 25 steps left from 0.50`);
  const atQuarter = await shownTotal(page);
  check(atQuarter > atHalf, `lowering the threshold to 0.25 left the count at ${atQuarter} (was ${atHalf} at 0.50)`);
  await page.keyboard.press('End');
  const atOne = await shownTotal(page);
  check(atOne < atHalf, `raising the threshold to 1.00 left the count at ${atOne} (was ${atHalf} at 0.50)`);
  dog = cardNamed(await cards(page), 'darknet__dog.jpg');
  checkBoxes(dog);
  await page.fill('#threshold', '0.5');
  check((await shownTotal(page)) === atHalf, `back at 0.50 the count is ${await shownTotal(page)}, not ${atHalf}`);
  check(watch.detectRequests.length === detectsAfterUpload,
    `moving the slider sent ${watch.detectRequests.length - detectsAfterUpload} more requests to /api/detect`);

  step('the class filter shows one class only');
  await page.selectOption('#class-filter', 'dog');
  dog = cardNamed(await cards(page), 'darknet__dog.jpg');
  check(dog.labels.length > 0 && dog.labels.every((l) => l === 'dog'), `class filter "dog" lists ${dog.labels.join(', ')}`);
  checkBoxes(dog);
  await page.selectOption('#class-filter', '');
  check((await shownTotal(page)) === atHalf, `with all classes again the count is ${await shownTotal(page)}, not ${atHalf}`);

  step('a dropped photo and a pasted photo are detected too');
  await deliverFile(page, 'drop', path.join(PHOTOS, 'darknet__giraffe.jpg'), 'image/jpeg');
  await deliverFile(page, 'paste', path.join(PHOTOS, 'darknet__eagle.jpg'), 'image/jpeg');
  await doneCount(page, 3, t);
  const all = await cards(page);
  const giraffe = cardNamed(all, 'darknet__giraffe.jpg');
  check(giraffe.labels.includes('giraffe'), `darknet__giraffe.jpg lists ${giraffe.labels.join(', ')}`);
  checkBoxes(giraffe);
  const eagle = cardNamed(all, 'darknet__eagle.jpg');
  check(eagle.labels.includes('bird'), `darknet__eagle.jpg lists ${eagle.labels.join(', ')}`);
  checkBoxes(eagle);

  step('a corrupt file gets the server\'s reason, readable');
  await page.setInputFiles('#files', { name: 'corrupt.jpg', mimeType: 'image/jpeg',
    buffer: Buffer.from('this is not a photo\n'.repeat(20)) });
  await doneCount(page, 4, t);
  const corrupt = cardNamed(await cards(page), 'corrupt.jpg');
  check(corrupt.status === 'failed' && corrupt.state.includes('not an image'),
    `corrupt.jpg: status ${corrupt.status}, card says "${corrupt.state}"`);
  const errorText = await page.textContent('#error');
  check(await page.isVisible('#error'), 'the error banner is hidden');
  check(errorText.includes('corrupt.jpg') && errorText.includes('not an image') && errorText.includes('HTTP 400'),
    `the error banner says "${errorText}"`);
  check((await page.getAttribute('#error', 'role')) === 'alert', 'the error banner is not role=alert');
  check((await cards(page)).filter((c) => c.status === 'done').length === 3, 'the corrupt file disturbed the other results');

  const shot = path.join(args.artifacts, 'web-ui.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot: ${shot}`);
}

async function apiKeyScenario(page, args, watch, context) {
  const t = args.timeoutMs;
  step('with --api-key the page and its assets load without a key');
  const response = await page.goto(args.url, { waitUntil: 'load', timeout: t });
  check(response.status() === 200, `GET / answered ${response.status()}`);
  await waitFor(page, 'the model info', () => /classes/.test(document.getElementById('model-info').textContent), null, t);

  step('the first upload asks for the key; a wrong key is asked again');
  await page.setInputFiles('#files', path.join(PHOTOS, 'darknet__dog.jpg'));
  await waitFor(page, 'the API key dialog', () => document.getElementById('key-dialog').open, null, t);
  const reason = await page.textContent('#key-reason');
  check(reason.includes('missing API key'), `the key dialog says "${reason}"`);
  check(await page.evaluate(() => document.activeElement.id === 'key-input'), 'the key field does not have the focus');
  await page.keyboard.type('not-the-key');
  await page.keyboard.press('Enter');
  await waitFor(page, 'the key dialog again after a wrong key',
    () => document.getElementById('key-dialog').open && document.getElementById('key-reason').textContent.includes('wrong API key'),
    null, t);
  await page.keyboard.type(args.apiKey);
  await page.keyboard.press('Enter');
  await doneCount(page, 1, t);
  const dog = cardNamed(await cards(page), 'darknet__dog.jpg');
  check(dog.status === 'done' && dog.labels.includes('dog'), `darknet__dog.jpg after the key: ${dog.state}, ${dog.labels}`);
  checkBoxes(dog);

  step('the key lives in this tab\'s sessionStorage only, and is sent as a header');
  const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: localStorage.length,
    cookie: document.cookie }));
  check(stored.session.length === 1 && stored.session[0] === args.apiKey, `sessionStorage holds ${JSON.stringify(stored.session)}`);
  check(stored.local === 0 && stored.cookie === '', `the key leaked to localStorage (${stored.local}) or cookies ("${stored.cookie}")`);
  const last = watch.detectRequests[watch.detectRequests.length - 1];
  check((await last.allHeaders()).authorization === `Bearer ${args.apiKey}`, 'the last /api/detect request carried no Bearer key');

  step('the next upload does not ask again');
  await page.setInputFiles('#files', path.join(PHOTOS, 'darknet__giraffe.jpg'));
  await doneCount(page, 2, t);
  check(!(await page.evaluate(() => document.getElementById('key-dialog').open)), 'the key dialog opened again');
  check(watch.detectRequests.length === 4,
    `${watch.detectRequests.length} requests to /api/detect; expected 4 (no key, wrong key, key, second photo)`);
  const shot = path.join(args.artifacts, 'web-ui-api-key.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot: ${shot}`);

  step('another tab starts without the key; declining to give one is a readable error');
  const other = await context.newPage();
  await other.goto(args.url, { waitUntil: 'load', timeout: t });
  check((await other.evaluate(() => sessionStorage.length)) === 0, 'a new tab inherited the key');
  await other.setInputFiles('#files', path.join(PHOTOS, 'darknet__dog.jpg'));
  await waitFor(other, 'the API key dialog in the new tab', () => document.getElementById('key-dialog').open, null, t);
  await other.keyboard.press('Escape');
  await doneCount(other, 1, t);
  const declined = cardNamed(await cards(other), 'darknet__dog.jpg');
  check(declined.status === 'failed' && declined.state.includes('no API key was given'),
    `after Escape the card says "${declined.state}"`);
  const errorText = await other.textContent('#error');
  check(errorText.includes('missing API key') && errorText.includes('HTTP 401'), `the error banner says "${errorText}"`);
  await other.close();
}

// A server with several models: the menu lists them (the default first),
// and a photo goes to the model chosen when it was added.
async function modelsScenario(page, args, watch) {
  const t = args.timeoutMs;
  const catalog = await (await page.request.get(`${args.url}/api/model`)).json();
  check(catalog.models.length >= 2, `the server serves ${catalog.models.length} model(s); the scenario needs two`);
  step('the page offers a model menu with every model, the default first');
  await page.goto(args.url, { waitUntil: 'load', timeout: t });
  await waitFor(page, 'the model menu', () => !document.getElementById('model-select').hidden, null, t);
  const options = await page.$$eval('#model-select option', (os) => os.map((o) => o.value));
  check(JSON.stringify(options) === JSON.stringify(catalog.models.map((m) => m.name)),
    `the menu lists ${options}, the server ${catalog.models.map((m) => m.name)}`);

  step('a photo sent with the default model, then one with the other');
  await page.setInputFiles('#files', path.join(PHOTOS, 'darknet__dog.jpg'));
  await doneCount(page, 1, t);
  const other = catalog.models[1];
  await page.selectOption('#model-select', other.name);
  await waitFor(page, 'the model info of the chosen model',
    (file) => document.getElementById('model-info').textContent.includes(file), other.model, t);
  await page.setInputFiles('#files', path.join(PHOTOS, 'darknet__giraffe.jpg'));
  await doneCount(page, 2, t);
  const urls = watch.detectRequests.map((r) => new URL(r.url()));
  check(urls.length === 2 && !urls[0].searchParams.has('model') && urls[1].searchParams.get('model') === other.name,
    `the photos went to ${urls.map((u) => u.search || '(default)')}`);
  const shot = path.join(args.artifacts, 'web-ui-models.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot: ${shot}`);
}

// ---- main ----------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium (scripts/setup does)`);
  fs.mkdirSync(args.artifacts, { recursive: true });
  const origin = new URL(args.url).origin;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookout-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: args.timeoutMs,
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(args.timeoutMs);
    // Everything the page loads comes from the server: anything else is
    // refused and reported (the page must work offline, without a CDN).
    const offsite = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + '/')) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    const watch = { detectRequests: [], pageErrors: [], consoleErrors: [] };
    const observe = (page) => {
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/detect') watch.detectRequests.push(r);
      });
      page.on('pageerror', (e) => watch.pageErrors.push(e.message));
      page.on('console', (m) => {
        // 4xx answers the test asks for are logged by the browser as
        // "Failed to load resource"; anything else (a CSP refusal, a
        // script error) is a failure.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) watch.consoleErrors.push(m.text());
      });
    };
    context.on('page', observe);
    let page = context.pages()[0];  // the persistent context's first tab, opened before `observe` was set
    if (page) observe(page);
    else page = await context.newPage();

    if (args.scenario === 'detect') await detectScenario(page, args, watch);
    else if (args.scenario === 'api-key') await apiKeyScenario(page, args, watch, context);
    else if (args.scenario === 'models') await modelsScenario(page, args, watch);
    else throw new Error(`unknown scenario ${args.scenario}`);

    check(offsite.length === 0, `the page tried to load from elsewhere: ${offsite.join(', ')}`);
    check(watch.pageErrors.length === 0, `uncaught errors in the page: ${watch.pageErrors.join(' | ')}`);
    check(watch.consoleErrors.length === 0, `errors in the browser console: ${watch.consoleErrors.join(' | ')}`);
    console.log(`PASS ${args.scenario}`);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
});
