// Huiyin's small progressive enhancements. Every page works without this file: it only adds
// conveniences that a Content-Security-Policy without inline scripts allows.
(function () {
  "use strict";
  // <button data-print> prints the page (the 受理凭证 and the official documents).
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-print]") : null;
    if (t) { ev.preventDefault(); window.print(); }
  });
  // <button data-copy="text"> copies a receipt code or secret to the clipboard.
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!t || !navigator.clipboard) { return; }
    ev.preventDefault();
    navigator.clipboard.writeText(t.getAttribute("data-copy")).then(function () {
      var done = t.getAttribute("data-copied");
      if (done) { t.textContent = done; }
    });
  });
  // <form data-confirm="…"> asks before a consequential submit (e.g. 终结, withdrawal).
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
})();
