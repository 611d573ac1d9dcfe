/* SewaBazaar Support pages: small progressive enhancements, no build step, no dependencies.
   Every flow works without this file; with it: relative times, file checks before upload and
   upload progress, new messages without a reload (announced to screen readers), canned
   replies, bulk selection, and the console's "who else is here" notice. */
(function () {
  "use strict";

  var announcer = function (text) {
    var box = document.getElementById("announcer");
    if (!box) return;
    box.textContent = "";
    window.setTimeout(function () { box.textContent = text; }, 50);
  };

  var csrfToken = function () {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  };

  /* -- relative times, the exact time stays in the title (shown on hover) -- */
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  var relative = function (date) {
    var seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 45) return "just now";
    var fmt = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
    for (var i = 0; i < UNITS.length; i++) {
      var n = Math.floor(seconds / UNITS[i][1]);
      if (n >= 1) return fmt ? fmt.format(-n, UNITS[i][0]) : n + " " + UNITS[i][0] + (n > 1 ? "s" : "") + " ago";
    }
    return "just now";
  };
  var refreshTimes = function (root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date.getTime())) el.textContent = relative(date);
    });
  };

  /* -- files: checked in the browser before upload (the server checks again) -- */
  var ALLOWED = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/(plain|csv)|application\/(msword|vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.openxmlformats-officedocument\..+|vnd\.oasis\.opendocument\.(text|spreadsheet)))$/;
  var ALLOWED_EXT = /\.(png|jpe?g|gif|webp|pdf|txt|csv|tsv|docx?|xlsx?|pptx?|odt|ods)$/i;
  var sizeText = function (n) {
    if (n < 1024) return n + " bytes";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  };
  var fileProblems = function (input) {
    var max = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    var maxFiles = parseInt(input.getAttribute("data-max-files") || "10", 10);
    var problems = [];
    var files = Array.prototype.slice.call(input.files || []);
    if (files.length > maxFiles) problems.push("Attach at most " + maxFiles + " files.");
    files.forEach(function (f) {
      if (max && f.size > max) problems.push(f.name + " is larger than the limit of " + sizeText(max) + ".");
      else if (!(ALLOWED.test(f.type) || (!f.type && ALLOWED_EXT.test(f.name)))) problems.push(f.name + ": this type of file is not accepted.");
    });
    return problems;
  };
  var showFieldErrors = function (form, errors) {
    form.querySelectorAll(".field-errors").forEach(function (box) { box.innerHTML = ""; });
    form.querySelectorAll(".has-error").forEach(function (f) { f.classList.remove("has-error"); });
    var top = form.querySelector("[data-form-errors]");
    if (top) { top.hidden = true; top.innerHTML = ""; }
    var first = null;
    Object.keys(errors).forEach(function (name) {
      var field = form.querySelector('[data-field="' + name + '"]');
      var box = field ? field.querySelector(".field-errors") : top;
      if (!box) return;
      if (box === top) top.hidden = false;
      errors[name].forEach(function (text) {
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = text;
        box.appendChild(p);
      });
      if (field) {
        field.classList.add("has-error");
        var control = field.querySelector("input, select, textarea");
        if (control) control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
    });
    if (first) first.focus();
    announcer("The form has errors; please check the marked fields.");
  };
  var listChosen = function (form, input) {
    var list = form.querySelector("[data-chosen-files]");
    if (!list) return;
    list.innerHTML = "";
    var problems = fileProblems(input);
    Array.prototype.forEach.call(input.files || [], function (f) {
      var li = document.createElement("li");
      li.textContent = f.name + " (" + sizeText(f.size) + ")";
      list.appendChild(li);
    });
    problems.forEach(function (text) {
      var li = document.createElement("li");
      li.className = "bad";
      li.textContent = text;
      list.appendChild(li);
    });
  };
  var enhanceUpload = function (form) {
    var input = form.querySelector("input[type=file]");
    if (input) input.addEventListener("change", function () { listChosen(form, input); });
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      event.preventDefault();
      if (input) {
        var problems = fileProblems(input);
        if (problems.length) { showFieldErrors(form, { files: problems }); return; }
      }
      var button = form.querySelector("button[type=submit]");
      var bar = form.querySelector("[data-progress]");
      var progress = bar ? bar.querySelector("progress") : null;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      if (bar && input && input.files && input.files.length) {
        bar.hidden = false;
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable && progress) progress.value = Math.round((100 * e.loaded) / e.total);
        });
      }
      if (button) button.disabled = true;
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (body && body.location) {
          var next = new URL(body.location, window.location.href);
          if (next.pathname === window.location.pathname && next.search === window.location.search) {
            window.location.hash = next.hash;
            window.location.reload();  /* the same page: show it with the new message */
          } else {
            window.location.assign(next.href);
          }
          return;
        }
        if (button) button.disabled = false;
        if (bar) bar.hidden = true;
        showFieldErrors(form, (body && body.errors) || { __all__: ["Something went wrong (" + xhr.status + "). Nothing was sent; please try again."] });
      };
      xhr.onerror = function () {
        if (button) button.disabled = false;
        if (bar) bar.hidden = true;
        showFieldErrors(form, { __all__: ["The connection failed. Nothing was sent; please try again."] });
      };
      xhr.send(new FormData(form));
    });
  };

  /* -- the conversation: new messages without a reload -- */
  var enhanceConversation = function (list) {
    var url = list.getAttribute("data-updates");
    var seconds = Math.max(1, parseInt(list.getAttribute("data-poll") || "15", 10));
    var last = list.lastElementChild;
    if (last && (window.location.hash === "#newest" || list.children.length > 3)) last.scrollIntoView({ block: "nearest" });
    var busy = false;
    var failures = 0;
    var status = document.querySelector("[data-poll-status]");
    var poll = function () {
      if (busy || document.hidden) return;
      busy = true;
      var newest = list.getAttribute("data-newest") || "";
      fetch(url + (newest ? "?after=" + encodeURIComponent(newest) : ""), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          if (data.status_label) document.querySelectorAll("[data-status]").forEach(function (b) { b.textContent = data.status_label; b.className = "badge status-" + data.status; });
          if (!data.count) return;
          var box = document.createElement("ol");
          box.innerHTML = data.html;
          var added = 0;
          Array.prototype.slice.call(box.children).forEach(function (item) {
            if (item.id && document.getElementById(item.id)) return;
            item.classList.add("fresh");
            list.appendChild(item);
            added++;
          });
          list.setAttribute("data-newest", data.newest);
          refreshTimes(list);
          if (added) {
            list.lastElementChild.scrollIntoView({ block: "nearest" });
            announcer(added === 1 ? "1 new message" : added + " new messages");
          }
        })
        .then(function () { failures = 0; if (status) status.textContent = ""; })
        .catch(function () {
          failures++;
          if (status && failures >= 2) status.textContent = "Cannot reach the helpdesk to check for new messages; trying again.";
        })
        .then(function () { busy = false; });
    };
    window.setInterval(poll, seconds * 1000);
  };

  /* -- console: reply or note, canned replies, bulk selection, presence -- */
  var enhanceReplyForm = function (form) {
    var button = form.querySelector("button[type=submit]");
    var sync = function () {
      var note = form.querySelector("input[name=kind][value=note]:checked");
      form.classList.toggle("as-note", !!note);
      if (button) button.textContent = note ? "Add internal note" : "Send reply to customer";
    };
    form.querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
    var insert = form.querySelector("[data-canned-insert]");
    var select = form.querySelector("[data-canned]");
    if (insert && select) {
      insert.addEventListener("click", function () {
        var tpl = form.querySelector('template[data-canned-body="' + select.value + '"]');
        var box = form.querySelector("textarea[name=message_text]");
        if (!tpl || !box) return;
        var text = tpl.content ? tpl.content.textContent : tpl.textContent;
        var at = box.selectionStart || box.value.length;
        box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd || at);
        box.focus();
        box.selectionStart = box.selectionEnd = at + text.length;
        announcer("Canned reply inserted.");
      });
    }
  };
  var enhancePresence = function (box) {
    var url = box.getAttribute("data-presence-url");
    var typedAt = 0;
    var toldTypingAt = 0;
    var textarea = document.querySelector("[data-reply-form] textarea[name=message_text]");
    var shown = box.textContent.trim();
    var beat = function () {
      var typing = Date.now() - typedAt < 6000;
      if (typing) toldTypingAt = Date.now();
      var body = new URLSearchParams();
      body.set("typing", typing ? "1" : "0");
      fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { others: [] }; })
        .then(function (data) {
          var lines = (data.others || []).map(function (o) { return o.name + " is " + (o.typing ? "typing a reply." : "viewing this ticket."); });
          var text = lines.join(" ");
          if (text === shown) return;
          shown = text;
          box.innerHTML = "";
          lines.forEach(function (line) { var p = document.createElement("p"); p.textContent = line; box.appendChild(p); });
        })
        .catch(function () {});
    };
    if (textarea) {
      textarea.addEventListener("input", function () {
        typedAt = Date.now();
        if (Date.now() - toldTypingAt > 4000) beat();  /* say "typing" at once, then with the beats */
      });
    }
    window.setInterval(function () { if (!document.hidden) beat(); }, 5000);
  };

  /* -- a button that cannot be taken back asks first (data-confirm: the question) -- */
  /* On the click, while capturing: before any handler of the form sends it, and in browsers
     that do not name the submitting button. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    refreshTimes(document);
    window.setInterval(function () { refreshTimes(document); }, 60000);
    document.querySelectorAll("form[data-upload-form]").forEach(enhanceUpload);
    document.querySelectorAll("[data-conversation]").forEach(enhanceConversation);
    document.querySelectorAll("form[data-reply-form]").forEach(enhanceReplyForm);
    document.querySelectorAll("[data-presence]").forEach(enhancePresence);
    document.querySelectorAll("[data-select-all]").forEach(function (all) {
      all.addEventListener("change", function () {
        all.closest("table").querySelectorAll("input[name=tickets]").forEach(function (c) { c.checked = all.checked; });
      });
    });
  });
})();
