// The report page's charts: the chart specs in #report-data drawn with
// Chart.js; the body is marked when done, so a browser check knows when to look.
(function () {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.font.size = 13;
  Chart.defaults.color = '#1f2933';
  // Log axes: label only 1, 2 and 5 times a power of ten.
  const logTick = function (value) {
    const m = value / Math.pow(10, Math.floor(Math.log10(value) + 1e-9));
    return [1, 2, 5].some(k => Math.abs(m - k) < 1e-6) ? Number(value.toPrecision(3)).toLocaleString('en-US') : '';
  };
  const axis = (log, title, extra) => Object.assign({
    type: log ? 'logarithmic' : 'linear',
    title: { display: true, text: title, font: { size: 13, weight: '600' } },
    ticks: log ? { callback: logTick, autoSkip: false, maxRotation: 0 } : {},
  }, extra);
  for (const spec of data.charts) {
    const canvas = document.getElementById('chart-' + spec.id);
    const bar = spec.kind === 'bar';
    const datasets = spec.series.map(s => bar ? {
      label: s.label, data: s.values, backgroundColor: s.color, borderColor: s.color,
    } : {
      label: s.label, data: s.points.map(p => ({ x: p[0], y: p[1] })),
      borderColor: s.color, backgroundColor: s.color, showLine: s.line, borderWidth: 2.5,
      stepped: s.stepped ? 'after' : false, pointRadius: s.pointRadius, pointHoverRadius: s.pointRadius + 3,
      pointStyle: s.pointStyle, borderDash: s.dashed ? [8, 5] : [],
      fill: s.fill || false, ...(s.fill ? { backgroundColor: s.color + '40' } : {}),
    });
    new Chart(canvas, {
      type: bar ? 'bar' : 'scatter',
      data: { labels: spec.labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { position: 'bottom', labels: { usePointStyle: !bar, padding: 14, filter: item => item.text !== '' } } },
        scales: {
          x: bar ? { title: { display: true, text: spec.xLabel, font: { size: 13, weight: '600' } } }
                 : axis(spec.xLog, spec.xLabel, {}),
          y: axis(spec.yLog, spec.yLabel, bar ? { beginAtZero: true } : (spec.id === 'cdf' ? { min: 0, max: 1 } : {})),
        },
      },
    });
  }
  for (const map of data.maps || []) map.heatmaps.forEach(drawHeatmap);
  document.body.dataset.chartsReady = 'true';
})();
