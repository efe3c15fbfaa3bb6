// Wrap-up countdowns: every element with data-countdown="seconds" counts down to zero.
// The deadline is fixed when the element first appears (page load or an SSE swap).
(function () {
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = String(now + parseFloat(el.dataset.countdown) * 1000);
      }
      var left = Math.max(0, (parseFloat(el.dataset.deadline) - now) / 1000);
      el.textContent = String(Math.ceil(left));
    });
  }
  setInterval(tick, 250);
  document.addEventListener("DOMContentLoaded", tick);
})();
