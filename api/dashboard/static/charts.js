// Draws each <figure class="chart"> from the spec the server embedded in it, with the
// vendored uPlot. Events are shaded bands. The data table beside each chart says the same.
(function () {
  "use strict";
  var charts = [];
  window.cutwatchCharts = charts;

  function bandsPlugin(bands) {
    return { hooks: { drawClear: [function (u) {
      var ctx = u.ctx;
      ctx.save();
      bands.forEach(function (b) {
        var x0 = u.valToPos(Math.max(b.start, u.scales.x.min), "x", true);
        var x1 = u.valToPos(Math.min(b.end, u.scales.x.max), "x", true);
        if (x1 <= x0) { return; }
        ctx.fillStyle = "rgba(163, 16, 31, 0.13)";
        ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        ctx.fillStyle = "#a3101f";
        ctx.font = Math.round(12 * devicePixelRatio) + "px system-ui, sans-serif";
        // inside the plot even when the band starts near its right edge
        var pad = 4 * devicePixelRatio, w = ctx.measureText(b.label).width;
        var x = Math.min(x0 + pad, u.bbox.left + u.bbox.width - w - pad);
        ctx.fillText(b.label, x, u.bbox.top + 14 * devicePixelRatio);
      });
      ctx.restore();
    }] } };
  }

  function draw(figure) {
    var spec = JSON.parse(figure.querySelector("script.chart-spec").textContent);
    var holder = figure.querySelector(".plot");
    var width = Math.max(260, holder.clientWidth);
    var opts = {
      width: width,
      height: width < 500 ? 200 : 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      plugins: [bandsPlugin(spec.bands)],
      scales: { y: { range: function (u, min, max) {
        return spec.unit === "%" ? [0, 100] : [0, Math.max(1, max) * 1.1];
      } } },
      axes: [{ values: function (u, splits) {
        // 24-hour UTC times; dates once the range spans days
        var days = (u.scales.x.max - u.scales.x.min) > 2 * 86400;
        return splits.map(function (ts) {
          var iso = new Date(ts * 1e3).toISOString();
          return days ? iso.slice(5, 10) : iso.slice(11, 16);
        });
      } }, { label: spec.unit, size: 56 }],
      series: [{ label: "Time (UTC)" }].concat(spec.series.map(function (s) {
        return { label: s.label, stroke: s.colour, width: s.dash ? 1.5 : 2,
                 dash: s.dash ? [6, 4] : undefined, spanGaps: false,
                 points: { show: false } };
      })),
    };
    var plot = new uPlot(opts, spec.data, holder);
    charts.push({ id: spec.id, plot: plot, data: spec.data,
                  labels: spec.series.map(function (s) { return s.label; }) });
    window.addEventListener("resize", function () {
      var w = Math.max(260, holder.clientWidth);
      plot.setSize({ width: w, height: w < 500 ? 200 : 260 });
    });
  }

  document.querySelectorAll("figure.chart").forEach(draw);
})();
