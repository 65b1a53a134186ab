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

// Kanban: drag a deal card onto another column. The drop sets the card's
// own "Move" form to the new stage and submits it, so dragging and the
// keyboard or no-JS form take the same path to the server.
(function () {
  "use strict";
  var dragged = null;
  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest(".deal-card[draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.getAttribute("data-deal"));
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".column.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (e) {
    var col = dragged && e.target.closest && e.target.closest(".column[data-stage]");
    if (!col) return;
    e.preventDefault();
    document.querySelectorAll(".column.drop-target").forEach(function (c) { if (c !== col) c.classList.remove("drop-target"); });
    col.classList.add("drop-target");
  });
  document.addEventListener("drop", function (e) {
    var col = dragged && e.target.closest && e.target.closest(".column[data-stage]");
    if (!col) return;
    e.preventDefault();
    var form = dragged.querySelector("form[data-move-form]");
    var stage = col.getAttribute("data-stage");
    if (!form || form.elements.stage_id.value === stage) return;
    form.elements.stage_id.value = stage;
    if (form.elements.stage_id.value !== stage) return; // no such choice
    // requestSubmit fires the submit event htmx listens to (hx-post).
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  });
})();

// Forms that take a local date and time send the browser's UTC offset,
// set as they are sent: the form may have arrived after the page (htmx).
document.addEventListener("submit", function (e) {
  e.target.querySelectorAll("[data-tz-offset]").forEach(function (input) {
    input.value = String(-new Date().getTimezoneOffset());
  });
});

// Tables read as cards on narrow screens (app.css): each cell shows the
// name of its column from data-label. Cells the template did not label
// get their column's header text here; headers with no visible text
// (actions) give no label.
(function () {
  "use strict";
  function label(root) {
    root.querySelectorAll("table.table").forEach(function (table) {
      var heads = table.querySelectorAll("thead tr:first-child > th");
      if (!heads.length) return;
      var names = Array.prototype.map.call(heads, function (th) {
        return th.querySelector(".sr-only") ? "" : th.textContent.replace(/[↑↓]/g, "").trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        var i = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          if (!cell.hasAttribute("data-label") && names[i] !== undefined) cell.setAttribute("data-label", names[i]);
          i += cell.colSpan || 1;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { label(document); });
  // A swap may bring a table or only its rows: label the page again.
  document.addEventListener("htmx:afterSwap", function () { label(document); });
})();

// On a narrow screen the section strips scroll sideways: bring the
// current page's link into view in its strip.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".sections, .subnav").forEach(function (strip) {
    var cur = strip.querySelector('[aria-current="page"]');
    if (cur && strip.scrollWidth > strip.clientWidth) strip.scrollLeft = cur.offsetLeft - strip.offsetLeft - 16;
  });
});

// Lists that load again in place (data-list; the "inPlace" partial): when
// the link or button used went with the old list, the focus moves to the
// new list's heading, so the keyboard and a screen reader carry on from
// its top; a search box keeps the focus (htmx gives it back by its id).
document.addEventListener("htmx:afterSettle", function (e) {
  var list = e.target;
  if (!list.hasAttribute || !list.hasAttribute("data-list") || !list.isConnected) return;
  if (document.activeElement && document.activeElement !== document.body) return;
  var heading = list.querySelector("h1");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
});

// A list loading in place that gets another page instead of itself (the
// sign-in page when the session has ended, an error page) shows that page
// whole rather than an empty list.
document.addEventListener("htmx:beforeSwap", function (e) {
  var list = e.detail.target, xhr = e.detail.xhr;
  if (!list || !list.hasAttribute || !list.hasAttribute("data-list")) return;
  if (xhr.status < 400 && xhr.responseText.indexOf('id="' + list.id + '"') >= 0) return;
  var url = xhr.responseURL;
  // A post answered without a redirect has no page to go to.
  if (!url || (e.detail.requestConfig.verb !== "get" && url === new URL(e.detail.pathInfo.finalRequestPath, location.href).href)) return;
  e.detail.shouldSwap = false;
  window.location.assign(url);
});

// Typing on while a list is on its way: the list that arrives was asked
// for with fewer letters. Its search box keeps what was typed since, and
// the list is asked for again with it.
(function () {
  "use strict";
  var typed = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var box = document.activeElement, list = e.detail.target;
    typed = null;
    if (list && list.hasAttribute && list.hasAttribute("data-list") && box && box.id && box.type === "search" && list.contains(box)) {
      typed = { id: box.id, value: box.value, at: box.selectionEnd };
    }
  });
  // Once htmx listens to the new box (it takes the value it has then as
  // the one asked for).
  document.addEventListener("htmx:afterSettle", function () {
    var box = typed && document.getElementById(typed.id);
    if (box && box.value !== typed.value) {
      box.value = typed.value;
      box.setSelectionRange(typed.at, typed.at);
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
    typed = null;
  });
})();
