'use strict';
// Draw the sync-health page's charts with Chart.js, from the figures the page holds as JSON (the same as its
// tables, which stay readable without this script). The server makes the words of the data; the charts' own
// few words come from the JavaScript catalogue.
(function () {
  const gettext = typeof window.gettext === 'function' ? window.gettext : (text) => text;
  const interpolate = typeof window.interpolate === 'function'
    ? window.interpolate : (text, values) => text.replace('%s', values[0]);
  const COLOURS = ['#417690', '#79aec8', '#c8a200', '#ba2121', '#2a7a2a', '#9a6700', '#6a4c93', '#666666'];
  const CAP_COLOUR = '#ba2121';
  const LANGUAGE = document.documentElement.lang || undefined;

  function colour(n) {
    return COLOURS[n % COLOURS.length];
  }

  function options(extra) {
    return Object.assign({
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    }, extra);
  }

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  function drawStates(states) {
    draw('health-states-chart', {
      type: 'bar',
      data: {
        labels: states.labels,
        datasets: [{ label: gettext('Groups'), data: states.counts, backgroundColor: colour(0) }],
      },
      options: options({ plugins: { legend: { display: false } } }),
    });
  }

  function drawCalls(minutes) {
    const datasets = minutes.series.map((series, n) => ({
      label: series.words, data: series.calls, borderColor: colour(n), backgroundColor: colour(n),
      pointRadius: 0, borderWidth: 2, tension: 0,
    }));
    minutes.caps.forEach((cap) => datasets.push({
      label: interpolate(gettext("Chat's cap: %s calls a minute"), [cap.toLocaleString(LANGUAGE)]),
      data: minutes.labels.map(() => cap), borderColor: CAP_COLOUR, backgroundColor: CAP_COLOUR,
      borderDash: [6, 4], pointRadius: 0, borderWidth: 2,
    }));
    draw('health-calls-chart', {
      type: 'line',
      data: { labels: minutes.labels, datasets },
      options: options({
        scales: {
          x: { title: { display: true, text: gettext('Minute') } },
          // Logarithmic, so a few calls a minute still show a shape beside a cap of thousands; a minute without
          // calls leaves a gap.
          y: { type: 'logarithmic', min: 1, title: { display: true, text: gettext('Calls a minute') } },
        },
      }),
    });
  }

  function drawRefusals(refusals) {
    draw('health-refusals-chart', {
      type: 'bar',
      data: {
        labels: refusals.labels,
        datasets: [
          { label: gettext('Last 24 hours'), data: refusals.day, backgroundColor: colour(3) },
          { label: gettext('Last 7 days'), data: refusals.week, backgroundColor: colour(2) },
        ],
      },
      options: options({
        plugins: { tooltip: { callbacks: { title: (items) => refusals.meanings[items[0].dataIndex] } } },
      }),
    });
  }

  function start() {
    const source = document.getElementById('health-data');
    if (!source || typeof window.Chart !== 'function') return;
    const data = JSON.parse(source.textContent);
    drawStates(data.states);
    drawCalls(data.minutes);
    drawRefusals(data.refusals);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
