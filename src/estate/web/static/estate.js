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

  // A form's data-field inputs as the body's fields, typed by their data-type.
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
      if (elt.dataset.json) return elt.dataset.json;  // a button's fixed body
      var form = elt.closest("form");
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

  // data-reveal="#box": the answer's field named by the box's data-field (a new token,
  // shown this once) is written into the box, which is then shown.
  function reveal(selector, answer) {
    var box = document.querySelector(selector);
    if (!box) return;
    var value = answer[box.dataset.show];
    box.querySelector("code").textContent = value === undefined ? "" : String(value);
    box.hidden = false;
  }

  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var xhr = evt.detail.xhr;
    if (!xhr || !elt.closest("[hx-ext~='estate-json']")) return;
    if (xhr.status < 400) {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* no body */ }
      if (elt.dataset.done) flash(elt.dataset.done, false);
      if (elt.dataset.reveal) reveal(elt.dataset.reveal, answer);
      else if (elt.dataset.then) {
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

  // The plugins page's drop zone: the archive goes to the API's upload endpoint as
  // multipart (field "plugin", as `estate plugin upload` sends it) without waiting for
  // its environment; the bar follows the upload, the live table then shows the new
  // version preparing → ready, and a refusal shows the API's detail.
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

  function upload(zone, file) {
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var force = document.getElementById("upload-force");
    var body = new FormData();
    body.append("plugin", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.dataset.upload + "?wait=false" + (force.checked ? "&force=true" : ""));
    var headers = csrfHeaders();
    Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    status.className = "";
    status.textContent = "Uploading " + file.name + "…";
    xhr.upload.addEventListener("progress", function (evt) {
      if (evt.lengthComputable) bar.value = Math.round((100 * evt.loaded) / evt.total);
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status < 400) {
        bar.value = 100;
        status.className = "done";
        status.textContent = "Uploaded " + answer.key + " " + answer.version + ": " + answer.state;
        return;
      }
      var detail = answer.detail || "the upload failed (" + xhr.status + ")";
      status.className = "error";
      status.textContent = typeof detail === "string" ? detail : JSON.stringify(detail);
    });
    xhr.addEventListener("error", function () {
      status.className = "error";
      status.textContent = "the upload did not reach the service";
    });
    xhr.send(body);
  }

  function dropZone(zone) {
    var input = zone.querySelector("input[type=file]");
    input.addEventListener("change", function () {
      if (input.files.length) upload(zone, input.files[0]);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (evt) { evt.preventDefault(); zone.classList.add("over"); });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (evt) {
      evt.preventDefault();
      zone.classList.remove("over");
      var files = evt.dataTransfer && evt.dataTransfer.files;
      if (files && files.length) upload(zone, files[0]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-upload]").forEach(dropZone);
  });
})();
