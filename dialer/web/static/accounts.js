// Account forms (data-keep-on-refusal) are posted by htmx. A refusal (4xx) replaces only the
// form's list of reasons, so what was typed stays in the fields: the server never sends a
// typed password back. A change that went through answers with HX-Redirect (htmx follows
// it); a request that lost its session lands on the login page.
(function () {
  function showReason(target, xhr) {
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var reason = doc.querySelector('[data-testid="reason"]');
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = reason ? reason.textContent : "refused (" + xhr.status + ")";
    target.replaceChildren(p);
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.elt;
    if (!elt || !elt.closest || !elt.closest("[data-keep-on-refusal]")) return;
    var xhr = e.detail.xhr;
    var url = xhr.responseURL ? new URL(xhr.responseURL) : null;
    if (url && url.pathname === "/login") {
      e.detail.shouldSwap = false;
      window.location.assign(url.href);
      return;
    }
    if (xhr.status < 400) return;
    var target = e.detail.target;
    if (target && target.id && xhr.responseText.indexOf('id="' + target.id + '"') >= 0) {
      e.detail.shouldSwap = true; // the page with this form's reasons: hx-select picks them
      e.detail.isError = false;
    } else if (target) {
      e.detail.shouldSwap = false; // an error page: show its reason at the form
      showReason(target, xhr);
    }
  });
})();
