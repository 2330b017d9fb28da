/* Starts Redoc on the API docs page (templates/drf_spectacular/redoc.html) from a file, not an
 * inline script. Redoc injects its styles as <style> elements: it sets the page's CSP nonce on
 * them (the `nonce` option), which the page's policy allows for style-src.
 */
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  window.Redoc.init(container.getAttribute("data-spec-url"), { nonce: container.getAttribute("data-nonce") }, container);
})();
