/* Draws the plotly figures of a page. Needs plotly.js (loaded before it).
 *
 * The server renders each figure as <div class="chart-figure" data-figure="ID"> plus
 * <script type="application/json" id="ID">{"figure": {...}, "config": {...}}</script>
 * (analytics.charts.chart_html): a data block the browser never runs, so the page's
 * Content-Security-Policy allows no inline script at all. window.drawCharts(root) draws the
 * figures under root; dashboards.js calls it for the sections it loads later.
 */
(function () {
  "use strict";

  function drawCharts(root) {
    var divs = (root || document).querySelectorAll(".chart-figure[data-figure]");
    for (var i = 0; i < divs.length; i++) {
      var div = divs[i];
      var block = document.getElementById(div.getAttribute("data-figure"));
      if (!block) continue;
      div.removeAttribute("data-figure"); // drawn once
      var spec = JSON.parse(block.textContent);
      var layout = spec.figure.layout || {};
      // Set through the CSSOM, which the policy allows (a style="" attribute it would refuse).
      div.style.width = "100%";
      if (layout.height) div.style.height = layout.height + "px";
      window.Plotly.newPlot(div, spec.figure.data || [], layout, spec.config || {});
    }
  }

  window.drawCharts = drawCharts;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  } else {
    drawCharts(document);
  }
})();
