/* report.html's charts: throughput, latency, latency quantiles and node
 * roles over time, from the JSON in #report-data, with fault windows shaded
 * by the faultBands plugin. Links of class "opref" mark their time span on
 * every chart. Every string from the history reaches the page as text
 * (textContent, canvas text), never as markup. */
(function () {
  'use strict';
  var el = document.getElementById('report-data');
  if (!el || !window.Chart) return;
  var data = JSON.parse(el.textContent);
  var charts = [];
  var AXIS_WIDTH = 76; // px: every y axis as wide, so the plots line up
  var OUTCOME = { ok: [26, 127, 55], fail: [191, 135, 0], info: [207, 34, 46] };
  var KINDS = [[9, 105, 218], [130, 80, 223], [188, 76, 0], [27, 124, 131], [191, 57, 137], [87, 96, 106]];
  var ROLES = { leader: '#1a7f37', follower: '#8cc8ff', observer: '#b392f0', joining: '#e3b341', removed: '#8c959f', down: '#cf222e' };

  function rgba(c, a) { return 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + a + ')'; }
  function secs(v) { return (Math.round(v * 1000) / 1000).toString(); }

  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#424a53';

  function xAxis() {
    return {
      type: 'linear', min: 0, max: Math.max(data.end, 1), grid: { color: '#eaeef2' },
      title: { display: true, text: 'time since the run started (s)' },
      ticks: { maxTicksLimit: 14, includeBounds: false, callback: function (v) { return secs(v); } }
    };
  }

  function yAxis(title, type) {
    var y = {
      type: type || 'linear', grid: { color: '#eaeef2' }, title: { display: true, text: title },
      afterFit: function (scale) { scale.width = AXIS_WIDTH; }
    };
    if (type === 'logarithmic') {
      y.ticks = { callback: function (v) { var e = Math.log10(v); return Math.abs(e - Math.round(e)) < 1e-9 ? secs(v) : ''; } };
    } else {
      y.beginAtZero = true;
    }
    return y;
  }

  function options(yTitle, yType) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
      layout: { padding: { top: FaultBands.padding(data.faults), right: 12 } },
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      scales: { x: xAxis(), y: yAxis(yTitle, yType) },
      plugins: {
        faultBands: { bands: data.faults },
        legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 10 } },
        tooltip: { callbacks: {} }
      }
    };
  }

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    var chart = new Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  // Throughput: completions per second by outcome, as steps over buckets.
  (function () {
    var t = data.throughput, n = t.ok.length, bw = data.bucket;
    function steps(rates) {
      var pts = [];
      for (var i = 0; i < n; i++) pts.push({ x: i * bw, y: rates[i] });
      pts.push({ x: n * bw, y: rates[n - 1] });
      return pts;
    }
    var o = options('operations per second', 'linear');
    o.plugins.tooltip.callbacks.title = function (items) {
      var x = items[0].parsed.x; return secs(x) + '–' + secs(x + bw) + ' s';
    };
    o.plugins.tooltip.callbacks.label = function (item) {
      return item.dataset.label + ': ' + secs(item.parsed.y) + ' ops/s';
    };
    function ds(label, rates, c, fill) {
      return {
        label: label, data: steps(rates), stepped: 'before', borderColor: rgba(c, 1), backgroundColor: rgba(c, fill ? 0.25 : 1),
        fill: fill ? 'origin' : false, borderWidth: 1.5, pointRadius: 0, pointHitRadius: 4
      };
    }
    if (!n) return;
    make('chart-throughput', {
      type: 'line', options: o,
      data: { datasets: [ds('ok', t.ok, OUTCOME.ok, true), ds('fail', t.fail, OUTCOME.fail, false), ds('info (indeterminate)', t.info, OUTCOME.info, false)] }
    });
  })();

  // Latency: one scatter series per operation and outcome; colour by
  // operation, marker by outcome.
  var fs = [];
  data.latency.concat(data.quantiles).forEach(function (s) { if (fs.indexOf(s.f) < 0) fs.push(s.f); });
  fs.sort();
  function kindColor(f) { return KINDS[fs.indexOf(f) % KINDS.length]; }

  (function () {
    var o = options('latency (ms, log scale)', 'logarithmic');
    o.interaction = { mode: 'nearest', intersect: true };
    o.plugins.tooltip.callbacks.label = function (item) {
      return item.dataset.label + ': ' + secs(item.parsed.y) + ' ms, invoked at ' + secs(item.parsed.x) + ' s';
    };
    var style = { ok: ['circle', 1.6], fail: ['crossRot', 3.5], info: ['triangle', 3.5] };
    var datasets = data.latency.map(function (s) {
      var c = kindColor(s.f), st = style[s.type] || style.ok;
      var label = s.f + ' ' + s.type + (s.points.length < s.total ? ' (' + s.points.length + ' of ' + s.total + ')' : ' (' + s.total + ')');
      return {
        label: label, data: s.points.map(function (p) { return { x: p[0], y: Math.max(p[1], 0.001) }; }),
        pointStyle: st[0], pointRadius: st[1], pointHoverRadius: st[1] + 2, borderWidth: s.type === 'ok' ? 0 : 1.2,
        backgroundColor: rgba(c, s.type === 'ok' ? 0.45 : 0.9), borderColor: rgba(c, 0.95), showLine: false
      };
    });
    if (datasets.length) make('chart-latency', { type: 'scatter', data: { datasets: datasets }, options: o });
  })();

  // Quantiles of ok latencies per bucket: p50 solid, p90 dashed, p99 dotted.
  (function () {
    var o = options('latency (ms, log scale)', 'logarithmic');
    o.plugins.tooltip.callbacks.label = function (item) {
      return item.dataset.label + ': ' + secs(item.parsed.y) + ' ms';
    };
    o.plugins.tooltip.callbacks.title = function (items) {
      var x = items[0].parsed.x - data.bucket / 2; return 'invoked ' + secs(x) + '–' + secs(x + data.bucket) + ' s';
    };
    var dashes = { p50: [], p90: [6, 3], p99: [2, 3] };
    var datasets = [];
    data.quantiles.forEach(function (q) {
      ['p50', 'p90', 'p99'].forEach(function (k) {
        var c = kindColor(q.f);
        datasets.push({
          label: q.f + ' ' + k, borderColor: rgba(c, k === 'p50' ? 1 : 0.8), backgroundColor: rgba(c, 1), borderDash: dashes[k],
          borderWidth: k === 'p99' ? 2 : 1.5, pointRadius: 0, pointHitRadius: 4, spanGaps: false,
          data: q[k].map(function (v, i) { return { x: (i + 0.5) * data.bucket, y: v === null ? null : Math.max(v, 0.001) }; })
        });
      });
    });
    if (datasets.length) make('chart-quantiles', { type: 'line', data: { datasets: datasets }, options: o });
  })();

  // Node roles: a row per node, a bar per span of one role; a row of client
  // outages; triangles where a node finished a version change.
  (function () {
    var box = document.getElementById('chart-roles-box');
    if (!box) return;
    var rows = data.nodes.slice();
    var CLIENTS = 'clients';
    rows.push(CLIENTS);
    box.style.height = (rows.length * 34 + 130) + 'px';
    var byRole = {};
    data.roles.forEach(function (s) {
      (byRole[s.role] = byRole[s.role] || []).push({ x: [s.start, s.end], y: s.node });
    });
    var names = Object.keys(byRole).sort(function (a, b) {
      var order = ['leader', 'follower', 'down'];
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 9 : ia) - (ib < 0 ? 9 : ib) || (a < b ? -1 : 1);
    });
    var datasets = names.map(function (r) {
      return {
        label: r, data: byRole[r], backgroundColor: ROLES[r] || '#d4a72c', borderWidth: 0,
        grouped: false, barPercentage: 0.9, categoryPercentage: 0.8
      };
    });
    datasets.push({
      label: 'client outage (no ok operation)', data: data.outages.map(function (s) { return { x: [s.start, s.end], y: CLIENTS }; }),
      backgroundColor: 'rgba(87, 96, 106, 0.7)', borderWidth: 0, grouped: false, barPercentage: 0.9, categoryPercentage: 0.8
    });
    if (data.versions && data.versions.length) {
      datasets.push({
        type: 'scatter', label: 'version change', pointStyle: 'triangle', pointRadius: 8, pointHoverRadius: 10,
        backgroundColor: '#ffd33d', borderColor: '#24292f', borderWidth: 1.5,
        data: data.versions.map(function (v) { return { x: v.at, y: v.node, detail: v.f + ' ' + v.detail }; })
      });
    }
    var o = options('', 'category');
    o.indexAxis = 'y';
    o.interaction = { mode: 'nearest', intersect: true };
    o.scales.y = { type: 'category', labels: rows, offset: true, grid: { display: false }, afterFit: function (s) { s.width = AXIS_WIDTH; } };
    o.plugins.tooltip.callbacks.label = function (item) {
      var raw = item.raw;
      if (Array.isArray(raw.x)) return raw.y + ' ' + item.dataset.label + ': ' + secs(raw.x[0]) + '–' + secs(raw.x[1]) + ' s';
      return raw.y + ' ' + raw.detail + ' at ' + secs(raw.x) + ' s';
    };
    make('chart-roles', { type: 'bar', data: { datasets: datasets }, options: o });
  })();

  // Operation links: mark the span on every chart and bring the charts into view.
  var bar = document.getElementById('marker-bar');
  var text = document.getElementById('marker-text');
  function mark(t0, t1, what) {
    charts.forEach(function (c) { FaultBands.mark(c, t0, t1); });
    if (bar && text) {
      bar.hidden = t0 === undefined;
      text.textContent = t0 === undefined ? '' : 'Marked on the charts: ' + what;
    }
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a.opref');
    if (!a) return;
    e.preventDefault();
    var t0 = parseFloat(a.getAttribute('data-t0')), t1 = parseFloat(a.getAttribute('data-t1'));
    if (isNaN(t0)) return;
    // Name what is marked: the operation's line, or the table row's cells.
    var row = a.closest('tr'), line = a.closest('li'), what = a.textContent;
    if (line) what = line.textContent;
    else if (row) what = Array.prototype.map.call(row.cells, function (c) { return c.textContent.trim(); }).filter(Boolean).join(' · ');
    mark(t0, isNaN(t1) ? t0 : t1, what.replace(/\s+/g, ' ').trim());
    var target = document.getElementById('timeline');
    if (target) target.scrollIntoView({ block: 'start' });
  });
  var clear = document.getElementById('marker-clear');
  if (clear) clear.addEventListener('click', function () { mark(); });
})();
