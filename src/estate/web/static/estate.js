// Estate's glue for htmx: API calls with JSON bodies, their answers told in the flash.
// No inline script anywhere (the pages' Content-Security-Policy forbids it).
(function () {
  "use strict";

  function typed(input) {
    var kind = input.dataset.type;
    if (kind === "boolean") return input.checked;
    var text = input.value;
    if (text === "") return undefined;
    if (kind === "integer") return parseInt(text, 10);
    if (kind === "number") return Number(text);
    if (kind === "list" || kind === "dict") {
      try { return JSON.parse(text); } catch (e) { return text; }
    }
    return text;
  }

  // A form whose data-field inputs are the whole body (a schedule's fields).
  function fieldsBody(form) {
    var body = {};
    form.querySelectorAll("[data-field]").forEach(function (input) {
      var value = typed(input);
      if (value !== undefined) body[input.dataset.field] = value;
    });
    return body;
  }

  // A provider's form: data-field inputs are the body's fields, data-config ones its
  // connection_config ("$encrypted$" in a secret's field keeps the stored secret).
  function providerBody(form) {
    var body = fieldsBody(form);
    body.connection_config = {};
    form.querySelectorAll("[data-config]").forEach(function (input) {
      var value = typed(input);
      if (value !== undefined) body.connection_config[input.dataset.config] = value;
    });
    return body;
  }

  // hx-ext="estate-json": the request's body is JSON; a form with data-body="params"
  // sends {"params": {...}} typed by each input's data-type (what the API declares).
  htmx.defineExtension("estate-json", {
    onEvent: function (name, evt) {
      if (name === "htmx:configRequest") {
        evt.detail.headers["Content-Type"] = "application/json";
        evt.detail.headers["Accept"] = "application/json";
      }
      return true;
    },
    encodeParameters: function (xhr, parameters, elt) {
      xhr.overrideMimeType("application/json");
      var form = elt.closest("form");
      if (elt.dataset.json) return elt.dataset.json;
      if (form && form.dataset.body === "provider") return JSON.stringify(providerBody(form));
      if (form && form.dataset.body === "fields") return JSON.stringify(fieldsBody(form));
      if (!form || form.dataset.body !== "params") return "{}";
      var params = {};
      form.querySelectorAll("[data-type]").forEach(function (input) {
        var value = typed(input);
        if (value !== undefined) params[input.name] = value;
      });
      return JSON.stringify({ params: params });
    }
  });

  function flash(text, isError) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "shown error" : "shown";
  }

  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var xhr = evt.detail.xhr;
    if (!xhr || !elt.closest("[hx-ext~='estate-json']")) return;
    if (xhr.status < 400) {
      if (elt.dataset.show) {
        // An answer that tells its own outcome ({"ok": false, "message": ...}: a
        // connection test) is shown as it is, an error when it says so.
        var told = {};
        try { told = JSON.parse(xhr.responseText); } catch (e) { /* no body */ }
        flash(String(told[elt.dataset.show] || "done"), told.ok === false);
        return;
      }
      if (elt.dataset.done) flash(elt.dataset.done, false);
      if (elt.hasAttribute("data-reload")) { window.location.reload(); return; }
      if (elt.dataset.then) {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { /* no body */ }
        window.location.assign(elt.dataset.then.replace("{id}", String(answer.id)));
      }
      return;
    }
    var detail = "the request failed (" + xhr.status + ")";
    try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
    flash(typeof detail === "string" ? detail : JSON.stringify(detail), true);
  });

  // A refused API call is told in the flash, not as an error in the console.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.xhr.status >= 400) { evt.detail.shouldSwap = false; evt.detail.isError = false; }
  });
})();
