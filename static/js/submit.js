/* The submit page (templates/jobs/submit.html): a stale estimate is marked and cannot be submitted,
   paid or approval-bound jobs are confirmed, family switches keep only what was typed for the new
   family, code boxes get their example, bitstrings follow n_qubits. Without it the server still
   refuses a paid job whose estimate was not shown (jobs/confirm.py). */
(function () {
  "use strict";

  const form = document.querySelector("form[data-estimate-form]");
  if (!form) return;
  const family = form.querySelector("select[name=family]");
  const submitButton = form.querySelector("button[type=submit]");
  const NOT_INPUT = new Set(["csrfmiddlewaretoken", "shown_backend", "shown_cost", "shown_approval"]);

  // --- the estimate on screen is stale while the form differs from what it was made for -------------
  function formState() {
    const pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (!NOT_INPUT.has(name)) pairs.push([name, String(value)]);
    });
    return new URLSearchParams(pairs).toString();
  }
  const requested = new WeakMap(); // xhr of an estimate request → the form state it asked about
  let quoteXhr = null; // the estimate request in flight
  let quoted = null; // the form state of the estimate on screen (null: none yet)
  let familyLoading = false;
  let unavailable = false; // the last estimate request failed: Submit stays usable, the server checks

  function refresh() {
    const stale = familyLoading || quoteXhr !== null || quoted !== formState();
    const estimate = document.getElementById("estimate");
    if (estimate) {
      estimate.classList.toggle("is-stale", stale);
      estimate.setAttribute("aria-busy", stale ? "true" : "false");
    }
    const summary = document.getElementById("estimate-summary");
    if (summary) summary.classList.toggle("is-stale", stale);
    submitButton.disabled = stale && !unavailable;
    submitButton.title = submitButton.disabled ? "Wait for the estimate of what you entered" : "";
  }

  // A select fires input and change, both of which ask for an estimate: the second one would replace
  // the first and briefly disable Submit again for the same answer, so ask once per form state.
  form.addEventListener("htmx:confirm", function (event) {
    if (event.detail.elt !== form || unavailable) return;
    const asked = quoteXhr !== null ? requested.get(quoteXhr) : quoted;
    if (asked === formState()) event.preventDefault();
  });
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (elt === form) {
      quoteXhr = event.detail.xhr;
      requested.set(quoteXhr, formState());
    } else if (elt === family) {
      familyLoading = true;
    }
    refresh();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const elt = event.detail.elt;
    if (elt === form && event.detail.xhr === quoteXhr) {
      quoteXhr = null;
      if (event.detail.successful) {
        quoted = requested.get(event.detail.xhr);
        unavailable = false;
      }
    } else if (elt === family) {
      familyLoading = false;
    }
    refresh();
  });
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (event.detail.elt === form) unavailable = true;
      refresh();
    });
  });
  document.addEventListener("htmx:afterSettle", refresh); // a new #estimate element arrived
  refresh();

  form.addEventListener("submit", function (event) {
    const estimate = document.getElementById("estimate");
    if (submitButton.disabled) {
      event.preventDefault(); // e.g. Enter in a field while the estimate is on its way
      return;
    }
    const question = estimate && !unavailable ? estimate.getAttribute("data-confirm-submit") : "";
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // --- family switch: keep only what is typed for the new family; the focus stays in the form -------
  let focusInFields = false;
  family.addEventListener("change", function () {
    const fields = document.getElementById("param-fields");
    const option = family.options[family.selectedIndex];
    const kept = new Set((option && option.getAttribute("data-params") || "").split(" ").filter(Boolean));
    if (!fields) return;
    fields.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (el) {
      // What the old family's fields hold now is not carried over (data-keep-edits keeps edits made
      // after this moment only): the new family defines its own defaults and ranges.
      if (el.type === "checkbox") el.defaultChecked = el.checked;
      else if (el.tagName === "SELECT") Array.prototype.forEach.call(el.options, function (o) { o.defaultSelected = o.selected; });
      else el.defaultValue = el.value;
      if (!kept.has(el.name.replace(/^params\./, ""))) {
        // a field the new family lacks takes no typing that would be thrown away with it
        if (el.tagName === "SELECT" || el.type === "checkbox") el.setAttribute("aria-disabled", "true");
        else el.readOnly = true;
        const box = el.closest(".field");
        if (box) box.classList.add("is-leaving");
      }
    });
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "param-fields") focusInFields = target.contains(document.activeElement);
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!focusInFields) return;
    focusInFields = false;
    const active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return; // htmx kept it (same id)
    const fields = document.getElementById("param-fields");
    const first = fields && fields.querySelector("input, select, textarea");
    (first || family).focus();
  });

  // --- code boxes: "Insert example" -----------------------------------------------------------------
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-insert-example]");
    if (!button || !form.contains(button)) return;
    const box = form.querySelector(button.getAttribute("data-insert-example"));
    if (!box) return;
    box.value = button.getAttribute("data-example");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  });

  // --- a bitstring as long as n_qubits follows it until the user edits the bitstring ----------------
  form.addEventListener("input", function (event) {
    const el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-bits-of")) {
      el.setAttribute("data-edited", "");
      return;
    }
    if (!el.name) return;
    const n = Number(el.value);
    if (!Number.isInteger(n) || n < 1 || n > 1024) return;
    form.querySelectorAll('[data-bits-of="' + CSS.escape(el.name) + '"]:not([data-edited])').forEach(function (bits) {
      if (!bits.value) return; // empty means the family's default, which already follows
      bits.value = bits.value.length >= n ? bits.value.slice(0, n) : bits.value + "0".repeat(n - bits.value.length);
    });
  }, true); // capture: resized before htmx reads the form for the estimate
})();
