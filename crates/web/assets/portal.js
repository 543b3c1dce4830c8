// The petitioner portal's enhancements (the portal works without them):
// - keeps the draft of the submission steps in this device's localStorage, so a dropped
//   connection or a closed tab loses nothing, and offers to restore it on a fresh start;
// - clears it once the receipt is shown;
// - hides the contact fields while "anonymous" is chosen.
(function () {
  "use strict";
  var store = null;
  try { store = window.localStorage; } catch (e) { store = null; }

  function formValues(form) {
    var out = {};
    var els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "file" || el.type === "submit" || el.type === "button") { continue; }
      if (el.name === "step" || el.name === "_csrf" || el.name === "region_q" || el.name === "pick") { continue; }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { continue; }
      out[el.name] = el.value;
    }
    return out;
  }

  function save(form, key) {
    if (!store) { return; }
    try { store.setItem(key, JSON.stringify(formValues(form))); } catch (e) { /* full or denied */ }
  }

  function restore(form, saved) {
    Object.keys(saved).forEach(function (name) {
      var value = saved[name];
      var els = form.querySelectorAll("[name='" + name.replace(/[^a-z_]/g, "") + "']");
      if (els.length === 0) {
        var h = document.createElement("input");
        h.type = "hidden"; h.name = name; h.value = value;
        form.appendChild(h);
        return;
      }
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (el.type === "radio") { el.checked = el.value === value; }
        else { el.value = value; }
      }
    });
    toggleAnonymous(form);
  }

  function toggleAnonymous(form) {
    var named = form.querySelector(".named-fields");
    if (!named) { return; }
    var anon = form.querySelector("input[name=identity][value=anonymous]");
    named.classList.toggle("hidden", !!(anon && anon.checked));
  }

  var form = document.querySelector("form[data-draft]");
  var banner = document.getElementById("draft-restore");
  if (form && banner) {
    var key = banner.getAttribute("data-draft-key");
    form.addEventListener("input", function () { save(form, key); });
    form.addEventListener("change", function () { save(form, key); toggleAnonymous(form); });
    form.addEventListener("submit", function () { save(form, key); });
    toggleAnonymous(form);
    var raw = store ? store.getItem(key) : null;
    var saved = null;
    try { saved = raw ? JSON.parse(raw) : null; } catch (e) { saved = null; }
    var fresh = form.getAttribute("data-step") === "who" && !form.querySelector("input[type=hidden][name=title]");
    if (saved && fresh && saved.draft && saved.draft !== form.getAttribute("data-draft") && (saved.title || saved.text || saved.name)) {
      banner.classList.remove("hidden");
      document.getElementById("draft-restore-yes").addEventListener("click", function () {
        restore(form, saved);
        form.setAttribute("data-draft", saved.draft);
        banner.classList.add("hidden");
      });
      document.getElementById("draft-restore-no").addEventListener("click", function () {
        store.removeItem(key);
        banner.classList.add("hidden");
      });
    } else if (!fresh || !saved) {
      save(form, key);
    }
  }

  var done = document.querySelector("[data-draft-done]");
  if (done && store) { store.removeItem(done.getAttribute("data-draft-done")); }

  // Move focus to the error summary so screen readers and keyboards start there.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
