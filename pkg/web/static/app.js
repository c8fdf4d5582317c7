// ScheduleZero dashboard: live updates from the scheduler's event stream.
// The pages are complete without this file; it only keeps them current:
// the overview lists the events as they come, and after events the page's
// main part is read again, at most every 2 s (a page is rendered by the
// scheduler: five open pages must not cost it more than a few renders a
// second, however many events there are).
(function () {
  "use strict";
  var kinds = ["execution.started", "execution.finished", "execution.missed",
    "schedule.created", "schedule.changed", "schedule.paused", "schedule.resumed", "schedule.deleted",
    "handler.online", "handler.offline", "handler.removed", "lost"];
  var page = document.body.getAttribute("data-page");
  var badge = document.getElementById("live");
  var refreshEvery = 2000;
  var pending = null, busy = false, again = false, last = 0;

  function setBadge(text, cls) {
    if (!badge) return;
    badge.textContent = text;
    badge.className = "live " + cls;
  }

  // typing: a form field of the page has the focus; a refresh would
  // take it away, so it waits.
  function typing() {
    var a = document.activeElement;
    return a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
  }

  function refresh() {
    pending = null;
    if (busy) { again = true; return; }
    if (typing()) { schedule(); return; }
    busy = true;
    last = Date.now();
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main"), main = document.getElementById("main");
        if (!fresh || !main) return;
        var feed = document.getElementById("feed"), freshFeed = doc.getElementById("feed");
        if (feed && freshFeed) freshFeed.replaceWith(feed);
        main.replaceWith(fresh);
        document.dispatchEvent(new CustomEvent("sz:refreshed"));
      })
      .catch(function () {})
      .finally(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }

  // schedule re-reads the page soon after an event (100ms gathers a
  // burst), and no sooner than refreshEvery after the last read.
  function schedule() {
    if (pending) return;
    pending = setTimeout(refresh, Math.max(100, last + refreshEvery - Date.now()));
  }

  function describe(kind, e) {
    var parts = [new Date(e.time).toLocaleTimeString(), kind];
    if (e.schedule_id) parts.push(e.schedule_id);
    if (e.handler_id) parts.push(e.handler_id + (e.method ? "." + e.method : ""));
    if (e.status && kind.indexOf("handler.") !== 0) parts.push(e.status);
    if (e.reason) parts.push(e.reason);
    return parts.join(" · ");
  }

  function feed(kind, e) {
    var list = document.getElementById("feed");
    if (!list) return;
    var note = list.querySelector(".note");
    if (note) note.remove();
    var li = document.createElement("li");
    li.className = "ev " + kind.replace(".", "-");
    if (e.execution_id) {
      var a = document.createElement("a");
      a.href = "/executions/" + encodeURIComponent(e.execution_id);
      a.textContent = describe(kind, e);
      li.appendChild(a);
    } else {
      li.textContent = describe(kind, e);
    }
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
  }

  if (!window.EventSource || page === "calendar" || !page) return;
  // The page says which event it reflects: the stream starts after it, so
  // that what happened while the page loaded is not missed. A reconnect
  // sends Last-Event-ID, which takes precedence.
  var after = document.body.getAttribute("data-after");
  var src = new EventSource("/api/v1/events" + (after ? "?after=" + encodeURIComponent(after) : ""));
  src.onopen = function () { setBadge("live", "on"); };
  src.onerror = function () { setBadge("reconnecting", "off"); };
  kinds.forEach(function (kind) {
    src.addEventListener(kind, function (m) {
      var e = {};
      try { e = JSON.parse(m.data); } catch (err) { return; }
      if (kind !== "lost") feed(kind, e);
      schedule();
    });
  });
  window.addEventListener("pagehide", function () { src.close(); });
})();
