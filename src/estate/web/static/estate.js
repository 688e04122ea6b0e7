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
      if (elt.dataset.show) {
        // An answer that tells its own outcome ({"ok": false, "message": ...}: a
        // connection test) is shown as it is, an error when it says so.
        var told = {};
        try { told = JSON.parse(xhr.responseText); } catch (e) { /* no body */ }
        flash(String(told[elt.dataset.show] || "done"), told.ok === false);
        return;
      }
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* no body */ }
      if (elt.hasAttribute("data-reload")) {
        if (elt.dataset.done) reloadWith(elt.dataset.done); else window.location.reload();
        return;
      }
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
  // -- Writes made from plain forms and buttons (tags, watchlists): fetch, as JSON, to
  // the API with the session cookie and the page's CSRF token; the API checks the role.

  var API = "/api/inventory/v1/";

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]; }
    catch (e) { return ""; }
  }

  function callApi(path, body) {
    return fetch(API + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var answer = {};
        try { answer = JSON.parse(text); } catch (e) { /* no body */ }
        if (!response.ok) {
          var detail = answer.detail || ("the request failed (" + response.status + ")");
          throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
        }
        return answer;
      });
    });
  }

  // A message that survives the reload showing the change it announces.
  function reloadWith(text) {
    try { sessionStorage.setItem("estate-flash", text); } catch (e) { /* private mode */ }
    window.location.reload();
  }

  function failed(error) { flash(error.message, true); }

  // The resource list's tag grammar (inventory/tags.py): [namespace/]key[:value], "="
  // as ":"; the namespace is "user" when none is written.
  function parseTag(text) {
    var rest = text.trim();
    var tag = { namespace: "user", key: "", value: "" };
    var slash = rest.indexOf("/");
    if (slash > 0 && !/[:=]/.test(rest.slice(0, slash))) {
      tag.namespace = rest.slice(0, slash);
      rest = rest.slice(slash + 1);
    }
    var sep = rest.search(/[:=]/);
    tag.key = sep < 0 ? rest : rest.slice(0, sep);
    if (sep >= 0) tag.value = rest.slice(sep + 1);
    if (!tag.key) throw new Error("tag: write key:value or namespace/key=value");
    return tag;
  }

  function each(ids, call) {  // one request after another: a page has at most 50 rows
    return ids.reduce(function (done, id) {
      return done.then(function () { return call(id); });
    }, Promise.resolve());
  }

  function picked() {
    return Array.prototype.map.call(
      document.querySelectorAll("#resources input.pick:checked"),
      function (box) { return box.value; });
  }

  function addTags(ids, text) {
    var tag;
    try { tag = parseTag(text); } catch (e) { return failed(e); }
    if (!ids.length) return flash("Select resources first.", true);
    each(ids, function (id) { return callApi("resources/" + id + "/tags/add/", [tag]); })
      .then(function () { reloadWith("Tagged " + ids.length + " resource(s)."); }, failed);
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.matches("form.add-tag")) {
      evt.preventDefault();
      addTags([form.dataset.resources], form.elements.tag.value);
    } else if (form.matches("#new-watchlist")) {
      evt.preventDefault();
      var body = { name: form.elements.name.value,
                   watchlist_type: form.elements.watchlist_type.value,
                   organization: parseInt(form.elements.organization.value, 10),
                   description: form.elements.description.value };
      var filters = form.elements.filter_query.value.trim();
      if (filters) {
        try { body.filter_query = JSON.parse(filters); }
        catch (e) { return flash("filter_query: not JSON: " + e.message, true); }
      }
      callApi("watchlists/", body).then(function (answer) {
        window.location.assign("/watchlists/" + answer.id);
      }, failed);
    }
  });

  document.addEventListener("click", function (evt) {
    var target = evt.target.closest("button");
    if (!target) return;
    var data = target.dataset;
    if (target.matches("button.remove-tag")) {
      var ref = { namespace: data.namespace, key: data.key, value: data.value };
      callApi("resources/" + data.resource + "/tags/remove/", [ref])
        .then(function () { reloadWith("Tag removed."); }, failed);
    } else if (target.id === "bulk-add-tag") {
      addTags(picked(), document.getElementById("bulk-tag").value);
    } else if (target.id === "bulk-add-watchlist") {
      var ids = picked();
      var watchlist = document.getElementById("bulk-watchlist").value;
      if (!watchlist) return flash("Choose a watchlist first.", true);
      if (!ids.length) return flash("Select resources first.", true);
      var members = { resource_ids: ids.map(Number) };
      callApi("watchlists/" + watchlist + "/resources/add/", members)
        .then(function (answer) { flash(answer.detail, false); }, failed);
    } else if (target.matches("button.remove-member")) {
      callApi("watchlists/" + data.watchlist + "/resources/remove/",
              { resource_ids: [Number(data.resource)] })
        .then(function (answer) { reloadWith(answer.detail); }, failed);
    }
  });

  document.addEventListener("change", function (evt) {
    var box = evt.target;
    if (box.id === "pick-all") {
      document.querySelectorAll("#resources input.pick").forEach(function (one) {
        one.checked = box.checked;
      });
    }
    var count = document.getElementById("picked");
    if (count && (box.id === "pick-all" || box.matches("input.pick"))) {
      count.textContent = picked().length + " selected";
    }
  });

  // The graph: hovering a node lights its edges and dims the others.
  function light(node, on) {
    var svg = node.closest("svg");
    var id = node.dataset.id;
    svg.classList.toggle("hovering", on);
    svg.querySelectorAll(".edge").forEach(function (edge) {
      var touches = edge.dataset.source === id || edge.dataset.target === id;
      edge.classList.toggle("lit", on && touches);
    });
  }
  document.addEventListener("mouseover", function (evt) {
    var node = evt.target.closest && evt.target.closest("#graph a.node");
    if (node) light(node, true);
  });
  document.addEventListener("mouseout", function (evt) {
    var node = evt.target.closest && evt.target.closest("#graph a.node");
    if (node) light(node, false);
  });

  // The plugins page's drop zone: the archive goes to the API's upload endpoint as
  // multipart (field "plugin", as `estate plugin upload` sends it) without waiting for
  // its environment; the bar follows the upload, the live table then shows the new
  // version preparing → ready, and a refusal shows the API's detail.
  function upload(zone, file) {
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var force = document.getElementById("upload-force");
    var body = new FormData();
    body.append("plugin", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.dataset.upload + "?wait=false" + (force.checked ? "&force=true" : ""));
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
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
    var text = null;
    try { text = sessionStorage.getItem("estate-flash"); sessionStorage.removeItem("estate-flash"); }
    catch (e) { /* private mode */ }
    if (text) flash(text, false);
  });
})();
