/* The learner dashboard's behaviour, kept out of the page so that its Content-Security-Policy
 * allows no inline script or event handler: hide a course thumbnail that does not load (a broken
 * link, or an origin the policy does not allow), and offer the browser's own time zone when the
 * page shows another one.
 */
(function () {
  "use strict";

  function hideBrokenThumbnails() {
    var images = document.querySelectorAll("img[data-hide-on-error]");
    for (var i = 0; i < images.length; i++) {
      var image = images[i];
      // An image that failed before this script ran has fired its error event already.
      if (image.complete && image.naturalWidth === 0 && image.getAttribute("src")) image.hidden = true;
      else image.addEventListener("error", function () { this.hidden = true; });
    }
  }

  function offerBrowserTimeZone() {
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    var current = document.getElementById("current-tz");
    var link = document.getElementById("tz-switch");
    if (zone && current && link && zone !== current.textContent) {
      link.href = "?tz=" + encodeURIComponent(zone);
      link.textContent = "Use my time zone (" + zone + ")";
      link.hidden = false;
    }
  }

  function init() {
    hideBrokenThumbnails();
    offerBrowserTimeZone();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
