/* faultBands: a Chart.js 3 plugin that shades fault windows on a chart whose
 * x axis is a linear scale of seconds, labels them in rows above the plot
 * (a label that fits in no row is left out; hovering a band names it in the
 * canvas's tooltip title), and draws a marker: a span the reader picked.
 *
 * options.plugins.faultBands = {bands: [{start, end, name, targets, kind,
 * healed, detail}], rows: 3}; reserve the label rows with
 * layout: {padding: {top: FaultBands.padding(bands)}}.
 * FaultBands.mark(chart, t0, t1) sets the marker, FaultBands.mark(chart)
 * clears it, FaultBands.marker(chart) returns it. */
(function () {
  'use strict';
  var ROW = 13; // height of a label row, px
  var ROWS = 3;
  var COLORS = {
    kill: [207, 34, 46], pause: [130, 80, 223], partition: [9, 105, 218], clients: [27, 124, 131],
    link: [191, 135, 0], clock: [188, 76, 0], upgrade: [26, 127, 55], reconfig: [84, 110, 160],
    'power-loss': [122, 31, 36], 'fsync-delay': [143, 92, 41], 'write-delay': [181, 140, 94],
    'disk-error': [176, 52, 110], 'disk-full': [110, 64, 140], wipe: [45, 45, 45], corrupt: [150, 20, 90],
    other: [87, 96, 106]
  };

  function color(kind, alpha) {
    var c = COLORS[kind] || COLORS.other;
    return 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + alpha + ')';
  }

  function label(b, short) {
    var t = b.targets && b.targets.length ? ' ' + b.targets.join(',') : '';
    return short ? b.name : b.name + t;
  }

  // state copies the bands out of Chart.js's option resolvers once, so that
  // drawing reads plain objects.
  function state(chart, opts) {
    if (!chart.$faultBands) {
      var bands = [];
      (opts.bands || []).forEach(function (b) {
        bands.push({
          start: +b.start, end: +b.end, name: String(b.name || ''), kind: String(b.kind || 'other'),
          targets: b.targets ? Array.prototype.slice.call(b.targets).map(String) : [],
          healed: !!b.healed, detail: b.detail ? String(b.detail) : ''
        });
      });
      bands.sort(function (a, b) { return a.start - b.start; });
      chart.$faultBands = { bands: bands, rows: opts.rows || ROWS, marker: null };
    }
    return chart.$faultBands;
  }

  function span(x, area, b) {
    var x0 = Math.max(area.left, x.getPixelForValue(b.start));
    var x1 = Math.min(area.right, x.getPixelForValue(b.end));
    return [x0, Math.max(x1, x0 + 1)];
  }

  var plugin = {
    id: 'faultBands',
    defaults: { bands: [], rows: ROWS },
    descriptors: { _scriptable: false, _indexable: false },

    beforeDatasetsDraw: function (chart, args, opts) {
      var s = state(chart, opts);
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      if (!x || !s.bands.length) return;
      ctx.save();
      var rowEnd = [];
      for (var r = 0; r < s.rows; r++) rowEnd.push(-Infinity);
      ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = 'bottom';
      s.bands.forEach(function (b) {
        if (b.end < x.min || b.start > x.max) return;
        var p = span(x, area, b);
        ctx.fillStyle = color(b.kind, 0.13);
        ctx.fillRect(p[0], area.top, p[1] - p[0], area.bottom - area.top);
        ctx.fillStyle = color(b.kind, 0.75);
        ctx.fillRect(p[0], area.top, 1, area.bottom - area.top);
        // The label goes in the lowest row where it fits, full or short.
        [label(b, false), label(b, true)].some(function (text) {
          var w = ctx.measureText(text).width;
          // Near the right edge the label ends at the edge instead.
          var lx = Math.min(p[0] + 3, chart.width - w - 2);
          for (var row = 0; row < s.rows; row++) {
            if (lx >= rowEnd[row] + 8 && lx >= 0) {
              rowEnd[row] = lx + w;
              var y = area.top - 2 - row * ROW;
              ctx.fillRect(p[0], y - ROW + 2, 1, area.top - y + ROW - 2);
              ctx.fillStyle = '#24292f';
              ctx.fillText(text, lx, y);
              return true;
            }
          }
          return false;
        });
      });
      ctx.restore();
    },

    afterDatasetsDraw: function (chart, args, opts) {
      var s = state(chart, opts), m = s.marker, x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      if (!m || !x) return;
      var x0 = x.getPixelForValue(m.t0), x1 = x.getPixelForValue(m.t1);
      if (x1 < area.left || x0 > area.right) return;
      ctx.save();
      ctx.fillStyle = 'rgba(255, 196, 0, 0.35)';
      ctx.strokeStyle = '#9a6700';
      ctx.lineWidth = 2;
      var l = Math.max(area.left, x0), r = Math.min(area.right, Math.max(x1, x0 + 2));
      ctx.fillRect(l - 1, area.top, r - l + 2, area.bottom - area.top);
      ctx.beginPath();
      ctx.moveTo(l, area.top); ctx.lineTo(l, area.bottom);
      ctx.moveTo(r, area.top); ctx.lineTo(r, area.bottom);
      ctx.stroke();
      ctx.restore();
    },

    afterEvent: function (chart, args, opts) {
      var e = args.event, x = chart.scales.x, area = chart.chartArea;
      if (!x || e.type !== 'mousemove') return;
      var s = state(chart, opts);
      var inside = e.x >= area.left && e.x <= area.right;
      var t = x.getValueForPixel(e.x);
      var names = inside ? s.bands.filter(function (b) { return b.start <= t && t <= b.end; }).map(function (b) {
        return label(b, false) + ': ' + b.start.toFixed(3) + '–' + b.end.toFixed(3) + ' s' +
          (b.healed ? '' : ' (not healed)') + (b.detail ? ' — ' + b.detail : '');
      }) : [];
      chart.canvas.title = names.join('\n');
    }
  };

  function mark(chart, t0, t1) {
    var s = state(chart, chart.options.plugins.faultBands || {});
    s.marker = t0 === undefined ? null : { t0: t0, t1: t1 === undefined ? t0 : t1 };
    chart.draw();
  }

  window.FaultBands = {
    plugin: plugin,
    colors: function (kind, alpha) { return color(kind, alpha); },
    padding: function (bands, rows) { return bands && bands.length ? (rows || ROWS) * ROW + 4 : 8; },
    mark: mark,
    marker: function (chart) { return chart.$faultBands ? chart.$faultBands.marker : null; }
  };
  if (window.Chart) window.Chart.register(plugin);
})();
