// advisor-bot console: the little that needs the browser. htmx does the requests and swaps;
// this file adds the CSRF header, follows the server's change events, submits sign-in links, and
// raises a browser notification when more conversations wait for the advisor (no push service:
// only while a console tab is open).
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // A session that ended (signed out, deactivated) makes htmx requests answer 401/403 or a
  // redirect to the sign-in page: show that page instead of swapping it into a fragment.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 409 || status === 422) { event.detail.shouldSwap = true; event.detail.isError = false; }
  });

  // On a desktop the customer's panel is a pane of its own: open, not folded away (also when a
  // window is widened to a desktop's size, or the panel is swapped in again after a save).
  var desktop = window.matchMedia ? window.matchMedia("(min-width: 1100px)") : null;
  function openProfileOnDesktop() {
    var profile = document.getElementById("profile");
    if (profile && desktop && desktop.matches) profile.open = true;
  }
  openProfileOnDesktop();
  if (desktop) desktop.addEventListener("change", openProfileOnDesktop);
  document.addEventListener("htmx:afterSettle", openProfileOnDesktop);

  function scrollTimeline() {
    var timeline = document.getElementById("timeline");
    if (!timeline) return;
    // On a desktop the conversation is a pane that scrolls on its own; on a phone, the page.
    var pane = timeline.closest(".pane-main");
    if (pane && pane.scrollHeight > pane.clientHeight) pane.scrollTop = pane.scrollHeight;
    else window.scrollTo(0, document.body.scrollHeight);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "timeline") scrollTimeline();
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (form && event.detail.xhr.status < 300) form.reset();
  });

  function refresh(id) {
    var element = document.getElementById(id);
    if (element && window.htmx) window.htmx.trigger(element, "refresh");
  }

  var lastWaiting = null;

  function waitingCounted(element) {
    var count = parseInt(element.dataset.count || "0", 10);
    if (lastWaiting !== null && count > lastWaiting && window.Notification &&
        Notification.permission === "granted") {
      new Notification(element.dataset.title, {
        body: (element.dataset.body || "").replace("{count}", String(count)),
        tag: "advisor-bot-waiting",
      });
    }
    lastWaiting = count;
  }

  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt && event.detail.elt.id === "waiting-count") waitingCounted(event.detail.elt);
  });

  function offerNotifications() {
    var button = document.getElementById("enable-notifications");
    if (!button || !window.Notification || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  function follow() {
    var url = document.body.dataset.live;
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("change", function (event) {
      refresh("inbox-list");
      refresh("waiting-count");
      var timeline = document.getElementById("timeline");
      if (timeline && timeline.dataset.conversation === event.data) {
        // A flag form the advisor has open is not swapped away under them: refreshed once closed.
        if (timeline.querySelector("details.flag[open]")) timeline.dataset.stale = "true";
        else refresh("timeline");
        refresh("conversation-head");
        // The draft box is refreshed only while nobody is editing the draft in it.
        var draft = document.querySelector("#draft-box textarea");
        if (!draft || draft.value === draft.defaultValue) refresh("draft-box");
      }
    });
    source.addEventListener("reload", function () { window.location.reload(); });
    source.addEventListener("ended", function () { source.close(); window.location.reload(); });
  }

  // A refresh already on its way when the advisor opened a flag form must not close it either.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    // Only the timeline's own refresh (the flag form's answer is swapped in as usual).
    var from = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (target && target.id === "timeline" && from === target &&
        target.querySelector("details.flag[open]")) {
      event.detail.shouldSwap = false;
      target.dataset.stale = "true";
    }
  });

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches("details.flag") || details.open) return;
    var timeline = document.getElementById("timeline");
    if (timeline && timeline.dataset.stale && !timeline.querySelector("details.flag[open]")) {
      delete timeline.dataset.stale;
      refresh("timeline");
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    var link = document.getElementById("link-form");
    if (link) link.requestSubmit();
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll('.segmented input[type="radio"]').forEach(function (radio) {
      radio.addEventListener("change", function () {
        radio.closest(".segmented").querySelectorAll("label").forEach(function (label) {
          label.classList.toggle("on", label.contains(radio));
        });
      });
    });
    scrollTimeline();
    offerNotifications();
    follow();
  });
})();
