// Agent console: the queue polls /agent/queue.json every second and redraws; a new handoff
// flashes the title ("(1) New handoff") and beeps (WebAudio). The conversation view polls its
// messages.json for the debtor's new messages and delivery statuses. Text via textContent only.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var status = document.getElementById("live-status");
  var baseTitle = document.title;
  var audio = null;
  var flashTimer = null;

  function getJSON(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (response.redirected || response.status === 401 || response.status === 403) {
        throw new Error("signed-out");
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  // Browsers only let audio start after the user has interacted with the page.
  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume();
  }
  document.addEventListener("click", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  function beep() {
    if (!audio || audio.state !== "running") return;
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  }

  function alertTitle(count) {
    var text = "(" + count + ") New handoff";
    var on = true;
    document.title = text + " - " + baseTitle;
    if (flashTimer) clearInterval(flashTimer);
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? text + " - " + baseTitle : baseTitle;
    }, 1000);
  }

  function stopAlert() {
    if (flashTimer) clearInterval(flashTimer);
    flashTimer = null;
    document.title = baseTitle;
  }

  // ------------------------------------------------------------------ queue page
  function queuePage(root) {
    var url = root.dataset.queueUrl;
    var csrf = root.dataset.csrf;
    var known = null;
    var unseen = 0;

    function row(item, claimable) {
      var li = el("li", "q-item" + (item.urgent ? " q-urgent" : "") + (item.overdue ? " q-overdue" : ""));
      li.dataset.id = item.id;
      var head = el("div", "q-head");
      if (item.urgent) head.appendChild(el("span", "badge badge-urgent", "Urgent"));
      if (item.overdue) head.appendChild(el("span", "badge badge-overdue", "Overdue"));
      head.appendChild(el("span", "q-reason", item.reason_label));
      li.appendChild(head);
      var meta = el("dl", "q-meta");
      var account = (item.account_ref || "not identified") + (item.debtor ? " \u00b7 " + item.debtor : "");
      [["Waiting", item.waited, "q-waited"], ["Channel", item.channel === "sms" ? "SMS" : "Web chat"],
       ["Account", account], ["Since", item.created_at]].forEach(function (pair) {
        var box = el("div");
        box.appendChild(el("dt", null, pair[0]));
        box.appendChild(el("dd", pair[2] || null, pair[1]));
        meta.appendChild(box);
      });
      li.appendChild(meta);
      var actions = el("div", "q-actions");
      if (claimable) {
        var form = el("form");
        form.method = "post";
        form.action = item.claim_url;
        var token = el("input");
        token.type = "hidden";
        token.name = "csrf_token";
        token.value = csrf;
        form.appendChild(token);
        var button = el("button", "button", "Claim");
        button.type = "submit";
        form.appendChild(button);
        actions.appendChild(form);
      }
      var link = el("a", "button button-secondary", claimable ? "View" : "Open");
      link.href = item.url;
      actions.appendChild(link);
      li.appendChild(actions);
      return li;
    }

    function draw(listId, items, claimable) {
      var list = document.getElementById(listId);
      var fresh = document.createDocumentFragment();
      items.forEach(function (item) { fresh.appendChild(row(item, claimable)); });
      // Keep a claim button under the pointer stable: only redraw when something changed.
      var signature = JSON.stringify(items.map(function (i) { return [i.id, i.overdue, i.urgent]; }));
      if (list.dataset.signature !== signature) {
        list.dataset.signature = signature;
        list.replaceChildren(fresh);
        document.getElementById(listId + "-count").textContent = items.length;
        document.getElementById(listId + "-empty").hidden = items.length > 0;
        return;
      }
      items.forEach(function (item) {  // only the waiting time changed: update it in place
        var cell = list.querySelector('[data-id="' + item.id + '"] .q-waited');
        if (cell && cell.textContent !== item.waited) cell.textContent = item.waited;
      });
    }

    function tick() {
      getJSON(url).then(function (data) {
        var ids = data.waiting.map(function (i) { return i.id; });
        if (known !== null) {
          var added = ids.filter(function (id) { return known.indexOf(id) < 0; });
          if (added.length) {
            unseen += added.length;
            alertTitle(unseen);
            beep();
            say(added.length === 1 ? "New handoff waiting." : added.length + " new handoffs waiting.");
          }
        }
        known = ids;
        draw("waiting", data.waiting, true);
        draw("mine", data.mine, false);
      }).catch(function (error) {
        if (error.message === "signed-out") { window.location.reload(); return; }
        say("Connection problem; retrying.");
      }).then(function () { setTimeout(tick, POLL_MS); });
    }

    function seen() {
      if (document.visibilityState === "visible") { unseen = 0; stopAlert(); }
    }
    document.addEventListener("click", function () { unseen = 0; stopAlert(); });
    document.addEventListener("keydown", function () { unseen = 0; stopAlert(); });
    window.addEventListener("focus", seen);
    tick();
  }

  // ------------------------------------------------------------------ conversation page
  function conversationPage(root) {
    var url = root.dataset.messagesUrl;
    var lastId = parseInt(root.dataset.lastId, 10) || 0;
    var handoffStatus = root.dataset.handoffStatus;
    var list = document.getElementById("transcript");
    var select = document.getElementById("template");
    var reply = document.getElementById("reply-text");

    if (select && reply) {
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        var text = option && option.dataset.text;
        if (!text) return;
        var start = reply.selectionStart || 0;
        var end = reply.selectionEnd || 0;
        var before = reply.value.slice(0, start);
        var after = reply.value.slice(end);
        var gap = before && !/\s$/.test(before) ? " " : "";
        reply.value = before + gap + text + after;
        select.selectedIndex = 0;
        reply.focus();
        var caret = (before + gap + text).length;
        reply.setSelectionRange(caret, caret);
      });
    }

    function append(m) {
      if (list.querySelector('[data-id="' + m.id + '"]')) return;
      var li = el("li", "t-msg t-" + m.sender);
      li.dataset.id = m.id;
      var head = el("div", "t-head");
      head.appendChild(el("span", "t-who", m.sender_label));
      head.appendChild(el("time", null, m.at));
      if (m.status) {
        var s = el("span", "t-status", m.status);
        s.dataset.statusFor = m.id;
        head.appendChild(s);
      }
      li.appendChild(head);
      li.appendChild(el("p", "t-text", m.text));
      var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.appendChild(li);
      if (atBottom) list.scrollTop = list.scrollHeight;
    }

    function tick() {
      getJSON(url + "?after=" + lastId).then(function (data) {
        var fromDebtor = 0;
        data.messages.forEach(function (m) {
          append(m);
          if (m.id > lastId) lastId = m.id;
          if (m.direction === "in") fromDebtor += 1;
        });
        Object.keys(data.statuses || {}).forEach(function (id) {
          var node = list.querySelector('[data-status-for="' + id + '"]');
          if (node && node.textContent !== data.statuses[id]) node.textContent = data.statuses[id];
        });
        if (fromDebtor && document.visibilityState !== "visible") alertTitle(fromDebtor);
        if (fromDebtor) say("New message from the debtor.");
        if (data.handoff_status !== handoffStatus) {
          handoffStatus = data.handoff_status;
          var label = document.getElementById("handoff-status");
          if (label) label.textContent = handoffStatus;
          say("This handoff is now " + handoffStatus + ". Reload for the latest actions.");
        }
      }).catch(function (error) {
        if (error.message === "signed-out") { window.location.reload(); return; }
        say("Connection problem; retrying.");
      }).then(function () { setTimeout(tick, POLL_MS); });
    }
    window.addEventListener("focus", stopAlert);
    list.scrollTop = list.scrollHeight;
    setTimeout(tick, POLL_MS);
  }

  var queueRoot = document.getElementById("queue-page");
  if (queueRoot) queuePage(queueRoot);
  var conversationRoot = document.getElementById("conversation-page");
  if (conversationRoot) conversationPage(conversationRoot);
})();
