#!/usr/bin/env node
// Opens a `lookout report` page in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) and checks what a reader
// would see: every chart canvas holds a Chart.js chart with data points and
// coloured pixels drawn inside its plot area, the page raised no script
// error, and it made no network request at all (file:// page, everything
// inlined). The offloading map's heatmaps (SVG) must each hold measured
// cells, drawn in a saturated colour. Saves a full-page screenshot.
//
//   node tests/report/check-report.js REPORT.html SCREENSHOT.png [--expect-charts N] [--expect-map-cells N]
//
// Exit codes: 0 every check passed; 1 a check failed (the message names the
// chart); 2 bad usage or the browser could not start.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL } = require('url');

const CHROMIUM = process.env.LOOKOUT_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const VIEWPORT = { width: 1280, height: 900 };
const READY_TIMEOUT_MS = 30000;
// A chart counts as drawn when its plot area has at least this many pixels
// in a saturated colour: the series colours are saturated, while the grid,
// axes and background are grey or transparent.
const MIN_COLOURED_PIXELS = 150;
const MIN_SATURATION = 40;

function usage(message) {
  if (message) console.error(`check-report: ${message}`);
  console.error('usage: node tests/report/check-report.js REPORT.html SCREENSHOT.png [--expect-charts N] ' +
    '[--expect-map-cells N]');
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  let expectCharts = null, expectMapCells = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--expect-charts') {
      expectCharts = Number(argv[++i]);
      if (!Number.isInteger(expectCharts) || expectCharts < 1) usage('--expect-charts needs a positive integer');
    } else if (argv[i] === '--expect-map-cells') {
      expectMapCells = Number(argv[++i]);
      if (!Number.isInteger(expectMapCells) || expectMapCells < 0) usage('--expect-map-cells needs a count');
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      usage();
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 2) usage('need REPORT.html and SCREENSHOT.png');
  return { report: path.resolve(positional[0]), screenshot: path.resolve(positional[1]), expectCharts, expectMapCells };
}

// Runs in the page: one entry per canvas.
function inspectCharts(minSaturation) {
  const finite = (v) => typeof v === 'number' && Number.isFinite(v);
  return Array.from(document.querySelectorAll('canvas')).map((canvas) => {
    const name = canvas.getAttribute('aria-label') || canvas.id || '(unnamed canvas)';
    const chart = window.Chart && window.Chart.getChart(canvas);
    if (!chart) return { id: canvas.id, name, points: 0, coloured: 0, problem: 'no Chart.js chart on the canvas' };
    let points = 0;
    chart.data.datasets.forEach((dataset, i) => {
      const meta = chart.getDatasetMeta(i);
      if (meta.hidden) return;
      meta.data.forEach((element, j) => {
        const value = dataset.data[j];
        const valid = finite(value) || (value && finite(value.x) && finite(value.y));
        if (valid && finite(element.x) && finite(element.y)) points++;
      });
    });
    const area = chart.chartArea;
    const ratio = chart.currentDevicePixelRatio || 1;
    let coloured = 0;
    if (area && area.right > area.left && area.bottom > area.top) {
      const pixels = canvas.getContext('2d').getImageData(
        Math.floor(area.left * ratio), Math.floor(area.top * ratio),
        Math.ceil((area.right - area.left) * ratio), Math.ceil((area.bottom - area.top) * ratio)).data;
      for (let i = 0; i < pixels.length; i += 4) {
        const r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
        if (pixels[i + 3] > 128 && Math.max(r, g, b) - Math.min(r, g, b) > minSaturation) coloured++;
      }
    }
    return { id: canvas.id, name, points, coloured, problem: null };
  });
}

