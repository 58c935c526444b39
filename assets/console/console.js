// utilhall console: the only script the pages load (the Content-Security-Policy allows no other).
// 1. A form marked "confirm" asks before it is sent: the first press arms its button, which
//    then says what the press will do; a second press within five seconds sends it.
// 2. An element with data-live="URL" is refreshed from URL every data-interval ms (default
//    1000) while the page is visible; the server answers the element's new inner HTML. It is
//    replaced only when that answer changed, and not while one of its buttons is armed.
// 3. A select marked "autosubmit" sends its form when changed.
(function () {
  "use strict";

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("confirm")) return;
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (!button) return;
    if (form.dataset.armed === "1") {
      form.dataset.armed = "";
      return;
    }
    e.preventDefault();
    form.dataset.armed = "1";
    button.dataset.label = button.textContent;
    button.textContent = (document.body.dataset.confirm || "?") + " " + button.dataset.label;
    button.classList.add("armed");
    setTimeout(function () {
      if (form.dataset.armed === "1") {
        form.dataset.armed = "";
        button.textContent = button.dataset.label;
        button.classList.remove("armed");
      }
    }, 5000);
  });

  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el instanceof HTMLSelectElement && el.classList.contains("autosubmit") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });

  function live(el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-interval") || "1000", 10);
    var busy = false;
    var last = null;
    function tick() {
      if (busy || document.hidden) return;
      if (el.querySelector('form[data-armed="1"]')) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html === null || html === last) return;
          if (el.querySelector('form[data-armed="1"]')) return;
          last = html;
          if (html !== el.innerHTML) {
            el.innerHTML = html;
            el.setAttribute("data-updated", String(Date.now()));
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(tick, Math.max(250, every));
  }

  function start() {
    document.querySelectorAll("[data-live]").forEach(live);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
