/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  // Team switcher: submit on change (a <noscript> button covers the no-JS case).
  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]")) el.form.submit();
  });

  // Confirmation for destructive buttons that are not htmx-driven (htmx uses hx-confirm).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Copy buttons: <button data-copy="#selector">.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    const text = source.textContent.trim();
    const done = function () {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      document.execCommand("copy");
      done();
    }
  });

  // Swap targets marked data-keep-edits: inputs the user changed while the request was in flight (or
  // before) keep their values in the new content, matched by name, so typing is never lost to a swap.
  // htmx itself puts the focus back on the input with the same id.
  function edited(el) {
    if (el.type === "checkbox") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
    return el.value !== el.defaultValue;
  }
  let keptEdits = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    keptEdits = null;
    if (!target || !target.hasAttribute("data-keep-edits")) return;
    keptEdits = { id: target.id, values: {} };
    target.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (el) {
      if (edited(el)) keptEdits.values[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
  });
  document.addEventListener("htmx:afterSwap", function () {
    const kept = keptEdits;
    keptEdits = null;
    const root = kept && document.getElementById(kept.id);
    if (!root) return;
    Object.keys(kept.values).forEach(function (name) {
      const el = root.querySelector('[name="' + CSS.escape(name) + '"]');
      const value = kept.values[name];
      if (!el) return;
      if (el.type === "checkbox") el.checked = value === true;
      else if (el.tagName !== "SELECT" || Array.prototype.some.call(el.options, function (o) { return o.value === value; })) el.value = value;
    });
  });

  // Conditions on htmx requests. hx-trigger's [filters] are evaluated as code, which the
  // Content-Security-Policy forbids, so they live here: data-skip-while="<selector>" asks for nothing
  // while the selector matches, data-skip-from="<name>" for events from the field of that name, and
  // data-skip-on="<event types>" limits both to those events (all triggers without it).
  document.addEventListener("htmx:confirm", function (event) {
    const elt = event.detail.elt;
    const trigger = event.detail.triggeringEvent;
    const only = elt.getAttribute("data-skip-on");
    if (only && !(trigger && only.split(" ").indexOf(trigger.type) >= 0)) return;
    const busy = elt.getAttribute("data-skip-while");
    const from = elt.getAttribute("data-skip-from");
    const source = trigger && trigger.target;
    if ((busy && document.querySelector(busy)) || (from && source && source.name === from)) event.preventDefault();
  });

  // A request superseded by a newer one (hx-sync "replace") is aborted on purpose; htmx reports every
  // abort as an error in the console, so this one is kept out of it.
  document.addEventListener("htmx:beforeSend", function (event) {
    const xhr = event.detail.xhr;
    const onabort = xhr.onabort;
    if (!onabort) return;
    xhr.onabort = function () {
      const error = console.error;
      console.error = function (message) {
        if (String(message).indexOf("htmx:") !== 0) error.apply(console, arguments);
      };
      try { return onabort.apply(this, arguments); } finally { console.error = error; }
    };
  });

  // Plotly charts: <div class="chart" data-figure="id-of-json-script">. Re-run after htmx swaps.
  function drawCharts(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-figure]").forEach(function (div) {
      const script = document.getElementById(div.getAttribute("data-figure"));
      if (!script) return;
      const fig = JSON.parse(script.textContent);
      const config = Object.assign({ responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] }, fig.config || {});
      window.Plotly.react(div, fig.data || [], fig.layout || {}, config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