// Runs in the page: one entry per heatmap of the offloading map. A cell
// counts when its rectangle has a size and a saturated fill.
function inspectHeatmaps(minSaturation) {
  const saturated = (colour) => {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour || '');
    if (!m) return false;
    const rgb = m.slice(1).map(h => parseInt(h, 16));
    return Math.max(...rgb) - Math.min(...rgb) > minSaturation;
  };
  return Array.from(document.querySelectorAll('svg.map-heatmap')).map((svg) => {
    const cells = Array.from(svg.querySelectorAll('rect.map-cell'));
    const drawn = cells.filter((r) => {
      const box = r.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && saturated(r.getAttribute('fill'));
    });
    return {
      id: svg.id, name: svg.getAttribute('aria-label') || svg.id, cells: cells.length, drawn: drawn.length,
      labels: svg.querySelectorAll('text.map-label').length, missing: svg.querySelectorAll('rect.map-missing').length,
      boundary: svg.querySelectorAll('g.map-boundary polyline').length > 0,
      seed: svg.querySelectorAll('g.map-seed').length > 0,
    };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.report)) usage(`no such file: ${args.report}`);
  const { chromium } = require('playwright-core');

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookout-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: VIEWPORT,
    });
  } catch (e) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    console.error(`check-report: cannot start ${CHROMIUM}: ${e.message.split('\n')[0]} ` +
      '(install Debian chromium with scripts/setup)');
    process.exit(2);
  }

  const failures = [];
  const pageUrl = pathToFileURL(args.report).href;
  const requests = [];
  const scriptErrors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    context.on('request', (request) => {
      if (request.url() !== pageUrl) requests.push(request.url());
    });
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') scriptErrors.push(message.text());
    });

    await page.goto(pageUrl, { waitUntil: 'load' });
    try {
      await page.waitForFunction(() => document.body.dataset.chartsReady === 'true', null,
        { timeout: READY_TIMEOUT_MS });
    } catch (e) {
      failures.push(`the charts never finished rendering within ${READY_TIMEOUT_MS / 1000} s ` +
        '(the page script did not reach its end)');
    }

    const charts = await page.evaluate(inspectCharts, MIN_SATURATION);
    if (charts.length === 0) failures.push('the page has no chart canvas');
    if (args.expectCharts !== null && charts.length !== args.expectCharts)
      failures.push(`expected ${args.expectCharts} charts, found ${charts.length}`);
    for (const c of charts) {
      console.log(`check-report: chart '${c.name}' (${c.id}): ${c.points} data points, ` +
        `${c.coloured} coloured pixels`);
      if (c.problem) failures.push(`chart '${c.name}' (${c.id}): ${c.problem}`);
      else if (c.points === 0) failures.push(`chart '${c.name}' (${c.id}) is empty: no data points`);
      else if (c.coloured < MIN_COLOURED_PIXELS)
        failures.push(`chart '${c.name}' (${c.id}) drew almost nothing: ${c.coloured} coloured pixels ` +
          `in its plot area (at least ${MIN_COLOURED_PIXELS} expected)`);
    }
    const heatmaps = await page.evaluate(inspectHeatmaps, MIN_SATURATION);
    let mapCells = 0;
    for (const h of heatmaps) {
      console.log(`check-report: heatmap (${h.id}): ${h.drawn} of ${h.cells} cells drawn, ${h.labels} labels, ` +
        `${h.missing} missing, boundary ${h.boundary ? 'drawn' : 'absent'}${h.seed ? ', seed marked' : ''}`);
      mapCells += h.drawn;
      if (h.cells === 0) failures.push(`heatmap (${h.id}) is empty: no measured cell`);
      else if (h.drawn < h.cells) failures.push(`heatmap (${h.id}) drew ${h.drawn} of its ${h.cells} cells`);
      if (!h.boundary) failures.push(`heatmap (${h.id}) has no break-even boundary`);
    }
    if (args.expectMapCells !== null && mapCells !== args.expectMapCells)
      failures.push(`expected ${args.expectMapCells} heatmap cells, found ${mapCells}`);
    for (const error of scriptErrors) failures.push(`script error in the page: ${error}`);
    for (const url of requests) failures.push(`the page made a network request: ${url}`);

    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`check-report: screenshot ${args.screenshot}`);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }

  if (failures.length > 0) {
    for (const f of failures) console.error(`check-report: FAIL: ${f}`);
    process.exit(1);
  }
  console.log(`check-report: ok, ${args.report}`);
}

main().catch((e) => {
  console.error(`check-report: ${e.stack || e}`);
  process.exit(2);
});
