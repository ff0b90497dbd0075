// Web chat: send through the JSON API, poll every second for new messages (agent replies,
// late bot replies), redraw the history after a reload. No framework; text via textContent.
(function () {
  "use strict";
  var API = "/chat/api/messages";
  var POLL_MS = 1000;
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var button = document.getElementById("send");
  var typing = document.getElementById("typing");
  var status = document.getElementById("status");
  var handled = document.getElementById("handled");
  var brandSub = document.querySelector(".brand-sub");
  var lastId = 0;
  var seen = {};
  var queue = [];
  var sending = false;
  var polling = false;
  var LABELS = { bot: "Assistant", agent: "Agent", system: "Notice", debtor: "You" };

  function request(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || "Something went wrong. Please try again.");
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
  }

  function bubble(kind, who, text) {
    var item = document.createElement("li");
    item.className = "msg msg-" + kind;
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    var body = document.createElement("p");
    body.textContent = text;
    item.appendChild(label);
    item.appendChild(body);
    log.appendChild(item);
    return item;
  }

  function render(message, pending) {
    if (seen[message.id]) return;
    seen[message.id] = true;
    if (message.id > lastId) lastId = message.id;
    if (message.direction === "in" && pending) {
      pending.classList.remove("msg-pending");
      pending.dataset.id = message.id;
      return;
    }
    var mine = message.direction === "in";
    var kind = mine ? "me" : (message.sender === "agent" ? "agent" : message.sender === "system" ? "system" : "bot");
    var item = bubble(kind, mine ? "You" : (LABELS[message.sender] || "Assistant"), message.text);
    item.dataset.id = message.id;
  }

  function show(messages, pending) {
    var stick = nearBottom();
    var added = false;
    (messages || []).forEach(function (message) {
      if (!seen[message.id]) added = true;
      render(message, pending);
    });
    if (added || pending || stick) scrollDown();
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // Who answers next ("assistant", "waiting" for a person, "agent"): while a person has the
  // conversation the assistant is silent, so the page says who the debtor is waiting for.
  function setHandled(state) {
    if (!state) return;
    var text = state === "assistant" ? "" : handled.dataset[state] || "";
    handled.textContent = text;
    handled.hidden = !text;
    if (brandSub) brandSub.textContent = handled.dataset[state + "Sub"] || brandSub.textContent;
  }

  function poll() {
    if (polling || sending || document.hidden) return;
    polling = true;
    request("GET", API + "?after=" + lastId)
      .then(function (data) { show(data.messages); setHandled(data.handled_by); })
      .catch(function () { /* a missed poll is retried in a second */ })
      .then(function () { polling = false; });
  }

  function next() {
    if (sending || !queue.length) return;
    var job = queue.shift();
    sending = true;
    button.setAttribute("aria-disabled", "true");
    typing.hidden = false;
    scrollDown();
    request("POST", API, { text: job.text })
      .then(function (data) {
        setStatus("");
        show(data.messages, job.pending);
        setHandled(data.handled_by);
      })
      .catch(function (error) {
        job.pending.classList.remove("msg-pending");
        job.pending.classList.add("msg-failed");
        job.pending.querySelector(".who").textContent = "You · not sent";
        setStatus(error.message || "Your message was not sent. Please try again.");
        if (!input.value) input.value = job.text;
      })
      .then(function () {
        sending = false;
        typing.hidden = queue.length === 0;
        button.removeAttribute("aria-disabled");
        next();
      });
  }

  function submit() {
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    var pending = bubble("me", "You", text);
    pending.classList.add("msg-pending");
    queue.push({ text: text, pending: pending });
    input.value = "";
    resize();
    input.focus();
    scrollDown();
    next();
  }

  function resize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 4, 160) + "px";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", resize);
  document.addEventListener("visibilitychange", poll);

  poll();
  setInterval(poll, POLL_MS);
  input.focus();
})();
