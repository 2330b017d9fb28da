/* Export buttons of the dashboards. No dependencies.
 *
 * Each <form class="export-form" data-export-url="/analytics/export" data-period="30d"> holds a
 * CSRF token, a <select name="type"> whose options may carry data-filters (JSON) and
 * data-metrics (comma-separated), a <select name="format"> and an .export-status area.
 * Submitting POSTs {type, period, format, metrics?, filters?, pseudonymize?} as JSON with the session cookie and
 * the CSRF header, then polls GET <url>/<exportId> and shows the progress until the answer has a
 * downloadUrl, which becomes the download link. Failures are shown as text, never thrown.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var MAX_POLL_MS = 5000;
  var GIVE_UP_MS = 30 * 60 * 1000;

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function errorMessage(body, status) {
    var error = body && body.error;
    if (error && error.message) return error.message;
    if (body && body.detail) return body.detail;
    return "The export could not be started (HTTP " + status + ").";
  }

  function readJson(response) {
    return response.json().then(
      function (body) { return { ok: response.ok, status: response.status, body: body }; },
      function () { return { ok: response.ok, status: response.status, body: null }; }
    );
  }

  function setup(form) {
    var status = form.querySelector(".export-status");
    var progress = status.querySelector("progress");
    var message = status.querySelector(".export-message");
    var link = status.querySelector(".export-link");
    var button = form.querySelector("button[type=submit]");
    var baseUrl = form.getAttribute("data-export-url");

    function show(text, isError) {
      message.textContent = text;
      message.className = "export-message" + (isError ? " error" : "");
    }

    function finish() {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }

    function poll(exportId, started, delay) {
      fetch(baseUrl + "/" + encodeURIComponent(exportId), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(readJson)
        .then(function (answer) {
          if (!answer.ok) {
            show(errorMessage(answer.body, answer.status), true);
            return finish();
          }
          var job = answer.body.data;
          progress.hidden = false;
          progress.value = job.progress || 0;
          progress.textContent = (job.progress || 0) + " %";
          if (job.downloadUrl) {
            progress.value = 100;
            link.href = job.downloadUrl;
            link.textContent = "Download " + (job.format || "").toUpperCase() + " (" + job.rowCount + " rows)";
            link.hidden = false;
            show("Export ready.");
            return finish();
          }
          if (job.status === "failed" || job.status === "cancelled" || job.status === "expired") {
            progress.hidden = true;
            show("Export " + job.status + (job.error ? ": " + job.error : "."), true);
            return finish();
          }
          if (Date.now() - started > GIVE_UP_MS) {
            show("The export is still running; find it later in GET " + baseUrl + ".", true);
            return finish();
          }
          show(job.status === "queued" ? "Waiting for a worker…" : "Writing rows: " + (job.progress || 0) + " %");
          setTimeout(function () { poll(exportId, started, Math.min(delay * 1.5, MAX_POLL_MS)); }, delay);
        })
        .catch(function () {
          show("Lost contact with the server; retrying…", true);
          setTimeout(function () { poll(exportId, started, MAX_POLL_MS); }, MAX_POLL_MS);
        });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var type = form.elements.type;
      var option = type.options[type.selectedIndex];
      var payload = {
        type: type.value,
        period: form.getAttribute("data-period") || "30d",
        format: form.elements.format.value
      };
      var filters = option.getAttribute("data-filters");
      if (filters && filters !== "{}") payload.filters = JSON.parse(filters);
      var metrics = option.getAttribute("data-metrics");
      if (metrics) payload.metrics = metrics.split(",");
      // Ticked: pseudonymous; unticked: the workspace's default (docs/privacy.md).
      if (form.elements.pseudonymize && form.elements.pseudonymize.checked) payload.pseudonymize = true;

      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      link.hidden = true;
      progress.hidden = false;
      progress.value = 0;
      show("Starting the export…");
      fetch(baseUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(form)
        },
        body: JSON.stringify(payload)
      })
        .then(readJson)
        .then(function (answer) {
          if (!answer.ok) {
            progress.hidden = true;
            show(errorMessage(answer.body, answer.status), true);
            return finish();
          }
          poll(answer.body.data.exportId, Date.now(), POLL_MS);
        })
        .catch(function () {
          progress.hidden = true;
          show("The export could not be started: no answer from the server.", true);
          finish();
        });
    });
  }

  function init() {
    var forms = document.querySelectorAll("form.export-form");
    for (var i = 0; i < forms.length; i++) setup(forms[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
