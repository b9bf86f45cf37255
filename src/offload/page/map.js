// The offloading map's heatmaps, as SVG: one rectangle per measured cell
// (bandwidth across, RTT up, both log-spaced categories as in the sweep's
// grid), coloured by the measured winner and labelled with its speedup over
// local; the model's break-even bandwidth per RTT as a staircase over it;
// the seed experiment's setting as a star. Called by report.js.
const drawHeatmap = (function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const CELL_W = 92, CELL_H = 54;
  const LEFT = 64, TOP = 12, BOTTOM = 52, RIGHT = 16;

  const el = (parent, name, attrs, text) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  };
  const withTitle = (node, text) => { el(node, 'title', {}, text); return node; };
  const label = (v) => Number(v.toPrecision(3)).toLocaleString('en-US');

  return function (h) {
    const svg = document.getElementById('heatmap-' + h.id);
    const nx = h.bandwidths.length, ny = h.rtts.length;
    const width = LEFT + nx * CELL_W + RIGHT, height = TOP + ny * CELL_H + BOTTOM;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    // Column i's centre; RTT rows from the lowest at the bottom.
    const cx = (i) => LEFT + (i + 0.5) * CELL_W;
    const cy = (j) => TOP + (ny - j - 0.5) * CELL_H;
    const row = (rtt) => h.rtts.indexOf(rtt);
    // A bandwidth between the grid's columns, on a log scale between their
    // centres (beyond the outer ones, clamped to the plot's edges).
    const xOf = (bw) => {
      const lo = LEFT, hi = LEFT + nx * CELL_W;
      if (bw === null) return hi;
      const logs = h.bandwidths.map(Math.log10), v = Math.log10(bw);
      if (nx === 1) return v === logs[0] ? cx(0) : (v < logs[0] ? lo : hi);
      let i = 0;
      while (i < nx - 2 && v > logs[i + 1]) i++;
      const x = cx(i) + (v - logs[i]) / (logs[i + 1] - logs[i]) * CELL_W;
      return Math.min(hi, Math.max(lo, x));
    };

    const grid = el(svg, 'g', { class: 'map-grid' });
    const present = new Set(h.cells.map(c => c.bw + '/' + c.rtt));
    for (let i = 0; i < nx; i++)
      for (let j = 0; j < ny; j++)
        if (!present.has(h.bandwidths[i] + '/' + h.rtts[j])) withTitle(el(grid, 'rect', {
          class: 'map-missing', x: LEFT + i * CELL_W + 1, y: TOP + (ny - j - 1) * CELL_H + 1,
          width: CELL_W - 2, height: CELL_H - 2, fill: '#eef2f6',
        }), `${label(h.bandwidths[i])} Mbit/s, ${label(h.rtts[j])} ms RTT: not measured`);

    // The labels go on top of the boundary, drawn after it.
    const labels = [];
    for (const c of h.cells) {
      const i = h.bandwidths.indexOf(c.bw), j = row(c.rtt);
      const x = LEFT + i * CELL_W + 1, y = TOP + (ny - j - 1) * CELL_H + 1;
      const g = withTitle(el(svg, 'g', {}), c.text);
      if (!c.measured) {
        el(g, 'rect', { class: 'map-unmeasured', x, y, width: CELL_W - 2, height: CELL_H - 2, fill: '#cbd2d9' });
        labels.push([{ x: cx(i), y: cy(j) + 4, 'text-anchor': 'middle', class: 'map-label dark' }, 'no runs', c.text]);
        continue;
      }
      el(g, 'rect', {
        class: 'map-cell' + (c.missed ? ' map-missed' : ''), 'data-winner': c.winner, x, y,
        width: CELL_W - 2, height: CELL_H - 2, fill: h.colours[c.winner],
      });
      labels.push([{ x: cx(i), y: cy(j) + 5, 'text-anchor': 'middle', class: 'map-label' }, c.speedup.toFixed(1) + 'x', c.text]);
      if (c.missed) labels.push([{ x: x + 6, y: y + 15, class: 'map-label' }, '⚠', c.text]);
    }

    // The break-even staircase: per RTT row a vertical stroke at its
    // bandwidth, joined to the next row's.
    const rows = h.boundary.filter(b => row(b.rtt) >= 0).sort((a, b) => a.rtt - b.rtt);
    if (rows.length > 0) {
      const points = [];
      for (const b of rows) {
        const j = row(b.rtt), x = xOf(b.bw);
        points.push(`${x},${cy(j) + CELL_H / 2}`, `${x},${cy(j) - CELL_H / 2}`);
      }
      const text = rows.map(b => `${label(b.rtt)} ms RTT: ` +
        (b.bw === null ? 'no bandwidth' : `${label(b.bw)} Mbit/s`)).join('; ');
      const line = withTitle(el(svg, 'g', { class: 'map-boundary' }), "the model's break-even (remote = local per image): " + text);
      el(line, 'polyline', { points: points.join(' '), fill: 'none', stroke: '#ffffff', 'stroke-width': 6 });
      el(line, 'polyline', { points: points.join(' '), fill: 'none', stroke: '#1f2933', 'stroke-width': 3, 'stroke-dasharray': '7 4' });
    }

    for (const [attrs, text, title] of labels) withTitle(el(svg, 'text', attrs, text), title);

    if (h.seed && row(h.seed.rtt) >= 0) {
      const g = withTitle(el(svg, 'g', { class: 'map-seed' }), h.seed.text);
      el(g, 'text', { x: xOf(h.seed.bw), y: cy(row(h.seed.rtt)) + 22, 'text-anchor': 'middle', class: 'map-star' }, '★');
    }

    // Axes: the grid's settings as categories.
    for (let i = 0; i < nx; i++)
      el(svg, 'text', { x: cx(i), y: TOP + ny * CELL_H + 16, 'text-anchor': 'middle', class: 'map-tick' }, label(h.bandwidths[i]));
    for (let j = 0; j < ny; j++)
      el(svg, 'text', { x: LEFT - 8, y: cy(j) + 4, 'text-anchor': 'end', class: 'map-tick' }, label(h.rtts[j]));
    el(svg, 'text', { x: LEFT + nx * CELL_W / 2, y: height - 10, 'text-anchor': 'middle', class: 'map-axis' },
      'bandwidth (Mbit/s, log-spaced)');
    el(svg, 'text', {
      x: 14, y: TOP + ny * CELL_H / 2, 'text-anchor': 'middle', class: 'map-axis',
      transform: `rotate(-90 14 ${TOP + ny * CELL_H / 2})`,
    }, 'RTT (ms)');
  };
})();
