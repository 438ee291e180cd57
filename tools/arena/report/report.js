(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("arena-charts").textContent);
  var registry = {};
  var plots = [];
  window.__charts = registry;
  window.__reportReady = false;

  function format(value, digits, unit) {
    if (value == null) return "–";
    return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) + unit;
  }

  function bandsPlugin(withLabels) {
    function extent(u, band) {
      var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      var x0 = Math.max(left, Math.round(u.valToPos(band.from, "x", true)));
      var x1 = Math.min(right, Math.round(u.valToPos(band.to, "x", true)));
      return [x0, x1];
    }
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, px = uPlot.pxRatio;
          ctx.save();
          page.bands.forEach(function (band, i) {
            var e = extent(u, band);
            if (e[1] <= e[0]) return;
            if (band.color) {
              ctx.fillStyle = band.color;
              ctx.fillRect(e[0], top, e[1] - e[0], height);
            }
            if (i > 0) {
              ctx.strokeStyle = "rgba(100, 116, 139, 0.45)";
              ctx.lineWidth = px;
              ctx.setLineDash([3 * px, 3 * px]);
              ctx.beginPath();
              ctx.moveTo(e[0] + 0.5, top);
              ctx.lineTo(e[0] + 0.5, top + height);
              ctx.stroke();
            }
          });
          ctx.restore();
        }],
        draw: [function (u) {
          if (!withLabels) return;
          var ctx = u.ctx, px = uPlot.pxRatio;
          ctx.save();
          ctx.fillStyle = "#334155";
          ctx.font = (10 * px) + "px system-ui, sans-serif";
          ctx.textBaseline = "bottom";
          page.bands.forEach(function (band) {
            var e = extent(u, band);
            if (e[1] - e[0] < 20 * px) return;
            ctx.fillText(band.label, e[0] + 3 * px, u.bbox.top - 3 * px, e[1] - e[0] - 6 * px);
          });
          ctx.restore();
        }]
      }
    };
  }

  function scaleOptions(scale) {
    if (scale.kind === "percent") return { range: [0, 100] };
    if (scale.kind === "asinh") return { distr: 4, asinh: 1, range: function (u, min, max) { return [0, Math.max(10, max * 1.6)]; } };
    return { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } };
  }

  function build(spec) {
    var container = document.getElementById(spec.id);
    var target = container.querySelector(".chart-canvas");
    var scales = { x: { time: false, range: [page.xMin, page.xMax] } };
    var axes = [{ scale: "x", label: "seconds since start", labelSize: 20, size: 36 }];
    spec.scales.forEach(function (scale, i) {
      scales[scale.key] = scaleOptions(scale);
      var axis = { scale: scale.key, label: scale.label, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 56, labelSize: 20 };
      if (scale.kind === "asinh") {
        axis.splits = function (u, index, min, max) {
          return [0, 10, 100, 1000, 10000, 100000].filter(function (v) { return v >= min && v <= max; });
        };
      }
      axes.push(axis);
    });
    if (spec.scales.length === 1) {
      // an empty right axis keeps every chart's plot area aligned with the ones that have a second scale
      axes.push({
        scale: spec.scales[0].key,
        side: 1,
        size: 76,
        grid: { show: false },
        ticks: { show: false },
        values: function (u, splits) { return splits.map(function () { return ""; }); }
      });
    }
    var series = [{ label: "t", value: function (u, v) { return v == null ? "–" : format(v, 1, " s"); } }];
    spec.series.forEach(function (s) {
      var options = {
        label: s.label,
        scale: s.scale,
        stroke: s.color,
        width: s.width,
        points: { show: s.points, size: 5, fill: s.color },
        value: function (u, v) { return format(v, s.digits, s.unit); }
      };
      if (s.dash) options.dash = s.dash;
      if (s.kind === "step") options.paths = uPlot.paths.stepped({ align: 1 });
      if (s.kind === "bars") {
        options.paths = uPlot.paths.bars({ size: [0.6, 14], align: 0 });
        options.fill = s.color;
        options.points = { show: false };
      }
      series.push(options);
    });
    var entry = {
      id: spec.id,
      rows: spec.x.length,
      series: spec.series.map(function (s) {
        return { label: s.label, color: s.color, points: s.values.filter(function (v) { return v != null; }).length };
      }),
      draws: 0
    };
    registry[spec.name] = entry;
    var options = {
      width: Math.max(320, target.clientWidth),
      height: spec.height,
      scales: scales,
      axes: axes,
      series: series,
      legend: { live: true },
      cursor: { sync: { key: "arena", scales: ["x", null] } },
      plugins: [bandsPlugin(spec.stageLabels)],
      padding: [spec.stageLabels ? 18 : 10, 0, 0, 0],
      hooks: { draw: [function () { entry.draws++; }] }
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    plots.push({ plot: new uPlot(options, data, target), target: target });
  }

  page.charts.forEach(function (spec) {
    if (spec.empty !== null) {
      registry[spec.name] = { id: spec.id, rows: 0, series: [], draws: 0, empty: true };
      return;
    }
    try {
      build(spec);
    } catch (error) {
      registry[spec.name] = { id: spec.id, rows: 0, series: [], draws: 0, error: String(error) };
      console.error("chart " + spec.name + " failed:", error);
    }
  });

  window.addEventListener("resize", function () {
    plots.forEach(function (p) {
      p.plot.setSize({ width: Math.max(320, p.target.clientWidth), height: p.plot.height });
    });
  });

  requestAnimationFrame(function () {
    requestAnimationFrame(function () { window.__reportReady = true; });
  });
})();