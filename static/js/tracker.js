/*
 * Page-time tracker: measures the time a page is visible and sends it to the tracking API.
 *
 * Load it with templates/analytics/_tracker.html, which sets on the <script> tag:
 *   data-endpoint  POST URL (/api/track/page-sessions)
 *   data-page      page name ("Course Player", "Quiz", ...)
 *   data-csrf      Django's CSRF token for the logged-in session
 *   data-heartbeat optional, milliseconds between heartbeats (default 30000)
 *
 * One page view is one session with a random UUID: every heartbeat re-sends it with the visible
 * seconds so far, and the server keeps the largest duration, so heartbeats, the final beacon and
 * retries never count twice. Only visible time counts (Page Visibility API). When the page is
 * hidden or left, the session goes out with navigator.sendBeacon (it cannot set headers, so the
 * CSRF token travels as ?csrfmiddlewaretoken=, checked by the server like the X-CSRFToken header;
 * the body is JSON sent as text/plain, which needs no CORS preflight). What could not be sent is
 * kept in localStorage and sent again on the next heartbeat or page load.
 * No dependencies; ES5 so that old browsers run it too.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.pageTracker || !script.getAttribute("data-endpoint")) {
    return;
  }

  var ENDPOINT = script.getAttribute("data-endpoint");
  var CSRF = script.getAttribute("data-csrf") || "";
  var PAGE = (script.getAttribute("data-page") || document.title || "Page").slice(0, 100);
  var HEARTBEAT_MS = parseInt(script.getAttribute("data-heartbeat") || "30000", 10) || 30000;
  var STORE_KEY = "pageTracker.pending.v1";
  var MAX_PENDING = 200; // sessions kept for retry; the oldest are dropped past this
  var MAX_BATCH = 1000; // the API's limit per request
  var BEACON_MAX_BYTES = 60000; // browsers refuse beacons above about 64 KB

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = [];
    for (var i = 0; i < 16; i++) {
      hex.push((bytes[i] + 0x100).toString(16).slice(1));
    }
    hex = hex.join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function now() {
    return Date.now();
  }

  // The current page view.
  var session = {
    id: newId(),
    page: PAGE,
    path: (window.location.pathname + window.location.search).slice(0, 500),
    startedAt: new Date().toISOString(),
  };
  var accumulatedMs = 0;
  var visibleSince = document.visibilityState === "visible" ? now() : null;
  var lastSentDuration = -1;

  function visibleSeconds() {
    var ms = accumulatedMs + (visibleSince === null ? 0 : now() - visibleSince);
    return Math.floor(ms / 1000);
  }

  function pause() {
    if (visibleSince !== null) {
      accumulatedMs += now() - visibleSince;
      visibleSince = null;
    }
  }

  function resume() {
    if (visibleSince === null) {
      visibleSince = now();
    }
  }

  function snapshot() {
    return {
      id: session.id,
      page: session.page,
      path: session.path,
      startedAt: session.startedAt,
      duration: visibleSeconds(),
    };
  }

  // Retry store: sessions by id, the larger duration kept.

  function loadPending() {
    try {
      var items = JSON.parse(window.localStorage.getItem(STORE_KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) {
      return [];
    }
  }

  function savePending(items) {
    try {
      if (items.length) {
        window.localStorage.setItem(STORE_KEY, JSON.stringify(items.slice(-MAX_PENDING)));
      } else {
        window.localStorage.removeItem(STORE_KEY);
      }
    } catch (e) {
      /* storage full or disabled: nothing more we can do */
    }
  }

  function merge(into, items) {
    var byId = {};
    var i;
    for (i = 0; i < into.length; i++) {
      byId[into[i].id] = i;
    }
    for (i = 0; i < items.length; i++) {
      var item = items[i];
      if (Object.prototype.hasOwnProperty.call(byId, item.id)) {
        var kept = into[byId[item.id]];
        if (item.duration > kept.duration) {
          into[byId[item.id]] = item;
        }
      } else {
        byId[item.id] = into.length;
        into.push(item);
      }
    }
    return into;
  }

  function remember(items) {
    savePending(merge(loadPending(), items));
  }

  function forget(items) {
    var sent = {};
    for (var i = 0; i < items.length; i++) {
      sent[items[i].id] = items[i].duration;
    }
    // Keep an item stored meanwhile with a larger duration: it has not been sent yet.
    savePending(
      loadPending().filter(function (item) {
        return !Object.prototype.hasOwnProperty.call(sent, item.id) || item.duration > sent[item.id];
      })
    );
  }

  function urlWithToken() {
    var separator = ENDPOINT.indexOf("?") === -1 ? "?" : "&";
    return ENDPOINT + separator + "csrfmiddlewaretoken=" + encodeURIComponent(CSRF);
  }

  // A 5xx, a timeout, a rate limit or no network is worth retrying; a 4xx is not (bad items,
  // logged out, CSRF refused): retrying would fail the same way.
  function isRetryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  var inFlight = false;

  function sendWithFetch(items) {
    if (!items.length || inFlight || typeof window.fetch !== "function") {
      if (items.length && typeof window.fetch !== "function") {
        remember(items);
      }
      return;
    }
    inFlight = true;
    var batch = items.slice(0, MAX_BATCH);
    window
      .fetch(ENDPOINT, {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
        body: JSON.stringify(batch),
      })
      .then(function (response) {
        if (isRetryable(response.status)) {
          remember(batch);
        } else {
          forget(batch);
        }
      })
      .catch(function () {
        remember(batch);
      })
      .then(function () {
        inFlight = false;
      });
  }

  function sendWithBeacon(items) {
    if (!items.length) {
      return;
    }
    // The result of a beacon is never known: keep the items for the next page to re-send.
    // Re-sending is harmless (the server keeps the largest duration per id).
    remember(items);
    var body = JSON.stringify(items.slice(-MAX_BATCH));
    if (body.length > BEACON_MAX_BYTES) {
      body = JSON.stringify(items.slice(-1));
    }
    if (navigator.sendBeacon) {
      navigator.sendBeacon(urlWithToken(), new Blob([body], { type: "text/plain;charset=UTF-8" }));
    }
  }

  function current() {
    var item = snapshot();
    return item.duration > 0 ? [item] : [];
  }

  function heartbeat() {
    if (inFlight) {
      return; // the next heartbeat sends the then current duration
    }
    var items = current();
    if (items.length && items[0].duration === lastSentDuration) {
      items = [];
    }
    if (items.length) {
      lastSentDuration = items[0].duration;
    }
    sendWithFetch(merge(loadPending(), items));
  }

  function finalBeacon() {
    pause();
    var items = current();
    if (items.length && items[0].duration !== lastSentDuration) {
      lastSentDuration = items[0].duration;
      sendWithBeacon(items);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      resume();
    } else {
      // Mobile browsers may never fire pagehide: a page going to the background may be the end.
      finalBeacon();
    }
  });
  window.addEventListener("pagehide", finalBeacon);
  window.addEventListener("pageshow", function (event) {
    // Back from the back-forward cache: the same page view goes on.
    if (event.persisted && document.visibilityState === "visible") {
      resume();
    }
  });

  setInterval(heartbeat, HEARTBEAT_MS);
  // Whatever an earlier page could not send goes out now.
  if (loadPending().length) {
    sendWithFetch(loadPending());
  }

  window.pageTracker = {
    session: session,
    visibleSeconds: visibleSeconds,
    heartbeat: heartbeat,
    flush: finalBeacon,
    pending: loadPending,
  };
})();
