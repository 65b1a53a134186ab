// Atrium's small script: progressive enhancements only. Every page works
// without it (the Content-Security-Policy forbids inline scripts, so all
// behaviour is attached here).
(function () {
  "use strict";

  // Dismissible flash messages.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-dismiss]");
    if (btn) btn.closest(".flash").classList.add("dismissed");
  });

  // Copy buttons: data-copy names the id of the input to copy.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var input = document.getElementById(btn.getAttribute("data-copy"));
    input.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(input.value).then(function () { btn.textContent = "Copied"; });
    }
  });

  // Forms with data-confirm ask before a destructive action.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // "/" or Ctrl-K focuses the workspace search box when the page has one;
  // Escape closes open menus.
  document.addEventListener("keydown", function (e) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if ((e.key === "/" && !typing) || (e.key === "k" && (e.ctrlKey || e.metaKey))) {
      var search = document.querySelector("[data-search]");
      if (search) { e.preventDefault(); search.focus(); }
    }
    if (e.key === "Escape") {
      document.querySelectorAll("details[open]").forEach(function (d) { d.removeAttribute("open"); });
    }
  });

  // Clicking outside an open menu closes it.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.switcher[open], details.user-menu[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });
})();

// "Select all" checkboxes: data-check-all names the checkboxes it toggles.
document.addEventListener("change", function (e) {
  var name = e.target.getAttribute && e.target.getAttribute("data-check-all");
  if (!name) return;
  e.target.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
    box.checked = e.target.checked;
  });
});
