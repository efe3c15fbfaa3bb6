// The console's live bits; no build step, no framework.
// - Countdowns: data-countdown="seconds" counts down to zero (wrap-up).
// - Timers: data-elapsed="seconds" counts up (time on call, in wrap-up, in pause).
//   Both fix their start when the element first appears (page load or an SSE swap).
// - Drafts: what the collector types in the disposition form is kept, per call, when the
//   server swaps the call panel in (the call ends, the stream reconnects).
// - "Use this time": a refused callback's next allowed time fills the callback field.
// - Disconnected: the banner shows while the event stream is down, hides when it is back.
// - Presence: each "presence" event of the stream is answered at once (POST
//   /api/v1/me/presence), so the dialer knows this console is here (dialer/web/presence.py).
// - Technical records (manager): an opened <details> stays open across panel refreshes.
(function () {
  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = String(now + parseFloat(el.dataset.countdown) * 1000);
      }
      var left = Math.max(0, (parseFloat(el.dataset.deadline) - now) / 1000);
      el.textContent = String(Math.ceil(left));
    });
    document.querySelectorAll("[data-elapsed]").forEach(function (el) {
      if (!el.dataset.started) {
        el.dataset.started = String(now - parseFloat(el.dataset.elapsed) * 1000);
      }
      el.textContent = clock((now - parseFloat(el.dataset.started)) / 1000);
    });
  }

  // Drafts live in sessionStorage, so a page load (the Hang up form, a reconnect) keeps
  // them too; submitting the form drops its draft (a refused form comes back with its
  // values from the server, a recorded one empty).
  var PREFIX = "dialer.draft.";
  var SKIP = { csrf_token: true, case_id: true };

  function load(id) {
    try { return JSON.parse(sessionStorage.getItem(PREFIX + id) || "null"); } catch (e) { return null; }
  }

  function save(id, draft) {
    try {
      for (var i = sessionStorage.length - 1; i >= 0; i--) {
        var key = sessionStorage.key(i);
        if (key && key.indexOf(PREFIX) === 0 && key !== PREFIX + id) sessionStorage.removeItem(key);
      }
      if (draft === null) sessionStorage.removeItem(PREFIX + id);
      else sessionStorage.setItem(PREFIX + id, JSON.stringify(draft));
    } catch (e) { /* storage off: drafts last as long as the page */ }
  }

  function capture(form) {
    var id = form.dataset.callId;
    if (!id) return;
    var draft = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && !SKIP[el.name]) draft[el.name] = el.value;
    });
    save(id, draft);
  }

  function restore() {
    document.querySelectorAll("form[data-call-id]").forEach(function (form) {
      var draft = load(form.dataset.callId);
      if (!draft) return capture(form);
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && draft[el.name] !== undefined && !SKIP[el.name]) el.value = draft[el.name];
      });
    });
  }

  document.addEventListener("input", function (evt) {
    var form = evt.target.closest && evt.target.closest("form[data-call-id]");
    if (form) capture(form);
  });
  document.addEventListener("change", function (evt) {
    var form = evt.target.closest && evt.target.closest("form[data-call-id]");
    if (form) capture(form);
  });
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset && form.dataset.callId) save(form.dataset.callId, null);
  });
  document.addEventListener("htmx:sseMessage", function () { restore(); tick(); });
  document.addEventListener("htmx:afterSettle", restore);

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-fill-callback]");
    if (!button) return;
    var field = document.querySelector("input[name=callback_at]");
    var kind = document.querySelector("select[name=kind]");
    if (kind) kind.value = "callback";
    if (field) {
      field.value = button.dataset.fillCallback;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.focus();
    }
  });

  var leaving = false;
  function disconnected(down) {
    var banner = document.querySelector("[data-testid=disconnected]");
    if (banner) banner.hidden = !down;
  }
  window.addEventListener("beforeunload", function () { leaving = true; });
  // body[data-live] and body[data-sse-messages] say how the stream is doing (tests wait on them).
  document.addEventListener("htmx:sseError", function () {
    document.body.dataset.live = "no";
    if (!leaving) disconnected(true);
  });
  document.addEventListener("htmx:sseOpen", function () {
    document.body.dataset.live = "yes";
    disconnected(false);
  });
  document.addEventListener("htmx:sseMessage", function () {
    document.body.dataset.sseMessages = String(Number(document.body.dataset.sseMessages || 0) + 1);
  });

  // Presence: the stream asks, the page answers. An event from the network, not a timer:
  // a console in a background tab (timers throttled to once a minute) answers at once too.
  // body[data-presence-answers] counts the answers (tests wait on it).
  var answering = typeof WeakSet === "function" ? new WeakSet() : null;
  function answerPresence() {
    var holder = document.querySelector("[data-csrf]");
    if (!holder) return;
    fetch("/api/v1/me/presence", {
      method: "POST",
      headers: { "X-CSRF-Token": holder.dataset.csrf },
      credentials: "same-origin",
    }).then(function (response) {
      if (response.ok) {
        var n = Number(document.body.dataset.presenceAnswers || 0) + 1;
        document.body.dataset.presenceAnswers = String(n);
      } else if (response.status === 401) {
        window.location.reload(); // the session ended: the login page
      }
    }).catch(function () { /* the stream's error handling shows the banner */ });
  }
  document.addEventListener("htmx:sseOpen", function (evt) {
    var source = evt.detail && evt.detail.source;
    if (!source || !answering || answering.has(source)) return;
    answering.add(source);
    source.addEventListener("presence", answerPresence);
  });

  // The manager's panels refresh every few seconds: an opened technical record stays open.
  var opened = {};
  document.addEventListener("toggle", function (evt) {
    var el = evt.target;
    if (el.matches && el.matches("details[data-key]")) {
      if (el.open) opened[el.dataset.key] = true; else delete opened[el.dataset.key];
    }
  }, true);
  document.addEventListener("htmx:afterSwap", function (evt) {
    evt.target.querySelectorAll("details[data-key]").forEach(function (el) {
      if (opened[el.dataset.key]) el.open = true;
    });
  });

  setInterval(tick, 250);
  document.addEventListener("DOMContentLoaded", function () {
    restore();
    tick();
  });
})();
