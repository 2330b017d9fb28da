/* Deferred dashboard sections. Needs charts.js.
 *
 * A page whose figures are not cached yet is sent at once with
 * <div class="deferred" data-fragment-url="?...&fragment=NAME">: this fetches that fragment (the
 * server computes and caches it meanwhile), puts it in place and draws its figures (charts.js).
 */
(function () {
  "use strict";

  function load(container) {
    var url = container.getAttribute("data-fragment-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        container.innerHTML = html;
        container.removeAttribute("aria-busy");
        container.removeAttribute("data-fragment-url");
        window.drawCharts(container);
      })
      .catch(function (error) {
        var message = container.querySelector(".loading");
        if (message) message.textContent = "The figures could not be loaded (" + error.message + "). Reload the page to try again.";
        container.removeAttribute("aria-busy");
      });
  }

  function init() {
    var containers = document.querySelectorAll("[data-fragment-url]");
    for (var i = 0; i < containers.length; i++) load(containers[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
