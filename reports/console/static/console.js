// Draws the charts a page declares in <script type="application/json" id="charts">.
// Tables never depend on this file; it only adds pictures.
(function () {
  "use strict";
  var palette = ["#2563eb", "#f97316", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#ca8a04", "#64748b"];
  var source = document.getElementById("charts");
  if (!source || typeof Chart === "undefined") { return; }
  var specs = JSON.parse(source.textContent || "[]");
  specs.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) { return; }
    var datasets = spec.datasets.map(function (d, i) {
      return {
        label: d.label,
        data: d.data.map(Number),
        backgroundColor: d.label === "(other)" ? "#cbd5e1" : palette[i % palette.length],
      };
    });
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: spec.stacked }, y: { stacked: spec.stacked, beginAtZero: true } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    canvas.dataset.drawn = String(chart.data.datasets.length);
  });
})();
